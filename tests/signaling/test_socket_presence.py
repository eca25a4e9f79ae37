"""socket.io signaling: join, presence broadcasts, grace period, reconnect, relay, meeting end."""

import asyncio
from typing import Any

import pytest
import socketio

from tests.harness import Api, World, sio_client, wait_for


class Recorder:
    """Collects the server events one client receives."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.events: list[tuple[str, Any]] = []
        self.keys: set[str] = set()
        for name in (
            "participant.joined",
            "participant.left",
            "participant.updated",
            "meeting.started",
            "meeting.ended",
            "meeting.updated",
            "session.restored",
            "session.revoked",
            "rtc.offer",
            "rtc.answer",
            "rtc.candidate",
        ):
            client.on(name, self._handler(name))

    def _handler(self, name: str):
        async def handle(data: Any) -> None:
            self.events.append((name, data))
            if name == "participant.joined":
                self.keys |= {p["key"] for p in data["participants"]}
            elif name == "participant.left":
                self.keys -= {p["key"] for p in data["participants"]}

        return handle

    def named(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]


async def joined(server, token: str, meeting_id: int) -> tuple[Recorder, dict]:
    client = await sio_client(server, token)
    rec = Recorder(client)
    ack = await client.call("join", {"meeting_id": meeting_id})
    assert ack["ok"], ack
    rec.keys |= {p["key"] for p in ack["participants"]}
    return rec, ack


async def test_join_ack_and_presence_broadcasts(server, world: World):
    chair, ack = await joined(server, world.tokens["chair"], world.meeting_id)
    assert ack["self"]["key"] == f"account:{world.accounts['chair']}"
    assert ack["self"]["meeting_role"] == "chair"
    assert ack["meeting"]["id"] == world.meeting_id
    ep, ack2 = await joined(server, world.endpoint_tokens[0], world.meeting_id)
    assert ack2["self"]["kind"] == "endpoint" and ack2["self"]["unit_name"] == "Xã Thanh Sơn"
    assert {p["key"] for p in ack2["participants"]} == {
        f"account:{world.accounts['chair']}",
        f"endpoint:{world.endpoints[0]}",
    }
    await wait_for(lambda: f"endpoint:{world.endpoints[0]}" in chair.keys)
    last = chair.named("participant.joined")[-1]
    assert last["count"] == 2 and last["meeting_id"] == world.meeting_id
    # A delegate leaves explicitly: everyone sees it at once, no grace period.
    delegate, _ = await joined(server, world.tokens["delegate"], world.meeting_id)
    await wait_for(lambda: len(chair.keys) == 3 and len(ep.keys) == 3)
    assert (await delegate.client.call("leave", {"meeting_id": world.meeting_id}))["ok"]
    await wait_for(lambda: len(chair.keys) == 2 and len(ep.keys) == 2)
    assert chair.named("participant.left")[-1]["count"] == 2
    for rec in (chair, ep, delegate):
        await rec.client.disconnect()


async def test_rest_participants_lists_presence(server, http, world: World):
    chair, _ = await joined(server, world.tokens["chair"], world.meeting_id)
    api = Api(server.url, http, token=world.tokens["observer"])
    status, body = await api.get(f"/api/v1/meetings/{world.meeting_id}/participants")
    assert status == 200
    assert [p["key"] for p in body] == [f"account:{world.accounts['chair']}"]
    assert body[0]["connected"] is True
    await chair.client.disconnect()


async def test_same_principal_twice_counts_once(server, world: World):
    chair, _ = await joined(server, world.tokens["chair"], world.meeting_id)
    second, ack = await joined(server, world.tokens["chair"], world.meeting_id)
    assert len(ack["participants"]) == 1
    await second.client.disconnect()
    await asyncio.sleep(0.2)
    # The other connection is still there: no "left", no "disconnected" update.
    assert chair.named("participant.left") == []
    assert all(
        p["connected"] for u in chair.named("participant.updated") for p in u["participants"]
    )
    await chair.client.disconnect()


async def test_disconnect_then_grace_expiry_broadcasts_left(server, world: World):
    chair, _ = await joined(server, world.tokens["chair"], world.meeting_id)
    ep, _ = await joined(server, world.endpoint_tokens[0], world.meeting_id)
    key = f"endpoint:{world.endpoints[0]}"
    await wait_for(lambda: key in chair.keys)
    await ep.client.disconnect()
    # First it is marked disconnected (still listed), then dropped after the grace period.
    await wait_for(
        lambda: any(
            not p["connected"]
            for u in chair.named("participant.updated")
            for p in u["participants"]
        )
    )
    assert key in chair.keys
    await wait_for(
        lambda: key not in chair.keys, within=server.settings.reconnect_grace_seconds + 3
    )
    await chair.client.disconnect()


async def test_reconnect_within_grace_restores_presence(server, world: World):
    chair, _ = await joined(server, world.tokens["chair"], world.meeting_id)
    ep, _ = await joined(server, world.endpoint_tokens[1], world.meeting_id)
    key = f"endpoint:{world.endpoints[1]}"
    await wait_for(lambda: key in chair.keys)
    await ep.client.disconnect()
    back = Recorder(await sio_client(server, world.endpoint_tokens[1]))
    # The server rejoins the meeting by itself and says so.
    await wait_for(lambda: back.named("session.restored"))
    assert back.named("session.restored")[0] == {"meetings": [world.meeting_id]}
    await asyncio.sleep(server.settings.reconnect_grace_seconds + 0.5)
    assert chair.named("participant.left") == []
    assert key in chair.keys
    connected = [p for u in chair.named("participant.updated") for p in u["participants"]]
    assert connected[-1] == {**connected[-1], "key": key, "connected": True}
    # And it is in the room again: it gets room broadcasts.
    delegate, _ = await joined(server, world.tokens["delegate"], world.meeting_id)
    await wait_for(lambda: f"account:{world.accounts['delegate']}" in back.keys)
    for rec in (chair, back, delegate):
        await rec.client.disconnect()


async def test_rtc_relay_between_participants(server, world: World):
    chair, _ = await joined(server, world.tokens["chair"], world.meeting_id)
    ep, _ = await joined(server, world.endpoint_tokens[0], world.meeting_id)
    ep_key = f"endpoint:{world.endpoints[0]}"
    sdp = "v=0\r\no=- 42 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    ack = await chair.client.call(
        "rtc.offer", {"meeting_id": world.meeting_id, "to": ep_key, "type": "offer", "sdp": sdp}
    )
    assert ack == {"ok": True}
    await wait_for(lambda: ep.named("rtc.offer"))
    offer = ep.named("rtc.offer")[0]
    assert offer["sdp"] == sdp and offer["from"] == f"account:{world.accounts['chair']}"
    ack = await ep.client.call(
        "rtc.answer",
        {"meeting_id": world.meeting_id, "to": offer["from"], "type": "answer", "sdp": sdp},
    )
    assert ack["ok"]
    cand = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"
    ack = await ep.client.call(
        "rtc.candidate",
        {
            "meeting_id": world.meeting_id,
            "to": offer["from"],
            "candidate": cand,
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        },
    )
    assert ack["ok"]
    await wait_for(lambda: chair.named("rtc.answer") and chair.named("rtc.candidate"))
    assert chair.named("rtc.candidate")[0]["candidate"] == cand
    # Nobody by that key in the meeting.
    ack = await chair.client.call(
        "rtc.offer",
        {"meeting_id": world.meeting_id, "to": "endpoint:999", "type": "offer", "sdp": sdp},
    )
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    for rec in (chair, ep):
        await rec.client.disconnect()


async def test_rtc_before_join_is_refused(server, world: World):
    client = await sio_client(server, world.tokens["chair"])
    ack = await client.call(
        "rtc.candidate",
        {"meeting_id": world.meeting_id, "to": "account:1", "candidate": None},
    )
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    await client.disconnect()


async def test_meeting_lifecycle_events_and_end_closes_room(server, http, world: World):
    chair, _ = await joined(server, world.tokens["chair"], world.meeting_id)
    ep, _ = await joined(server, world.endpoint_tokens[0], world.meeting_id)
    api = Api(server.url, http, token=world.tokens["chair"])
    status, _ = await api.post(f"/api/v1/meetings/{world.meeting_id}/start")
    assert status == 200
    await wait_for(lambda: ep.named("meeting.started"))
    assert ep.named("meeting.started")[0]["state"] == "live"
    status, _ = await api.post(f"/api/v1/meetings/{world.meeting_id}/end")
    assert status == 200
    await wait_for(lambda: ep.named("meeting.ended") and chair.named("meeting.ended"))
    ack = await ep.client.call("join", {"meeting_id": world.meeting_id})
    assert ack["ok"] is False and ack["error"]["code"] == "conflict"
    status, body = await api.get(f"/api/v1/meetings/{world.meeting_id}/participants")
    assert status == 200 and body == []
    for rec in (chair, ep):
        await rec.client.disconnect()


async def test_cookie_session_authenticates_socket(server, http, world: World):
    api = Api(server.url, http)
    status, _ = await api.post(
        "/api/v1/auth/login", {"username": "delegate1", "password": _password()}
    )
    assert status == 200
    cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url, headers={"Cookie": cookie}, transports=["websocket"])
    ack = await client.call("join", {"meeting_id": world.meeting_id})
    assert ack["ok"] and ack["self"]["key"] == f"account:{world.accounts['delegate']}"
    await client.disconnect()


async def test_unauthenticated_connection_is_refused(server, world: World):
    for token in (None, "garbage", "phd_not-a-real-token"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio_client(server, token)


def _password() -> str:
    from tests.harness import USER_PASSWORD

    return USER_PASSWORD
