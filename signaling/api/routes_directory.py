"""Units, accounts and endpoint devices (the installation's directory)."""

from meetings import accounts, endpoints, units
from meetings.credentials import generate_password
from meetings.permissions import Action
from signaling.api.convert import device_login_path, endpoint_out
from signaling.api.registry import RequestContext
from signaling.api.schemas import (
    AccountIn,
    AccountOut,
    AccountPatch,
    EndpointIn,
    EndpointOut,
    EndpointWithToken,
    PasswordResetIn,
    PasswordResetOut,
    UnitFilter,
    UnitIn,
    UnitOut,
)
from signaling.api.table import API
from signaling.auth.sessions import close_sessions_of
from signaling.logs import get_logger

log = get_logger("phonghop.directory")


@API.route(
    "GET",
    "/units",
    action=Action.UNIT_LIST,
    response=list[UnitOut],
    summary="All administrative units",
    tags=("units",),
)
async def list_units(ctx: RequestContext) -> list:
    """Province, districts and communes as a flat list with parent ids."""
    return await units.list_units(ctx.session)


@API.route(
    "POST",
    "/units",
    action=Action.UNIT_CREATE,
    body=UnitIn,
    response=UnitOut,
    status=201,
    summary="Create a unit",
    tags=("units",),
)
async def create_unit(ctx: RequestContext) -> object:
    """A province, a district under a province, or a commune under either."""
    b: UnitIn = ctx.body
    unit = await units.create_unit(ctx.session, ctx.actor, b.name, b.kind, b.parent_id, b.code)
    log.info("unit.created", unit=unit.id, actor=ctx.actor.key)
    return unit


@API.route(
    "GET",
    "/units/{unit_id}",
    action=Action.UNIT_LIST,
    response=UnitOut,
    summary="One unit",
    tags=("units",),
)
async def get_unit(ctx: RequestContext) -> object:
    """A unit by id."""
    return await units.get_unit(ctx.session, ctx.params["unit_id"])


@API.route(
    "GET",
    "/accounts",
    action=Action.ACCOUNT_LIST,
    query=UnitFilter,
    response=list[AccountOut],
    summary="Accounts",
    tags=("accounts",),
)
async def list_accounts(ctx: RequestContext) -> list:
    """All accounts, or those of one unit."""
    return await accounts.list_accounts(ctx.session, ctx.query.unit_id)


@API.route(
    "POST",
    "/accounts",
    action=Action.ACCOUNT_CREATE,
    body=AccountIn,
    response=AccountOut,
    status=201,
    summary="Create an account",
    tags=("accounts",),
)
async def create_account(ctx: RequestContext) -> object:
    """Passwords need at least 10 characters; the e-mail address (for invitations) is optional."""
    b: AccountIn = ctx.body
    account = await accounts.create_account(
        ctx.session, ctx.actor, b.username, b.full_name, b.unit_id, b.role, b.password, b.email
    )
    log.info("account.created", account=account.id, role=account.role, actor=ctx.actor.key)
    return account


@API.route(
    "PATCH",
    "/accounts/{account_id}",
    action=Action.ACCOUNT_UPDATE,
    body=AccountPatch,
    response=AccountOut,
    summary="Change an account",
    tags=("accounts",),
)
async def update_account(ctx: RequestContext) -> object:
    """Name, unit, role, e-mail or active flag; disabling ends the account's sessions.

    ``"email": null`` removes the address; leaving ``email`` out keeps it.
    """
    b: AccountPatch = ctx.body
    account = await accounts.update_account(
        ctx.session,
        ctx.actor,
        ctx.params["account_id"],
        full_name=b.full_name,
        unit_id=b.unit_id,
        role=b.role,
        active=b.active,
        email=b.email if "email" in b.model_fields_set else accounts.KEEP,
    )
    if b.active is False:
        await close_sessions_of(ctx.session, account.id or 0)
        account_key = f"account:{account.id}"  # and its live socket.io connections
        ctx.after_commit.append(lambda: ctx.state.signaling.disconnect_principal(account_key))
    log.info(
        "account.updated",
        account=account.id,
        actor=ctx.actor.key,
        changes=sorted(b.model_fields_set),
    )
    return account


@API.route(
    "POST",
    "/accounts/{account_id}/password",
    action=Action.ACCOUNT_RESET_PASSWORD,
    body=PasswordResetIn,
    response=PasswordResetOut,
    summary="Reset an account's password",
    tags=("accounts",),
)
async def reset_password(ctx: RequestContext) -> PasswordResetOut:
    """Sets the given password or generates one; ends the account's sessions."""
    password = ctx.body.new_password or generate_password()
    account = await accounts.set_password(
        ctx.session, ctx.actor, ctx.params["account_id"], password
    )
    await close_sessions_of(ctx.session, account.id or 0)
    account_key = f"account:{account.id}"  # and its live socket.io connections
    ctx.after_commit.append(lambda: ctx.state.signaling.disconnect_principal(account_key))
    log.info("account.password_reset", account=account.id, actor=ctx.actor.key)
    return PasswordResetOut(password=password)


@API.route(
    "GET",
    "/endpoints",
    action=Action.ENDPOINT_LIST,
    query=UnitFilter,
    response=list[EndpointOut],
    summary="Endpoint devices",
    tags=("endpoints",),
)
async def list_endpoints(ctx: RequestContext) -> list[EndpointOut]:
    """All endpoints, or those of one unit."""
    return [endpoint_out(e) for e in await endpoints.list_endpoints(ctx.session, ctx.query.unit_id)]


@API.route(
    "POST",
    "/endpoints",
    action=Action.ENDPOINT_CREATE,
    body=EndpointIn,
    response=EndpointWithToken,
    status=201,
    summary="Create an endpoint device",
    tags=("endpoints",),
)
async def create_endpoint(ctx: RequestContext) -> EndpointWithToken:
    """The device token is in this response only."""
    endpoint, token = await endpoints.create_endpoint(
        ctx.session, ctx.actor, ctx.body.name, ctx.body.unit_id
    )
    log.info("endpoint.created", endpoint=endpoint.id, unit=endpoint.unit_id, actor=ctx.actor.key)
    return EndpointWithToken(
        endpoint=endpoint_out(endpoint), token=token, login_path=device_login_path(token)
    )


@API.route(
    "POST",
    "/endpoints/{endpoint_id}/token",
    action=Action.ENDPOINT_ISSUE_TOKEN,
    response=EndpointWithToken,
    summary="Issue a new device token",
    tags=("endpoints",),
)
async def issue_endpoint_token(ctx: RequestContext) -> EndpointWithToken:
    """Replaces the old token, which stops working at once."""
    endpoint, token = await endpoints.issue_token(ctx.session, ctx.actor, ctx.params["endpoint_id"])
    log.info("endpoint.token_issued", endpoint=endpoint.id, actor=ctx.actor.key)
    return EndpointWithToken(
        endpoint=endpoint_out(endpoint), token=token, login_path=device_login_path(token)
    )


@API.route(
    "DELETE",
    "/endpoints/{endpoint_id}/token",
    action=Action.ENDPOINT_REVOKE_TOKEN,
    response=EndpointOut,
    summary="Revoke the device token",
    tags=("endpoints",),
)
async def revoke_endpoint_token(ctx: RequestContext) -> EndpointOut:
    """The device is disconnected and cannot reconnect until a new token is issued."""
    endpoint = await endpoints.revoke_token(ctx.session, ctx.actor, ctx.params["endpoint_id"])
    endpoint_key = f"endpoint:{endpoint.id}"
    ctx.after_commit.append(lambda: ctx.state.signaling.disconnect_principal(endpoint_key))
    log.info("endpoint.token_revoked", endpoint=endpoint.id, actor=ctx.actor.key)
    return endpoint_out(endpoint)
