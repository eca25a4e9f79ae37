"""Helpers shared by the REST/auth/authorization suites: DB snapshots, principals, socket calls."""

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio
from sqlalchemy import select
from sqlmodel import SQLModel

import meetings.schema  # noqa: F401 (registers every table on SQLModel.metadata)
from meetings.actor import Actor, ActorKind
from meetings.models import Role
from tests.harness import Api, Server

# A small but well-formed SDP offer (the server validates the shape, not the media).
VALID_SDP = (
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
)
VALID_CANDIDATE = "candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host"


async def db_snapshot(server: Server) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every domain table, ordered by primary key (to compare before/after)."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    async with server.state.transaction() as session:
        for table in SQLModel.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            rows = (await session.exec(query)).all()  # type: ignore[call-overload]
            snapshot[table.name] = [tuple(row) for row in rows]
    return snapshot


def changed_tables(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """The tables whose rows differ between two snapshots (name → (before, after))."""
    return {
        name: (before[name], after.get(name)) for name in before if before[name] != after.get(name)
    }


def assert_same_db(before: dict[str, list[tuple[Any, ...]]], after: dict[str, Any], what: str):
    """Fail naming the tables that changed."""
    changed = changed_tables(before, after)
    assert not changed, f"{what} changed the database: {changed}"


def assert_error(status: int, body: Any, expected_status: int, code: str | None = None) -> None:
    """A JSON ``{"error": {"code", "message"}}`` body with the expected status (and code)."""
    assert status == expected_status, (status, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    assert isinstance(body["error"].get("code"), str) and body["error"]["code"], body
    assert isinstance(body["error"].get("message"), str) and body["error"]["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body


def assert_nack(ack: Any, code: str | None = None) -> None:
    """An ``{"ok": false, "error": {"code", "message"}}`` acknowledgement."""
    assert isinstance(ack, dict) and ack.get("ok") is False, ack
    assert isinstance(ack.get("error"), dict), ack
    assert ack["error"].get("code") and ack["error"].get("message"), ack
    if code is not None:
        assert ack["error"]["code"] == code, ack


@dataclass
class Who:
    """A principal of the matrix: how it authenticates and who the domain thinks it is."""

    name: str
    actor: Actor | None  # None: no valid credentials (anonymous, revoked)
    token: str | None  # bearer credential (JWT or device token), None for anonymous
    username: str | None = None
    password: str | None = None

    @property
    def key(self) -> str:
        """``account:7`` / ``endpoint:3``."""
        assert self.actor is not None
        return self.actor.key

    def api(self, base: str, http: aiohttp.ClientSession) -> Api:
        """A client sending this principal's bearer credential (or none)."""
        return Api(base, http, token=self.token)


def account_who(name: str, account_id: int, unit_id: int, role: str, token: str, **kw: Any) -> Who:
    """An account principal."""
    actor = Actor(ActorKind.ACCOUNT, account_id, unit_id, name, Role(role))
    return Who(name, actor, token, **kw)


def endpoint_who(name: str, endpoint_id: int, unit_id: int, token: str) -> Who:
    """An endpoint device principal using its raw device token."""
    return Who(name, Actor(ActorKind.ENDPOINT, endpoint_id, unit_id, name), token)


@dataclass
class Recorder:
    """Collects server → client events of one socket.io client."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    def attach(self, client: socketio.AsyncClient) -> None:
        """Record every event the client receives."""

        async def catch_all(event: str, data: Any = None) -> None:
            self.events.append((event, data))

        client.on("*", catch_all)

    def named(self, name: str) -> list[Any]:
        """Payloads of the events called ``name``."""
        return [data for event, data in self.events if event == name]


async def call(client: socketio.AsyncClient, event: str, data: Any = None) -> Any:
    """Emit with an acknowledgement and return it."""
    return await client.call(event, data, timeout=5)
