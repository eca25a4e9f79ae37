"""ORM rows → response models where a field is derived rather than stored."""

from meetings.models import Endpoint
from signaling.api.schemas import EndpointOut


def endpoint_out(endpoint: Endpoint) -> EndpointOut:
    """An endpoint is active while it has an unrevoked device token."""
    return EndpointOut(
        id=endpoint.id or 0,
        name=endpoint.name,
        unit_id=endpoint.unit_id,
        active=endpoint.token_hash is not None,
        token_issued_at=endpoint.token_issued_at,
    )


def device_login_path(token: str) -> str:
    """The link an endpoint opens to log in with its token (kept out of server logs: a fragment)."""
    return f"/device#token={token}"
