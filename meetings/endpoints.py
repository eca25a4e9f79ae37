"""Commune meeting-room devices and their device tokens."""

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit
from meetings.actor import Actor
from meetings.clock import utcnow
from meetings.credentials import DEVICE_TOKEN_PREFIX, hash_token, new_device_token
from meetings.errors import InvalidInput, NotFound
from meetings.models import Endpoint, Unit


async def get_endpoint(session: AsyncSession, endpoint_id: int) -> Endpoint:
    """Load an endpoint or raise ``NotFound``."""
    endpoint = await session.get(Endpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("endpoint not found", endpoint_id=endpoint_id)
    return endpoint


async def list_endpoints(session: AsyncSession, unit_id: int | None = None) -> list[Endpoint]:
    """Endpoints ordered by id, optionally of one unit."""
    query = select(Endpoint).order_by(Endpoint.id)
    if unit_id is not None:
        query = query.where(Endpoint.unit_id == unit_id)
    return list((await session.exec(query)).all())


def snapshot(endpoint: Endpoint) -> dict[str, object]:
    """What the audit log records of an endpoint: never its token or the token's hash."""
    return endpoint.model_dump(
        mode="json", include={"id", "name", "unit_id", "token_issued_at", "revoked_at"}
    )


async def create_endpoint(
    session: AsyncSession, actor: Actor | None, name: str, unit_id: int
) -> tuple[Endpoint, str]:
    """Create an endpoint and its first device token; the token is returned only here."""
    if await session.get(Unit, unit_id) is None:
        raise InvalidInput("unit does not exist", unit_id=unit_id)
    token, digest = new_device_token()
    endpoint = Endpoint(
        name=name.strip(), unit_id=unit_id, token_hash=digest, token_issued_at=utcnow()
    )
    session.add(endpoint)
    await session.flush()
    await audit.append(
        session, actor, "endpoint.created", "endpoint", endpoint.id, after=snapshot(endpoint)
    )
    return endpoint, token


async def issue_token(
    session: AsyncSession, actor: Actor | None, endpoint_id: int
) -> tuple[Endpoint, str]:
    """Replace the device token (the old one stops working at once)."""
    endpoint = await get_endpoint(session, endpoint_id)
    before = snapshot(endpoint)
    token, digest = new_device_token()
    endpoint.token_hash = digest
    endpoint.token_issued_at = utcnow()
    endpoint.revoked_at = None
    session.add(endpoint)
    await session.flush()
    await audit.append(
        session,
        actor,
        "endpoint.token_issued",
        "endpoint",
        endpoint.id,
        before=before,
        after=snapshot(endpoint),
    )
    return endpoint, token


async def revoke_token(session: AsyncSession, actor: Actor | None, endpoint_id: int) -> Endpoint:
    """Revoke the device token; the endpoint cannot connect until a new one is issued."""
    endpoint = await get_endpoint(session, endpoint_id)
    before = snapshot(endpoint)
    endpoint.token_hash = None
    endpoint.revoked_at = utcnow()
    session.add(endpoint)
    await session.flush()
    await audit.append(
        session,
        actor,
        "endpoint.token_revoked",
        "endpoint",
        endpoint.id,
        before=before,
        after=snapshot(endpoint),
    )
    return endpoint


async def authenticate_device(session: AsyncSession, token: str) -> Endpoint | None:
    """The endpoint owning this device token, or None (one indexed lookup)."""
    if not token.startswith(DEVICE_TOKEN_PREFIX):
        return None
    row = await session.exec(select(Endpoint).where(Endpoint.token_hash == hash_token(token)))
    return row.first()
