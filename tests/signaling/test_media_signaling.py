"""The SFU behind socket.io: negotiation, subscription policy, spotlight, active speaker.

Real server, real aiortc endpoints (one peer connection each, always the offerer), SQLite.
"""

import asyncio
from typing import Any

import numpy
import socketio

from tests.harness import Server, World, sio_client, wait_for
from tests.media.peers import Endpoint, frames


class SfuClient:
    """A socket.io connection plus one aiortc peer connection, as a web client would hold."""

    def __init__(self, sio: socketio.AsyncClient, meeting_id: int, endpoint: Endpoint) -> None:
        self.sio = sio
        self.meeting_id = meeting_id
        self.endpoint = endpoint
        self.slots: dict[str, dict[str, Any]] = {}
        self.speakers: list[str | None] = []
        self.renegotiations = 0
        self.acks: list[dict[str, Any]] = []
        # One negotiation at a time: rtc.renegotiate can arrive while an offer is pending.
        self._negotiating = asyncio.Lock()
        sio.on("rtc.renegotiate", self._renegotiate)
        sio.on("media.slots", self._slots)
        sio.on("speaker.active", lambda data: self.speakers.append(data["participant"]))

    @classmethod
    async def join(
        cls, server: Server, token: str, meeting_id: int, endpoint: Endpoint
    ) -> "SfuClient":
        sio = await sio_client(server, token)
        client = cls(sio, meeting_id, endpoint)
        ack = await sio.call("join", {"meeting_id": meeting_id})
        assert ack["ok"], ack
        await client.negotiate()
        return client

    async def negotiate(self) -> dict[str, Any]:
        async with self._negotiating:
            return await self._negotiate()

    async def _negotiate(self) -> dict[str, Any]:
        offer = await self.endpoint.offer()
        ack = await self.sio.call("rtc.offer", {"meeting_id": self.meeting_id, **offer}, timeout=20)
        assert ack["ok"], ack
        await self.endpoint.accept(ack)
        self.slots = {slot["mid"]: slot for slot in ack["slots"]}
        self.acks.append(ack)
        return ack

    async def _renegotiate(self, data: dict[str, Any]) -> None:
        self.renegotiations += 1
        async with self._negotiating:
            self.endpoint.add_slots(data["audio"], data["video"])
            await self._negotiate()

    def _slots(self, data: dict[str, Any]) -> None:
        self.slots = {slot["mid"]: slot for slot in data["slots"]}

    def showing(self, participant: str, source: str = "camera") -> str | None:
        """The mid of the slot that currently carries ``participant``'s ``source``."""
        for mid, slot in self.slots.items():
            if slot["participant"] == participant and slot["source"] == source:
                return mid
        return None

    async def close(self) -> None:
        await self.sio.disconnect()
        await self.endpoint.close()


def _key(world: World, who: str) -> str:
    if who.startswith("endpoint"):
        return f"endpoint:{world.endpoints[int(who[-1])]}"
    return f"account:{world.accounts[who]}"


async def test_endpoints_see_and_hear_the_chair_and_the_chair_sees_the_endpoints(
    media_server, media_world
):
    w = media_world
    chair = await SfuClient.join(media_server, w.tokens["chair"], w.meeting_id, Endpoint())
    communes = [
        await SfuClient.join(media_server, w.endpoint_tokens[i], w.meeting_id, Endpoint(tone=False))
        for i in range(2)
    ]
    try:
        for commune in communes:
            await wait_for(lambda c=commune: c.showing(_key(w, "chair")) is not None, within=10)
            await wait_for(
                lambda c=commune: c.showing(_key(w, "chair"), "microphone") is not None, within=10
            )
            video = await frames(commune.endpoint.track(commune.showing(_key(w, "chair"))), 5)
            assert all(f.width == 320 for f in video)
            audio = await frames(
                commune.endpoint.track(commune.showing(_key(w, "chair"), "microphone")), 25
            )
            assert (
                numpy.abs(numpy.concatenate([f.to_ndarray().ravel() for f in audio[-10:]])).max()
                > 1000
            )
        # The chair's grid: every endpoint's camera, on slots it was asked to add.
        for i in range(2):
            await wait_for(
                lambda i=i: chair.showing(_key(w, f"endpoint{i}")) is not None, within=10
            )
            await frames(chair.endpoint.track(chair.showing(_key(w, f"endpoint{i}"))), 3)
        assert chair.renegotiations >= 1
        # Endpoints do not receive each other (only the spotlight and the speaker).
        assert communes[0].showing(_key(w, "endpoint1")) is None
    finally:
        for client in (chair, *communes):
            await client.close()


async def test_chair_spotlights_an_endpoint_for_everyone(media_server, media_world):
    w = media_world
    chair = await SfuClient.join(
        media_server, w.tokens["chair"], w.meeting_id, Endpoint(tone=False)
    )
    one = await SfuClient.join(
        media_server, w.endpoint_tokens[0], w.meeting_id, Endpoint(tone=False)
    )
    two = await SfuClient.join(
        media_server, w.endpoint_tokens[1], w.meeting_id, Endpoint(tone=False)
    )
    try:
        await wait_for(lambda: one.showing(_key(w, "chair")) is not None, within=10)
        ack = await one.sio.call(
            "media.spotlight", {"meeting_id": w.meeting_id, "participant": _key(w, "endpoint1")}
        )
        assert not ack["ok"] and ack["error"]["code"] == "forbidden"
        ack = await chair.sio.call(
            "media.spotlight", {"meeting_id": w.meeting_id, "participant": _key(w, "endpoint1")}
        )
        assert ack["ok"], ack
        await wait_for(lambda: one.showing(_key(w, "endpoint1")) is not None, within=10)
        await frames(one.endpoint.track(one.showing(_key(w, "endpoint1"))), 5)
        ack = await chair.sio.call(
            "media.spotlight", {"meeting_id": w.meeting_id, "participant": "endpoint:999999"}
        )
        assert not ack["ok"] and ack["error"]["code"] == "not_found"
    finally:
        for client in (chair, one, two):
            await client.close()


async def test_the_active_speaker_is_announced_and_forwarded(media_server, media_world):
    w = media_world
    chair = await SfuClient.join(
        media_server, w.tokens["chair"], w.meeting_id, Endpoint(tone=False)
    )
    quiet = await SfuClient.join(
        media_server, w.endpoint_tokens[0], w.meeting_id, Endpoint(tone=False)
    )
    speaking = await SfuClient.join(
        media_server, w.endpoint_tokens[1], w.meeting_id, Endpoint(tone=True)
    )
    try:
        speaker = _key(w, "endpoint1")
        await wait_for(lambda: speaker in quiet.speakers and speaker in chair.speakers, within=15)
        # The quiet endpoint now hears and sees the speaker (as well as the chair).
        await wait_for(lambda: quiet.showing(speaker, "microphone") is not None, within=10)
        await wait_for(lambda: quiet.showing(speaker) is not None, within=10)
        audio = await frames(quiet.endpoint.track(quiet.showing(speaker, "microphone")), 25)
        assert (
            numpy.abs(numpy.concatenate([f.to_ndarray().ravel() for f in audio[-10:]])).max() > 1000
        )
        assert _key(w, "endpoint0") not in quiet.speakers  # silence never wins
    finally:
        for client in (chair, quiet, speaking):
            await client.close()


async def test_bad_offers_and_media_events_get_error_acks(media_server, media_world):
    w = media_world
    sio = await sio_client(media_server, w.endpoint_tokens[0])
    try:
        ack = await sio.call(
            "rtc.offer",
            {
                "meeting_id": w.meeting_id,
                "type": "offer",
                "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 UDP 0\r\n",
            },
        )
        assert not ack["ok"] and ack["error"]["code"] == "forbidden"  # not joined yet
        assert (await sio.call("join", {"meeting_id": w.meeting_id}))["ok"]
        ack = await sio.call(
            "rtc.offer",
            {
                "meeting_id": w.meeting_id,
                "type": "offer",
                "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 UDP 0\r\n",
            },
        )
        assert not ack["ok"] and ack["error"]["code"] == "bad_sdp", ack
        ack = await sio.call(
            "rtc.offer",
            {
                "meeting_id": w.meeting_id,
                "type": "offer",
                "sdp": "v=0\r\nm=x\r\no=x\r\n",
                "sources": {"0": "webcam"},
            },
        )
        assert not ack["ok"] and ack["error"]["code"] == "invalid_payload"
        ack = await sio.call(
            "media.view", {"meeting_id": w.meeting_id, "mid": "0", "max_height": 360}
        )
        assert not ack["ok"] and ack["error"]["code"] == "not_found"  # no transport yet
        ack = await sio.call("media.page", {"meeting_id": w.meeting_id, "page": 1})
        assert not ack["ok"] and ack["error"]["code"] == "forbidden"  # chair only
        # A good offer still works afterwards.
        endpoint = Endpoint(tone=False)
        try:
            offer = await endpoint.offer()
            ack = await sio.call("rtc.offer", {"meeting_id": w.meeting_id, **offer}, timeout=20)
            assert ack["ok"], ack
        finally:
            await endpoint.close()
    finally:
        await sio.disconnect()


async def test_leaving_closes_the_transport_and_frees_the_slot(media_server, media_world):
    w = media_world
    chair = await SfuClient.join(
        media_server, w.tokens["chair"], w.meeting_id, Endpoint(tone=False)
    )
    one = await SfuClient.join(
        media_server, w.endpoint_tokens[0], w.meeting_id, Endpoint(tone=False)
    )
    try:
        key = _key(w, "endpoint0")
        await wait_for(lambda: chair.showing(key) is not None, within=10)
        await one.close()
        await wait_for(lambda: chair.showing(key) is None, within=10)
        coordinator = media_server.state.signaling.media
        conference = coordinator.conferences[w.meeting_id]
        assert all(p.key != key for p in conference.producers.values())
        assert len(coordinator.worker.transports) == 1
        await asyncio.sleep(0)
    finally:
        await chair.close()


async def test_a_rejoining_endpoint_reaches_the_slot_it_left_and_the_chair_is_told(
    media_server, media_world
):
    """Bug: an offer's policy pass did not announce media.slots to anyone, so a commune that
    came back on a new connection reached the chair's free slot unannounced (the chair's page
    showed nothing)."""
    w = media_world
    chair = await SfuClient.join(
        media_server, w.tokens["chair"], w.meeting_id, Endpoint(tone=False)
    )
    first = await SfuClient.join(
        media_server, w.endpoint_tokens[0], w.meeting_id, Endpoint(tone=False)
    )
    again = None
    try:
        key = _key(w, "endpoint0")
        await wait_for(lambda: chair.showing(key) is not None, within=10)
        await first.close()
        await wait_for(lambda: chair.showing(key) is None, within=10)
        renegotiations = chair.renegotiations
        again = await SfuClient.join(
            media_server, w.endpoint_tokens[0], w.meeting_id, Endpoint(tone=False)
        )
        await wait_for(lambda: chair.showing(key) is not None, within=10)
        assert chair.renegotiations == renegotiations  # the freed slot, announced
        await frames(chair.endpoint.track(chair.showing(key)), 3)
    finally:
        for client in (chair, first, again):
            if client is not None:
                await client.close()


async def test_an_offer_with_restart_replaces_the_connections_transport(media_server, media_world):
    """A client whose ICE failed offers from a brand-new peer connection with restart: true;
    the SFU closes the old transport and answers on a new one (aiortc has no ICE restart)."""
    w = media_world
    chair = await SfuClient.join(
        media_server, w.tokens["chair"], w.meeting_id, Endpoint(tone=False)
    )
    commune = await SfuClient.join(
        media_server, w.endpoint_tokens[0], w.meeting_id, Endpoint(tone=False)
    )
    try:
        chair_key = _key(w, "chair")
        await wait_for(lambda: commune.showing(chair_key) is not None, within=10)
        coordinator = media_server.state.signaling.media
        old_transports = set(coordinator.worker.transports)
        async with commune._negotiating:  # not while the SFU asks for more slots
            await commune.endpoint.close()
            commune.endpoint = Endpoint(tone=False)
            offer = await commune.endpoint.offer()
            ack = await commune.sio.call(
                "rtc.offer", {"meeting_id": w.meeting_id, **offer, "restart": True}, timeout=20
            )
            assert ack["ok"], ack
            await commune.endpoint.accept(ack)
            commune.slots = {slot["mid"]: slot for slot in ack["slots"]}
        transports = set(coordinator.worker.transports)
        assert len(transports) == 2 and len(transports & old_transports) == 1
        await wait_for(lambda: commune.showing(chair_key) is not None, within=10)
        await frames(commune.endpoint.track(commune.showing(chair_key)), 3)
        key = _key(w, "endpoint0")
        await wait_for(lambda: chair.showing(key) is not None, within=10)
        await frames(chair.endpoint.track(chair.showing(key)), 3)
    finally:
        await chair.close()
        await commune.close()
