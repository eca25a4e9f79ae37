"""A real phonghop server on a free loopback port, and HTTP/socket.io clients for it."""

import asyncio
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import socketio
from aiohttp import web

from signaling.app import APP_STATE, AppState, create_app
from signaling.settings import Settings

PG_DSN = "postgresql://postgres@127.0.0.1:5432"
ADMIN_PASSWORD = "admin-" + secrets.token_urlsafe(12)  # made per test run, never committed
USER_PASSWORD = "pw-" + secrets.token_urlsafe(12)


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"phonghop_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(f"{PG_DSN}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        conn = await asyncpg.connect(f"{PG_DSN}/postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@dataclass
class Server:
    """Runs the real application in this event loop on a real TCP port; can restart."""

    settings: Settings
    runner: web.AppRunner | None = None
    app: web.Application | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def state(self) -> AppState:
        """The running app's state (for assertions on the database)."""
        assert self.app is not None
        return self.app[APP_STATE]

    async def start(self) -> None:
        """Start serving."""
        self.app = create_app(self.settings)
        self.runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.settings.port).start()

    async def stop(self) -> None:
        """Stop serving; open connections are closed."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def restart(self) -> None:
        """Stop and start again on the same data dir and database."""
        await self.stop()
        await self.start()


def make_settings(data_dir: Path, database_url: str | None, **overrides: Any) -> Settings:
    """Test settings: fast presence flushes, a short grace period, a known admin password."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": free_port(),
        "data_dir": data_dir,
        "database_url": database_url,
        "admin_password": ADMIN_PASSWORD,
        "presence_flush_ms": 20,
        "reconnect_grace_seconds": 1.5,
        "login_max_per_account": 1000,
        "login_max_per_address": 10000,
        "log_json": True,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    """A small HTTP client for the REST API (bearer or cookie)."""

    base: str
    http: aiohttp.ClientSession
    token: str | None = None
    csrf: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    async def request(self, method: str, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        """Send a request; return ``(status, decoded JSON or None)``."""
        headers = dict(self.headers)
        headers.update(kw.pop("headers", {}))
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if self.csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        async with self.http.request(
            method, self.base + path, json=json, headers=headers, **kw
        ) as r:
            body = await r.read()
            try:
                data = await r.json(content_type=None) if body else None
            except ValueError:
                data = body.decode(errors="replace")
            return r.status, data

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        """GET."""
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        """POST."""
        return await self.request("POST", path, json=json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        """PATCH."""
        return await self.request("PATCH", path, json=json, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        """DELETE."""
        return await self.request("DELETE", path, **kw)


async def login_token(server: Server, username: str, password: str) -> str:
    """Log in and return the bearer token."""
    async with aiohttp.ClientSession() as http:
        status, body = await Api(server.url, http).post(
            "/api/v1/auth/login", {"username": username, "password": password}
        )
    assert status == 200, body
    return body["access_token"]


@dataclass
class World:
    """A province, a district, two communes, one account per role, endpoints and a meeting."""

    province: int
    district: int
    communes: list[int]
    accounts: dict[str, int]  # role name → account id
    tokens: dict[str, str]  # role name → bearer token
    endpoints: list[int]
    endpoint_tokens: list[str]
    meeting_id: int


async def build_world(server: Server, http: aiohttp.ClientSession) -> World:
    """Seed through the public API, as an administrator would."""
    admin = Api(server.url, http, token=await login_token(server, "admin", ADMIN_PASSWORD))
    _, prov = await admin.post("/api/v1/units", {"name": "Tỉnh Quảng Ninh", "kind": "province"})
    _, dist = await admin.post(
        "/api/v1/units", {"name": "Huyện Ba Chẽ", "kind": "district", "parent_id": prov["id"]}
    )
    communes = []
    for name in ("Xã Thanh Sơn", "Xã Đồn Đạc"):
        _, c = await admin.post(
            "/api/v1/units", {"name": name, "kind": "commune", "parent_id": dist["id"]}
        )
        communes.append(c["id"])
    accounts: dict[str, int] = {}
    tokens: dict[str, str] = {"admin": admin.token or ""}
    for role in ("chair", "secretary", "delegate", "observer"):
        status, acc = await admin.post(
            "/api/v1/accounts",
            {
                "username": f"{role}1",
                "full_name": f"Người {role}",
                "unit_id": prov["id"],
                "role": role,
                "password": USER_PASSWORD,
            },
        )
        assert status == 201, acc
        accounts[role] = acc["id"]
        tokens[role] = await login_token(server, f"{role}1", USER_PASSWORD)
    _, me = await admin.get("/api/v1/auth/me")
    accounts["admin"] = me["id"]
    endpoints, endpoint_tokens = [], []
    for commune in communes:
        status, ep = await admin.post(
            "/api/v1/endpoints", {"name": f"Điểm cầu {commune}", "unit_id": commune}
        )
        assert status == 201, ep
        endpoints.append(ep["endpoint"]["id"])
        endpoint_tokens.append(ep["token"])
    chair = Api(server.url, http, token=tokens["chair"])
    status, meeting = await chair.post(
        "/api/v1/meetings",
        {
            "title": "Giao ban tháng 11",
            "starts_at": "2026-11-24T08:00:00+07:00",
            "chair_id": accounts["chair"],
            "secretary_id": accounts["secretary"],
        },
    )
    assert status == 201, meeting
    status, _ = await chair.post(
        f"/api/v1/meetings/{meeting['id']}/invitations",
        {
            "invitees": [
                {"kind": "account", "id": accounts["delegate"]},
                {"kind": "account", "id": accounts["observer"]},
                {"kind": "unit", "id": dist["id"]},
            ]
        },
    )
    assert status == 201
    return World(
        prov["id"],
        dist["id"],
        communes,
        accounts,
        tokens,
        endpoints,
        endpoint_tokens,
        meeting["id"],
    )


async def sio_client(server: Server, token: str | None = None, **kw: Any) -> socketio.AsyncClient:
    """A connected socket.io client (raises ``socketio.exceptions.ConnectionError`` if refused)."""
    client = socketio.AsyncClient(reconnection=kw.pop("reconnection", False))
    auth = {"token": token} if token is not None else None
    await client.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=5, **kw)
    return client


async def wait_for(predicate: Any, within: float = 5.0) -> None:
    """Poll until ``predicate()`` is true (for events delivered asynchronously)."""
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
