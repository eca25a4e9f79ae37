"""Application factory: one aiohttp app with the socket.io server attached.

Everything with a lifetime (database engine, Redis, presence, background tasks) lives on
``AppState``, created in cleanup contexts; nothing is process-global.
"""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web
from redis.asyncio import Redis
from structlog.contextvars import clear_contextvars

from media.worker import Worker
from meetings import db, scheduling
from meetings.documents.storage import BlobStore
from meetings.errors import DomainError
from recordings.recorder import recorder_factory
from signaling import __version__, housekeeping, mail, static_routes
from signaling.api import all_routes, routes_minutes  # noqa: F401 (declares every route)
from signaling.api.openapi import build_openapi
from signaling.api.schemas import HealthOut
from signaling.api.table import API
from signaling.auth.authenticator import Authenticator
from signaling.auth.ratelimit import LoginLimiter, MemoryCounter, RedisCounter
from signaling.auth.tokens import TokenIssuer
from signaling.bootstrap import ensure_admin, print_admin_password
from signaling.demo import print_demo, seed_demo
from signaling.errors import ApiError, error_body, status_for
from signaling.ice import ice_servers_for, media_network
from signaling.logs import bound_context, get_logger
from signaling.metrics import Metrics
from signaling.realtime import fastjson
from signaling.realtime.gateway import SignalingGateway
from signaling.realtime.presence import MemoryPresence, RedisPresence
from signaling.secrets_store import load_or_create_secret
from signaling.settings import Settings
from signaling.state import APP_STATE, AppState

log = get_logger("phonghop.app")


def _json_error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    return web.json_response(error_body(code, message, details), status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure becomes ``{"error": {...}}`` with a fitting status, logged once."""
    state = request.app[APP_STATE]
    started = time.monotonic()
    route = (
        request.match_info.route.resource.canonical
        if request.match_info.route.resource
        else "unmatched"
    )
    status = 500
    # aiohttp reuses one task per keep-alive connection: start each request with a clean slate.
    clear_contextvars()
    try:
        with bound_context(method=request.method, route=route):
            try:
                response = await handler(request)
                status = response.status
                return response
            except ApiError as exc:
                status, code, message, details = exc.status, exc.code, exc.message, exc.details
            except DomainError as exc:
                status, code, message, details = status_for(exc), exc.code, exc.message, exc.details
            except web.HTTPRequestEntityTooLarge:
                status, code, details = 413, "payload_too_large", {}
                message = f"request body exceeds {state.settings.max_body_bytes} bytes"
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                status, code, message, details = (
                    exc.status,
                    exc.reason.lower().replace(" ", "_"),
                    exc.reason,
                    {},
                )
            except Exception:
                log.exception("http.internal_error")
                state.metrics.errors.labels(code="internal_error", channel="http").inc()
                status = 500
                return _json_error(500, "internal_error", "internal server error")
            state.metrics.errors.labels(code=code, channel="http").inc()
            log.warning("http.error", status=status, code=code, reason=message)
            safe = {
                k: v for k, v in details.items() if isinstance(v, str | int | float | bool | list)
            }
            return _json_error(status, code, message, safe or None)
    finally:
        state.metrics.request_latency.labels(request.method, route, str(status)).observe(
            time.monotonic() - started
        )


# Pages load only the server's own files: no inline script or style, nothing from elsewhere
# (closed networks have no CDN, and an injected tag can neither run nor phone home).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """Defaults every page and API answer carries; HTML pages also get the CSP."""
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.headers.get("Content-Type", "").startswith("text/html"):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def healthz(request: web.Request) -> web.Response:
    """200 when the database (and Redis, if configured) answer; 503 naming what failed."""
    state = request.app[APP_STATE]
    database = "ok"
    redis_state = "disabled"
    try:
        assert state.engine is not None
        await db.ping(state.engine)
    except Exception as exc:
        log.warning("health.database_failed", error=str(exc))
        database = "error"
    if state.redis is not None:
        try:
            await state.redis.ping()
            redis_state = "ok"
        except Exception as exc:
            log.warning("health.redis_failed", error=str(exc))
            redis_state = "error"
    ok = database == "ok" and redis_state != "error"
    # Minutes approval needs its PDF font and (if configured) its certificate; the rest of the
    # server works without them, so this is reported, not a 503.
    minutes_problems = routes_minutes.setup_problems(state.settings)
    body = HealthOut(
        status="ok" if ok else "error",
        version=__version__,
        database=database,
        redis=redis_state,
        minutes="error" if minutes_problems else "ok",
        problems=[p.code for p in minutes_problems],
    )
    return web.json_response(body.model_dump(), status=200 if ok else 503)


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    state = request.app[APP_STATE]
    return web.Response(body=state.metrics.render(), content_type="text/plain", charset="utf-8")


async def openapi_view(request: web.Request) -> web.Response:
    """The OpenAPI document, built from the route registry."""
    return web.json_response(
        build_openapi(API, __version__), dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )


def _database_context(state: AppState):  # -> cleanup context
    async def database(app: web.Application) -> AsyncIterator[None]:
        settings = state.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        state.engine = db.create_engine(settings.resolved_database_url())
        await db.migrate(state.engine)
        for problem in routes_minutes.setup_problems(settings):
            log.error(
                "minutes.unavailable", code=problem.code, problem=problem.message, **problem.details
            )
        state.sessions = db.session_factory(state.engine)
        state.tokens = TokenIssuer(
            load_or_create_secret(settings.data_dir, settings.secret_key),
            settings.access_token_ttl_seconds,
        )
        state.authenticator = Authenticator(state.tokens)
        async with state.transaction() as session:
            seed = await seed_demo(session) if settings.demo else None
            generated = await ensure_admin(session, settings.admin_password)
            state.metrics.live_meetings.set(await scheduling.count_live(session))
        if generated:
            print_admin_password(generated)
        if seed is not None:
            state.extras["demo"] = seed
        yield
        await state.engine.dispose()

    return database


def _redis_context(state: AppState):  # -> cleanup context
    async def redis(app: web.Application) -> AsyncIterator[None]:
        settings = state.settings
        if settings.redis_url:
            state.redis = Redis.from_url(settings.redis_url)
            await state.redis.ping()
            ns = settings.redis_namespace
            counter: Any = RedisCounter(state.redis, settings.login_window_seconds, f"{ns}:login:")
            state.presence = RedisPresence(state.redis, f"{ns}:presence:")
        else:
            counter = MemoryCounter(settings.login_window_seconds)
            state.presence = MemoryPresence()
        state.login_limiter = LoginLimiter(
            counter,
            settings.login_max_per_account,
            settings.login_max_per_address,
            settings.login_window_seconds,
        )
        yield
        if state.redis is not None:
            await state.redis.aclose()

    return redis


def _signaling_context(state: AppState):  # -> cleanup context
    async def signaling(app: web.Application) -> AsyncIterator[None]:
        assert (
            state.sio is not None and state.authenticator is not None and state.presence is not None
        )
        state.signaling = SignalingGateway(
            state.sio,
            state.transaction,
            state.authenticator,
            state.presence,
            state.metrics,
            grace_seconds=state.settings.reconnect_grace_seconds,
            flush_seconds=state.settings.presence_flush_ms / 1000,
            redis=state.redis,
            control_channel=f"{state.settings.redis_namespace}:control",
            media_worker=Worker(
                lambda event, data: None,
                network=media_network(state.settings),
                sinks=recorder_factory,
            ),
            ice_servers=lambda key: ice_servers_for(state.settings, key),
            data_dir=state.settings.data_dir,
            recording_tracks=state.settings.recording_tracks,
        )
        await state.signaling.start()
        if "demo" in state.extras:
            print_demo(state.extras["demo"], state.settings.public_url or _base_url(state.settings))
        documents = housekeeping.DocumentUpkeep(
            BlobStore(state.settings.data_dir / "documents"),
            state.signaling.meeting_event,
            state.settings.document_publish_poll_seconds,
        )
        kept = housekeeping.RecordingUpkeep(
            state.settings.data_dir, state.settings.recording_retention_days
        )
        async with (
            housekeeping.running(state.transaction, documents=documents, recordings=kept),
            mail.running(state),
        ):
            yield
        await state.signaling.stop()

    return signaling


async def _drop_sockets(app: web.Application) -> None:
    """On shutdown, drop every socket.io transport at once, as a lost network link would.

    Otherwise aiohttp waits for each open websocket until the engine.io ping timeout (20 s)
    before it can stop. A dropped transport (no engine.io ``close`` packet) makes clients
    reconnect by themselves: to this server once restarted, or to another process.
    """
    sio = app[APP_STATE].sio
    if sio is None:
        return
    for socket in list(sio.eio.sockets.values()):
        await socket.close(wait=False, abort=True)  # the gateway sees a disconnect (grace)
        socket.queue.put_nowait(None)  # ends the socket's writer, which closes the websocket


def _base_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.port}"


def create_app(settings: Settings) -> web.Application:
    """Build the application; resources open when it starts (cleanup contexts)."""
    state = AppState(settings=settings, metrics=Metrics())
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[security_headers, error_middleware]
    )
    app[APP_STATE] = state
    manager = (
        socketio.AsyncRedisManager(
            settings.redis_url, channel=f"{settings.redis_namespace}:socketio"
        )
        if settings.redis_url
        else None
    )
    state.sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=settings.cors_origins or None,
        max_http_buffer_size=settings.max_socket_message_bytes,
        json=fastjson,
        serializer=fastjson.JsonPacket,
        ping_interval=10,
        ping_timeout=10,
        logger=False,
        engineio_logger=False,
    )
    state.sio.attach(app, socketio_path="socket.io")
    app.cleanup_ctx.extend(
        [_database_context(state), _redis_context(state), _signaling_context(state)]
    )
    app.on_shutdown.append(_drop_sockets)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/api/v1/openapi.json", openapi_view)
    API.install(app)
    static_routes.install(app)
    return app
