"""Stop the server in the middle of a live meeting and start it again on the same data.

Runs once on SQLite and once on PostgreSQL (the ``server`` fixture). Everything durable
(meetings, invitations, accounts, endpoints, the JWT signing key) survives; presence does not,
so clients that reconnect on their own rejoin, and see each other again.
"""

from typing import Any

import aiohttp
import socketio

from tests.harness import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    Api,
    Server,
    build_world,
    sio_client,
    wait_for,
)

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
RECONNECT_WAIT = 30.0  # generous bound: the client backs off between attempts


class Recorder:
    """A reconnecting socket.io client and everything it was told."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.connects = 0
        self.disconnects = 0
        self.events: list[tuple[str, Any]] = []
        client.on("connect", self._on_connect)
        client.on("disconnect", self._on_disconnect)
        client.on("*", self._on_any)

    async def _on_connect(self) -> None:
        self.connects += 1

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnects += 1

    async def _on_any(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))

    def seen_keys(self, event: str) -> set[str]:
        """Participant keys announced in all ``event`` messages so far."""
        return {p["key"] for name, d in self.events if name == event for p in d["participants"]}

    async def join(self, meeting_id: int) -> dict[str, Any]:
        ack = await self.client.call("join", {"meeting_id": meeting_id}, timeout=10)
        assert ack["ok"], ack
        return ack


async def _snapshot(api: Api, world) -> dict[str, Any]:
    """What the API says about the durable state."""
    mid = world.meeting_id
    out: dict[str, Any] = {}
    for name, path in (
        ("meeting", f"/api/v1/meetings/{mid}"),
        ("invitations", f"/api/v1/meetings/{mid}/invitations"),
        ("accounts", "/api/v1/accounts"),
        ("endpoints", "/api/v1/endpoints"),
        ("units", "/api/v1/units"),
        ("mine", "/api/v1/meetings"),
    ):
        status, body = await api.get(path)
        assert status == 200, (path, body)
        out[name] = body
    return out


async def _snapshot_chair(api: Api) -> tuple[int, Any]:
    """The chair's own view of "my meetings"."""
    return await api.get("/api/v1/meetings")


async def test_a_restart_mid_meeting_keeps_the_data_and_clients_rejoin(
    server: Server, http: aiohttp.ClientSession
):
    world = await build_world(server, http)
    mid = world.meeting_id
    chair_api = Api(server.url, http, token=world.tokens["chair"])
    admin_api = Api(server.url, http, token=world.tokens["admin"])
    status, started = await chair_api.post(f"/api/v1/meetings/{mid}/start")
    assert status == 200 and started["state"] == "live", started

    # A browser session (cookie) too, to check it survives as well.
    cookie_http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    chair = endpoint = None
    try:
        status, login = await Api(server.url, cookie_http).post(
            "/api/v1/auth/login", {"username": "delegate1", "password": USER_PASSWORD}
        )
        assert status == 200, login

        chair_key = f"account:{world.accounts['chair']}"
        endpoint_key = f"endpoint:{world.endpoints[0]}"
        chair = Recorder(await sio_client(server, world.tokens["chair"], reconnection=True))
        endpoint = Recorder(await sio_client(server, world.endpoint_tokens[0], reconnection=True))
        ack = await chair.join(mid)
        assert ack["meeting"]["state"] == "live"
        assert ack["self"]["key"] == chair_key and ack["self"]["meeting_role"] == "chair"
        await endpoint.join(mid)
        await wait_for(lambda: endpoint_key in chair.seen_keys("participant.joined"))

        before = await _snapshot(admin_api, world)
        before_chair_view = await _snapshot_chair(chair_api)

        # ---- the restart -------------------------------------------------------------
        await server.restart()

        # Both clients noticed the server going away and came back by themselves.
        await wait_for(lambda: chair.connects >= 1 and endpoint.connects >= 1, RECONNECT_WAIT)
        assert chair.disconnects >= 1 and endpoint.disconnects >= 1
        await wait_for(lambda: chair.client.connected and endpoint.client.connected, RECONNECT_WAIT)

        # Durable state is unchanged, read with the tokens issued before the restart.
        after = await _snapshot(admin_api, world)
        assert after == before
        assert after["meeting"]["state"] == "live"
        assert after["meeting"]["started_at"] == started["started_at"]
        invited = {
            (i["invitee_kind"], i["account_id"] or i["unit_id"] or i["endpoint_id"])
            for i in after["invitations"]
        }
        assert invited == {
            ("account", world.accounts["delegate"]),
            ("account", world.accounts["observer"]),
            ("unit", world.district),
        }
        assert {a["username"] for a in after["accounts"]} >= {
            "admin",
            "chair1",
            "secretary1",
            "delegate1",
            "observer1",
        }
        assert {e["id"] for e in after["endpoints"]} == set(world.endpoints)
        assert all(e["active"] for e in after["endpoints"])
        assert await _snapshot_chair(chair_api) == before_chair_view

        # Every bearer token from before still works: JWTs (the key is in the data dir) ...
        for role, token in world.tokens.items():
            status, me = await Api(server.url, http, token=token).get("/api/v1/auth/me")
            assert status == 200, (role, me)
            assert me["id"] == world.accounts[role]
        # ... device tokens (in the database) ...
        status, me = await Api(server.url, http, token=world.endpoint_tokens[1]).get(
            "/api/v1/auth/me"
        )
        assert status == 200 and me["kind"] == "endpoint" and me["id"] == world.endpoints[1]
        # ... and the browser session cookie.
        status, me = await Api(server.url, cookie_http).get("/api/v1/auth/me")
        assert status == 200 and me["username"] == "delegate1", me
        # Logging in again works too (the admin password was not regenerated).
        status, _ = await Api(server.url, http).post(
            "/api/v1/auth/login", {"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert status == 200
        assert (server.settings.data_dir / "secret_key").exists()

        # The live-meetings gauge is restored from the database.
        status, metrics = await Api(server.url, http).get("/metrics")
        assert status == 200
        assert "phonghop_live_meetings 1.0" in metrics

        # Presence lived in the old process: the clients join again and find each other.
        chair.events.clear()
        endpoint.events.clear()
        ack = await chair.join(mid)
        assert ack["meeting"]["state"] == "live"
        assert ack["self"]["key"] == chair_key and ack["self"]["connected"] is True
        ack = await endpoint.join(mid)
        assert {p["key"] for p in ack["participants"]} == {chair_key, endpoint_key}
        await wait_for(lambda: endpoint_key in chair.seen_keys("participant.joined"))

        status, participants = await chair_api.get(f"/api/v1/meetings/{mid}/participants")
        assert status == 200
        assert {p["key"]: p["connected"] for p in participants} == {
            chair_key: True,
            endpoint_key: True,
        }

        # And they can reach each other again (negotiation relay through the new server).
        ack = await chair.client.call(
            "rtc.offer",
            {"meeting_id": mid, "to": endpoint_key, "type": "offer", "sdp": SDP},
            timeout=10,
        )
        assert ack["ok"], ack
        await wait_for(lambda: any(name == "rtc.offer" for name, _ in endpoint.events))
        offer = next(d for name, d in endpoint.events if name == "rtc.offer")
        assert offer["from"] == chair_key and offer["sdp"] == SDP
    finally:
        for rec in (chair, endpoint):
            if rec is not None:
                await rec.client.disconnect()
        await cookie_http.close()
