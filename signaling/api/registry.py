"""Route registry: one declaration per route gives the aiohttp handler, its permission,
its request/response models and its OpenAPI entry.

Hand-written because no maintained aiohttp library ties pydantic v2 models, our permission
table and OpenAPI together; keeping them in one declaration is what stops the document,
the checks and the code from drifting apart.
"""

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from structlog.contextvars import bind_contextvars

from meetings import access
from meetings.errors import DomainError, Unauthenticated
from meetings.models import Meeting
from meetings.permissions import PERMISSIONS, Action
from signaling.auth.principal import Principal
from signaling.errors import ApiError, validation_details
from signaling.state import APP_STATE

Handler = Callable[["RequestContext"], Awaitable[Any]]
_PARAM = re.compile(r"{(\w+)}")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_ID = 2**31 - 1  # ids are INTEGER columns on every backend


@dataclass
class RequestContext:
    """What a handler gets: the request, who is asking, validated input, a DB session."""

    request: web.Request
    state: Any  # signaling.app.AppState (typed loosely to avoid an import cycle)
    principal: Principal | None
    session: Any  # sqlmodel AsyncSession, inside one transaction
    body: Any = None
    query: Any = None
    params: dict[str, int] = field(default_factory=dict)
    meeting: Meeting | None = None
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    cookies: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)

    @property
    def actor(self):  # -> meetings.actor.Actor
        """The acting principal; handlers of protected routes always have one."""
        if self.principal is None:
            raise Unauthenticated("login required")
        return self.principal.actor


@dataclass
class RouteSpec:
    """One REST route."""

    method: str
    path: str
    handler: Handler
    action: Action | None
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    tags: tuple[str, ...] = ()

    @property
    def path_params(self) -> list[str]:
        """Names of the integer path parameters."""
        return _PARAM.findall(self.path)


class Api:
    """Collects route declarations and installs them on an aiohttp app."""

    def __init__(self, prefix: str = "/api/v1") -> None:
        self.prefix = prefix
        self.routes: list[RouteSpec] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        action: Action | None,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        tags: tuple[str, ...] = (),
    ) -> Callable[[Handler], Handler]:
        """Declare a route; ``action=None`` marks a public route."""

        def register(handler: Handler) -> Handler:
            self.routes.append(
                RouteSpec(
                    method, path, handler, action, summary, body, query, response, status, tags
                )
            )
            return handler

        return register

    def install(self, app: web.Application) -> None:
        """Add every declared route to ``app``'s router."""
        for spec in self.routes:
            aio_path = _PARAM.sub(lambda m: "{" + m.group(1) + r":\d+}", self.prefix + spec.path)
            app.router.add_route(spec.method, aio_path, _make_handler(spec))


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()  # bounded by the app's client_max_size
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc}") from exc


def _validate(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            422, "validation_error", f"invalid {where}", errors=validation_details(exc.errors())
        ) from exc


def _make_handler(spec: RouteSpec) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    adapter = TypeAdapter(spec.response) if spec.response is not None else None
    meeting_scoped = spec.action is not None and PERMISSIONS[spec.action].meeting_scoped

    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[APP_STATE]
        params = {name: int(request.match_info[name]) for name in spec.path_params}
        async with state.transaction() as session:
            # Who is asking and may they, before looking at what they sent.
            principal = await state.authenticator.from_request(session, request)
            # Unbound by the error middleware at the start of the next request.
            bind_contextvars(
                actor=principal.actor.key if principal else None,
                meeting_id=params.get("meeting_id"),
            )
            if spec.action is not None:
                if principal is None:
                    raise Unauthenticated("login required")
                if principal.via_cookie and spec.method in UNSAFE_METHODS:
                    state.authenticator.check_csrf(request, principal)
            meeting = None
            if spec.action is not None and principal is not None:
                if params.get("meeting_id", 0) > MAX_ID:
                    raise ApiError(404, "not_found", "meeting not found")
                meeting = await access.check(
                    session, principal.actor, spec.action, params.get("meeting_id")
                )
            if any(value > MAX_ID for value in params.values()):
                # Ids are 32-bit in the schema: a larger one names nothing and must not reach SQL.
                raise ApiError(404, "not_found", "not found")
            query = _validate(spec.query, dict(request.query), "query") if spec.query else None
            body = _validate(spec.body, await _read_json(request), "body") if spec.body else None
            ctx = RequestContext(request, state, principal, session, body, query, params)
            ctx.meeting = meeting if meeting_scoped else None
            result = await spec.handler(ctx)
        # Committed: now it is safe to tell the world.
        for hook in ctx.after_commit:
            await hook()
        if isinstance(result, web.StreamResponse):
            return result
        if spec.status == 204 or result is None:
            response: web.StreamResponse = web.Response(status=204)
        else:
            payload = (
                adapter.dump_python(
                    adapter.validate_python(result, from_attributes=True), mode="json"
                )
                if adapter
                else result
            )
            response = web.json_response(payload, status=spec.status)
        for name, value, options in ctx.cookies:
            if value is None:
                response.del_cookie(name, path=options.get("path", "/"))
            else:
                response.set_cookie(name, value, **options)
        return response

    handle.__name__ = spec.handler.__name__
    return handle


__all__ = ["Api", "ApiError", "DomainError", "RequestContext", "RouteSpec"]
