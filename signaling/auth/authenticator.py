"""Turns a credential (session cookie, bearer JWT, device token) into a ``Principal``."""

import hmac
from http.cookies import SimpleCookie
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.accounts import get_account
from meetings.actor import Actor, ActorKind
from meetings.clock import as_utc
from meetings.endpoints import authenticate_device
from meetings.errors import NotFound
from meetings.models import Account, Endpoint, Role
from signaling.auth.principal import Principal
from signaling.auth.sessions import CSRF_HEADER, SESSION_COOKIE, find_session
from signaling.auth.tokens import TokenIssuer
from signaling.errors import ApiError


def account_actor(account: Account) -> Actor:
    """The domain's view of an account."""
    return Actor(
        ActorKind.ACCOUNT, account.id or 0, account.unit_id, account.full_name, Role(account.role)
    )


def endpoint_actor(endpoint: Endpoint) -> Actor:
    """The domain's view of an endpoint device."""
    return Actor(ActorKind.ENDPOINT, endpoint.id or 0, endpoint.unit_id, endpoint.name)


def endpoint_credential_version(endpoint: Endpoint) -> float:
    """Changes whenever the device token is reissued, ending JWTs minted from the old one."""
    return as_utc(endpoint.token_issued_at).timestamp() if endpoint.token_issued_at else 0.0


class Authenticator:
    """Checks credentials against the database; cheap enough to run on every request."""

    def __init__(self, tokens: TokenIssuer) -> None:
        self.tokens = tokens

    async def from_request(self, session: AsyncSession, request: web.Request) -> Principal | None:
        """Bearer header first, then the session cookie."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, credential = header.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                return None
            return await self.from_bearer(session, credential.strip())
        cookie = request.cookies.get(SESSION_COOKIE)
        return await self.from_cookie(session, cookie) if cookie else None

    async def from_socket(
        self, session: AsyncSession, environ: dict[str, Any], auth: Any
    ) -> Principal | None:
        """socket.io ``auth`` payload ``{"token": ...}``, Authorization header, or cookie."""
        if isinstance(auth, dict) and isinstance(auth.get("token"), str):
            return await self.from_bearer(session, auth["token"])
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        if header.lower().startswith("bearer "):
            return await self.from_bearer(session, header[7:].strip())
        cookies = SimpleCookie()
        try:
            cookies.load(str(environ.get("HTTP_COOKIE", "")))
        except Exception:  # a malformed Cookie header authenticates nobody
            return None
        morsel = cookies.get(SESSION_COOKIE)
        return await self.from_cookie(session, morsel.value) if morsel else None

    async def from_bearer(self, session: AsyncSession, credential: str) -> Principal | None:
        """A device token (``phd_…``) or a JWT we issued."""
        endpoint = await authenticate_device(session, credential)
        if endpoint is not None:
            return Principal(endpoint_actor(endpoint))
        claims = self.tokens.verify(credential)
        if claims is None:
            return None
        try:
            if claims.kind is ActorKind.ACCOUNT:
                account = await get_account(session, claims.id)
                if (
                    not account.active
                    or claims.issued_at < as_utc(account.password_changed_at).timestamp()
                ):
                    return None
                return Principal(account_actor(account))
            endpoint = await session.get(Endpoint, claims.id)
        except NotFound:
            return None
        if (
            endpoint is None
            or endpoint.token_hash is None
            or endpoint_credential_version(endpoint) != claims.credential_version
        ):
            return None
        return Principal(endpoint_actor(endpoint))

    async def from_cookie(self, session: AsyncSession, token: str) -> Principal | None:
        """A browser session cookie."""
        row = await find_session(session, token)
        if row is None:
            return None
        account = await session.get(Account, row.account_id)
        if account is None or not account.active:
            return None
        return Principal(
            account_actor(account), via_cookie=True, csrf_token=row.csrf_token, session_id=row.id
        )

    @staticmethod
    def check_csrf(request: web.Request, principal: Principal) -> None:
        """Cookie-authenticated state changes must echo the session's CSRF token."""
        sent = request.headers.get(CSRF_HEADER, "")
        if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
            raise ApiError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
