"""Route registry: one declaration per route gives the aiohttp handler, its permission,
its request/response models and its OpenAPI entry.

Hand-written because no maintained aiohttp library ties pydantic v2 models, our permission
table and OpenAPI together; keeping them in one declaration is what stops the document,
the checks and the code from drifting apart.
"""

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from structlog.contextvars import bind_contextvars

from meetings import access
from meetings.errors import DomainError, Unauthenticated
from meetings.models import Meeting
from meetings.permissions import PERMISSIONS, Action
from signaling.api.content import Form, Produces
from signaling.auth.principal import Principal
from signaling.errors import ApiError, validation_details
from signaling.state import APP_STATE

Handler = Callable[["RequestContext"], Awaitable[Any]]
# Who is asking and whether they may, checked inside the given session's transaction.
Authorize = Callable[[Any], Awaitable[tuple[Principal | None, Meeting | None]]]
_PARAM = re.compile(r"{(\w+)}")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_ID = 2**31 - 1  # ids are INTEGER columns on every backend


@dataclass
class RequestContext:
    """What a handler gets: the request, who is asking, validated input, a DB session.

    For ``streams_body`` routes the handler runs outside any transaction (``session`` is None)
    and opens one with ``transaction()`` once the body is in.
    """

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
    reauthorize: Authorize | None = None  # set for ``streams_body`` routes only

    @property
    def actor(self):  # -> meetings.actor.Actor
        """The acting principal; handlers of protected routes always have one."""
        if self.principal is None:
            raise Unauthenticated("login required")
        return self.principal.actor

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A transaction of a ``streams_body`` route (commit on success, rollback on error).

        Authentication, CSRF and the access check run again inside it: while the body streamed
        in, the session may have ended, the meeting gone or the actor lost the right to act.
        ``principal``, ``meeting`` and ``session`` are the fresh ones until it closes.
        """
        if self.reauthorize is None or self.session is not None:
            raise RuntimeError("transaction() is for streams_body routes, one at a time")
        async with self.state.transaction() as session:
            self.principal, self.meeting = await self.reauthorize(session)
            self.session = session
            try:
                yield session
            finally:
                self.session = None


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
    # The handler receives the request body itself, outside any transaction (large uploads
    # from slow links must not hold a pooled connection); it writes in ``ctx.transaction()``.
    streams_body: bool = False
    form: Form | None = None  # a multipart body the handler reads itself, instead of ``body``
    produces: Produces | None = None  # a non-JSON success (a file), instead of ``response``

    def __post_init__(self) -> None:
        # One request body and one success body: the document could only show one of each.
        if self.form is not None and self.body is not None:
            raise ValueError(f"{self.method} {self.path}: declare either body or form")
        if self.produces is not None and self.response is not None:
            raise ValueError(f"{self.method} {self.path}: declare either response or produces")

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
        streams_body: bool = False,
        form: Form | None = None,
        produces: Produces | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare a route; ``action=None`` marks a public route.

        ``streams_body=True``: the caller is authenticated and authorized in a first short
        transaction, closed before the handler runs; the handler reads the body with no
        transaction open and does its writes in ``ctx.transaction()`` (which checks again).
        """
        if streams_body and body is not None:
            raise ValueError("a streams_body route reads its body itself: no body model")

        def register(handler: Handler) -> Handler:
            self.routes.append(
                RouteSpec(
                    method,
                    path,
                    handler,
                    action,
                    summary,
                    body,
                    query,
                    response,
                    status,
                    tags,
                    streams_body,
                    form=form,
                    produces=produces,
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

        async def authorize(session: Any) -> tuple[Principal | None, Meeting | None]:
            """Who is asking and may they, before looking at what they sent."""
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
            return principal, meeting if meeting_scoped else None

        async with state.transaction() as session:
            principal, meeting = await authorize(session)
            if any(value > MAX_ID for value in params.values()):
                # Ids are 32-bit in the schema: a larger one names nothing and must not reach SQL.
                raise ApiError(404, "not_found", "not found")
            query = _validate(spec.query, dict(request.query), "query") if spec.query else None
            ctx = RequestContext(request, state, principal, session, None, query, params, meeting)
            if spec.streams_body:
                ctx.session, ctx.reauthorize = None, authorize
            else:
                if spec.body:
                    ctx.body = _validate(spec.body, await _read_json(request), "body")
                result = await spec.handler(ctx)
        if spec.streams_body:
            # The first transaction is closed: the body streams in with no connection held.
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
