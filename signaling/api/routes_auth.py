"""Login, logout, device login, token refresh and the caller's own account."""

from typing import Any

from meetings import accounts
from meetings.actor import ActorKind
from meetings.endpoints import get_endpoint
from meetings.errors import RateLimited, Unauthenticated
from meetings.permissions import Action
from signaling.api.registry import RequestContext
from signaling.api.schemas import (
    AccountOut,
    DeviceLoginIn,
    LoginIn,
    LoginResponse,
    MeResponse,
    PasswordChangeIn,
    TokenResponse,
)
from signaling.api.table import API
from signaling.auth.authenticator import endpoint_credential_version
from signaling.auth.sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    close_session,
    close_sessions_of,
    open_session,
)
from signaling.logs import get_logger

log = get_logger("phonghop.auth")


def _cookie_options(ctx: RequestContext, http_only: bool) -> dict[str, Any]:
    settings = ctx.state.settings
    return {
        "httponly": http_only,
        "samesite": "Lax",
        "secure": settings.cookie_secure,
        "max_age": settings.session_ttl_seconds,
        "path": "/",
    }


@API.route(
    "POST",
    "/auth/login",
    action=None,
    body=LoginIn,
    response=LoginResponse,
    summary="Log in with username and password",
    tags=("auth",),
)
async def login(ctx: RequestContext) -> LoginResponse:
    """Sets the session and CSRF cookies and also returns a bearer token."""
    body: LoginIn = ctx.body
    address = ctx.state.client_address(ctx.request)
    limiter = ctx.state.login_limiter
    if await limiter.blocked(body.username, address):
        log.warning("login.rate_limited", username=body.username, address=address)
        raise RateLimited("too many login attempts; try again later")
    account = await accounts.authenticate(ctx.session, body.username, body.password)
    await limiter.record(body.username, address, success=account is not None)
    if account is None:
        log.warning("login.failed", username=body.username, address=address)
        raise Unauthenticated("wrong username or password")
    token, row = await open_session(
        ctx.session,
        account.id or 0,
        ctx.state.settings.session_ttl_seconds,
        address,
        ctx.request.headers.get("User-Agent", ""),
    )
    ctx.cookies.append((SESSION_COOKIE, token, _cookie_options(ctx, http_only=True)))
    # Readable by the page's script, which echoes it in X-CSRF-Token (double submit).
    ctx.cookies.append((CSRF_COOKIE, row.csrf_token, _cookie_options(ctx, http_only=False)))
    log.info("login.ok", account=account.id, address=address)
    issuer = ctx.state.tokens
    return LoginResponse(
        account=AccountOut.model_validate(account),
        access_token=issuer.issue(ActorKind.ACCOUNT, account.id or 0),
        expires_in=issuer.ttl_seconds,
        csrf_token=row.csrf_token,
    )


@API.route(
    "POST",
    "/auth/device",
    action=None,
    body=DeviceLoginIn,
    response=TokenResponse,
    summary="Exchange a device token for a short-lived bearer token",
    tags=("auth",),
)
async def device_login(ctx: RequestContext) -> TokenResponse:
    """Endpoints may also present the device token itself as a bearer credential."""
    address = ctx.state.client_address(ctx.request)
    limiter = ctx.state.login_limiter
    if await limiter.address_blocked(address):
        raise RateLimited("too many login attempts; try again later")
    principal = await ctx.state.authenticator.from_bearer(ctx.session, ctx.body.token)
    if principal is None or principal.actor.kind is not ActorKind.ENDPOINT:
        await limiter.record_address_failure(address)
        log.warning("device_login.failed", address=address)
        raise Unauthenticated("unknown or revoked device token")

    endpoint = await get_endpoint(ctx.session, principal.actor.id)
    issuer = ctx.state.tokens
    return TokenResponse(
        access_token=issuer.issue(
            ActorKind.ENDPOINT, principal.actor.id, endpoint_credential_version(endpoint)
        ),
        expires_in=issuer.ttl_seconds,
    )


@API.route(
    "POST",
    "/auth/refresh",
    action=Action.SELF_VIEW,
    response=TokenResponse,
    summary="A fresh bearer token for the current principal",
    tags=("auth",),
)
async def refresh(ctx: RequestContext) -> TokenResponse:
    """Lets a long-running client keep a short-lived token."""
    actor = ctx.actor
    version = 0.0
    if actor.kind is ActorKind.ENDPOINT:
        version = endpoint_credential_version(await get_endpoint(ctx.session, actor.id))
    issuer = ctx.state.tokens
    return TokenResponse(
        access_token=issuer.issue(actor.kind, actor.id, version), expires_in=issuer.ttl_seconds
    )


@API.route(
    "POST",
    "/auth/logout",
    action=Action.SELF_VIEW,
    status=204,
    summary="End the browser session",
    tags=("auth",),
)
async def logout(ctx: RequestContext) -> None:
    """Deletes the session row and the cookies."""
    principal = ctx.principal
    if principal is not None and principal.session_id is not None:
        await close_session(ctx.session, principal.session_id)
    ctx.cookies.append((SESSION_COOKIE, None, {"path": "/"}))
    ctx.cookies.append((CSRF_COOKIE, None, {"path": "/"}))


@API.route(
    "GET",
    "/auth/me",
    action=Action.SELF_VIEW,
    response=MeResponse,
    summary="Who am I",
    tags=("auth",),
)
async def me(ctx: RequestContext) -> MeResponse:
    """The principal; includes the CSRF token for cookie sessions."""
    actor = ctx.actor
    username = None
    if actor.kind is ActorKind.ACCOUNT:
        username = (await accounts.get_account(ctx.session, actor.id)).username
    return MeResponse(
        kind=actor.kind.value,
        id=actor.id,
        name=actor.name,
        unit_id=actor.unit_id,
        role=actor.role,
        csrf_token=ctx.principal.csrf_token if ctx.principal else None,
        username=username,
    )


@API.route(
    "POST",
    "/auth/password",
    action=Action.SELF_CHANGE_PASSWORD,
    body=PasswordChangeIn,
    status=204,
    summary="Change one's own password",
    tags=("auth",),
)
async def change_password(ctx: RequestContext) -> None:
    """Checks the current password; ends the other sessions."""
    account = await accounts.get_account(ctx.session, ctx.actor.id)
    if (
        await accounts.authenticate(ctx.session, account.username, ctx.body.current_password)
        is None
    ):
        raise Unauthenticated("current password is wrong")
    await accounts.set_password(ctx.session, ctx.actor, account.id or 0, ctx.body.new_password)
    await close_sessions_of(ctx.session, account.id or 0)
    account_key = f"account:{account.id}"  # and its live socket.io connections
    ctx.after_commit.append(lambda: ctx.state.signaling.disconnect_principal(account_key))
    ctx.cookies.append((SESSION_COOKIE, None, {"path": "/"}))
