"""The application's state object: everything with a lifetime, owned by one aiohttp app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import db
from signaling.auth.authenticator import Authenticator
from signaling.auth.ratelimit import LoginLimiter
from signaling.auth.tokens import TokenIssuer
from signaling.metrics import Metrics
from signaling.realtime.gateway import SignalingGateway
from signaling.realtime.presence import PresenceStore
from signaling.settings import Settings


@dataclass
class AppState:
    """Everything the handlers need, owned by one application."""

    settings: Settings
    metrics: Metrics
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    redis: Redis | None = None
    tokens: TokenIssuer | None = None
    authenticator: Authenticator | None = None
    login_limiter: LoginLimiter | None = None
    presence: PresenceStore | None = None
    signaling: SignalingGateway | None = None
    sio: socketio.AsyncServer | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One database transaction (commit on success, rollback on error)."""
        assert self.sessions is not None
        async with db.transaction(self.sessions) as session:
            yield session

    def client_address(self, request: web.Request) -> str:
        """The caller's address (nginx in front sets X-Real-IP; see deploy/)."""
        if self.settings.trust_proxy:
            forwarded = request.headers.get("X-Real-IP") or request.headers.get(
                "X-Forwarded-For", ""
            )
            if forwarded:
                return forwarded.split(",")[0].strip()[:64]
        return (request.remote or "unknown")[:64]


APP_STATE = web.AppKey("phonghop_state", AppState)
