"""Endpoints through the Worker: real aiortc peers, each with one peer connection to the SFU."""

import asyncio
import time
from typing import Any

import numpy

from media import rtcp, rtp
from media.aiortc_hooks import observe_rtp, tap_rtcp
from media.feedback import ntp_to_unix
from media.worker import MediaError, Worker
from tests.media.peers import Endpoint, frames


class Recorder:
    """Collects the Worker's notifications."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        self.events.append((event, data))

    def of(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data in self.events if name == event]


async def _connect(worker: Worker, router: str, name: str, endpoint: Endpoint) -> dict[str, Any]:
    await worker.request("transport.create", {"router_id": router, "transport_id": name})
    offer = await endpoint.offer()
    answer = await worker.request(
        "transport.negotiate",
        {"transport_id": name, "sdp": offer["sdp"], "sources": offer["sources"]},
    )
    await endpoint.accept(answer)
    return answer


def _producer(notes: Recorder, transport: str, kind: str) -> str:
    return next(
        p["producer_id"]
        for p in notes.of("producer.added")
        if p["transport_id"] == transport and p["kind"] == kind
    )


async def test_two_endpoints_hear_and_see_each_other_through_the_sfu():
    notes = Recorder()
    worker = Worker(notes)
    a, b = Endpoint(), Endpoint()
    try:
        await worker.request("router.create", {"router_id": "m1"})
        for endpoint in (a, b):
            endpoint.add_slots(audio=1, video=1)
        await _connect(worker, "m1", "a", a)
        await _connect(worker, "m1", "b", b)
        assert len(notes.of("producer.added")) == 4
        for me, other in (("a", "b"), ("b", "a")):
            endpoint = a if me == "a" else b
            for kind in ("audio", "video"):
                await worker.request(
                    "consumer.assign",
                    {
                        "transport_id": me,
                        "mid": endpoint.slot_mids(kind)[0],
                        "producer_id": _producer(notes, other, kind),
                    },
                )
        for endpoint in (a, b):
            video = await frames(endpoint.track(endpoint.slot_mids("video")[0]), 5)
            assert all(f.width == 320 and f.height == 240 for f in video)
            assert (
                len({int(f.to_ndarray(format="rgb24")[120, 160, 0]) for f in video}) > 1
            )  # moving
            audio = await frames(endpoint.track(endpoint.slot_mids("audio")[0]), 25)
            samples = numpy.concatenate([f.to_ndarray().ravel() for f in audio[-10:]])
            assert numpy.abs(samples).max() > 1000  # the tone, not silence
        for name in ("a", "b"):
            stats = await worker.request("transport.stats", {"transport_id": name})
            assert all(s["sent"] > 0 and s["dropped"] == 0 for s in stats["slots"].values()), stats
            assert stats["unroutable"] == 0
        # The SFU's own aiortc receivers never saw a packet: nothing was decoded there.
        for transport in worker.transports.values():
            for t in transport.pc.getTransceivers():
                inbound = [
                    s for s in (await t.receiver.getStats()).values() if s.type == "inbound-rtp"
                ]
                assert sum(s.packetsReceived for s in inbound) == 0
    finally:
        await worker.close()
        await a.close()
        await b.close()


async def test_a_slot_moves_to_another_producer_without_breaking_the_stream():
    notes = Recorder()
    worker = Worker(notes)
    viewer, one, two = (
        Endpoint(audio=False, video=False),
        Endpoint(audio=False),
        Endpoint(audio=False),
    )
    try:
        await worker.request("router.create", {"router_id": "m"})
        viewer.add_slots(audio=0, video=1)
        await _connect(worker, "m", "viewer", viewer)
        await _connect(worker, "m", "one", one)
        await _connect(worker, "m", "two", two)
        mid = viewer.slot_mids("video")[0]
        track = viewer.track(mid)
        await worker.request(
            "consumer.assign",
            {"transport_id": "viewer", "mid": mid, "producer_id": _producer(notes, "one", "video")},
        )
        await frames(track, 5)
        await worker.request(
            "consumer.assign",
            {"transport_id": "viewer", "mid": mid, "producer_id": _producer(notes, "two", "video")},
        )
        await frames(track, 10)  # keeps decoding after the switch
        consumer = worker.transports["viewer"].slots[mid].consumer
        assert consumer.switches == 1 and consumer.producer.id == _producer(notes, "two", "video")
        # The output sequence continued: two epochs, the second starting right after the first.
        first, second = list(consumer.epochs)[-2:]
        assert second.first_sequence != first.first_sequence
    finally:
        await worker.close()
        for e in (viewer, one, two):
            await e.close()


async def test_bad_requests_are_refused_with_codes():
    worker = Worker(Recorder())
    try:
        await worker.request("router.create", {"router_id": "m"})
        await worker.request("transport.create", {"router_id": "m", "transport_id": "t"})
        for method, params, code in (
            ("nope", {}, "bad_request"),
            ("transport.negotiate", {"transport_id": "t", "sdp": "v=0\r\nnot sdp\r\n"}, "bad_sdp"),
            ("transport.negotiate", {"transport_id": "missing", "sdp": "v=0"}, "not_found"),
            (
                "consumer.assign",
                {"transport_id": "t", "mid": "9", "producer_id": None},
                "not_found",
            ),
        ):
            try:
                await worker.request(method, params)
            except MediaError as exc:
                assert exc.code == code, (method, exc.code)
            else:
                raise AssertionError(f"{method} accepted")
        assert await worker.request("transport.stats", {"transport_id": "t"})
    finally:
        await worker.close()


async def test_closing_a_transport_removes_its_producers():
    notes = Recorder()
    worker = Worker(notes)
    a = Endpoint()
    try:
        await worker.request("router.create", {"router_id": "m"})
        await _connect(worker, "m", "a", a)
        await worker.request("transport.close", {"transport_id": "a"})
        assert len(notes.of("producer.removed")) == 2
        assert notes.of("transport.closed")[0]["transport_id"] == "a"
        assert worker.routers["m"].producers == {}
        await asyncio.sleep(0)
    finally:
        await worker.close()
        await a.close()


async def test_consumers_send_sender_reports_on_the_publishers_timeline():
    """SRs carry the consumer's own SSRC, counts, and an NTP/RTP pair that matches its packets."""
    notes = Recorder()
    worker = Worker(notes)
    publisher, viewer = Endpoint(), Endpoint(audio=False, video=False)
    last_packet: dict[int, tuple[int, float]] = {}  # SSRC → (RTP timestamp, wall time)
    checked: list[float] = []  # |SR timeline − packet timeline| in seconds
    reports: list[rtcp.SenderReport] = []
    try:
        await worker.request("router.create", {"router_id": "m"})
        await _connect(worker, "m", "pub", publisher)
        viewer.add_slots(audio=1, video=1)
        await _connect(worker, "m", "viewer", viewer)
        transport = viewer.pc.getTransceivers()[0].receiver.transport
        rates = {}
        for kind in ("audio", "video"):
            mid = viewer.slot_mids(kind)[0]
            consumer = worker.transports["viewer"].slots[mid].consumer
            rates[consumer.ssrc] = 48000 if kind == "audio" else 90000
            await worker.request(
                "consumer.assign",
                {
                    "transport_id": "viewer",
                    "mid": mid,
                    "producer_id": _producer(notes, "pub", kind),
                },
            )

        def packet(data: bytes, _: int) -> None:
            header = rtp.parse_header(data)
            last_packet[header.ssrc] = (header.timestamp, time.time())

        def report(data: bytes) -> None:
            for item in rtcp.items(data):
                sr = rtcp.parse_sender_report(item)
                if sr is None or sr.ssrc not in last_packet:
                    continue
                reports.append(sr)
                timestamp, wall = last_packet[sr.ssrc]
                media_elapsed = ((sr.rtp_timestamp - timestamp) & 0xFFFFFFFF) / rates[sr.ssrc]
                if media_elapsed > 2**31 / rates[sr.ssrc]:
                    media_elapsed -= 2**32 / rates[sr.ssrc]
                checked.append(abs(media_elapsed - (ntp_to_unix(sr.ntp) - wall)))

        observe_rtp(transport, packet)
        tap_rtcp(transport, report)
        await frames(viewer.track(viewer.slot_mids("video")[0]), 90)
        assert {sr.ssrc for sr in reports} == set(rates), "an SR for each consumer"
        assert all(sr.packet_count > 0 and sr.octet_count > 0 for sr in reports)
        # The SR's NTP/RTP pair agrees with the packets (same machine, so one wall clock): a
        # stream's SR lands on its own timeline, not a few seconds off it.
        assert max(checked) < 0.2, checked
    finally:
        await worker.close()
        await publisher.close()
        await viewer.close()


async def test_a_screen_share_that_stops_sending_ends_its_producer_and_can_start_again():
    """The browser ends a share by setting its m-section inactive (and reuses it for the next
    share): the SFU closes that producer only, and a later sendonly offer publishes anew."""
    from tests.media.peers import ColourTrack

    notes = Recorder()
    worker = Worker(notes)
    a = Endpoint()
    try:
        await worker.request("router.create", {"router_id": "m"})
        screen = a.pc.addTransceiver(ColourTrack(640, 360), direction="sendonly")
        a._publish.append(("screen", screen.sender))
        await _connect(worker, "m", "a", a)
        added = {p["source"]: p["producer_id"] for p in notes.of("producer.added")}
        assert set(added) == {"microphone", "camera", "screen"}

        screen.direction = "inactive"
        answer = await worker.request(
            "transport.negotiate", {"transport_id": "a", **(await a.offer())}
        )
        await a.accept(answer)
        assert [p["producer_id"] for p in notes.of("producer.removed")] == [added["screen"]]
        assert set(worker.routers["m"].producers) == {added["microphone"], added["camera"]}

        screen.direction = "sendonly"
        answer = await worker.request(
            "transport.negotiate", {"transport_id": "a", **(await a.offer())}
        )
        await a.accept(answer)
        shares = [p for p in notes.of("producer.added") if p["source"] == "screen"]
        assert len(shares) == 2
        assert shares[-1]["producer_id"] in worker.routers["m"].producers
    finally:
        await worker.close()
        await a.close()
