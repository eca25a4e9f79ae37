"""Forwarding through the Worker with real aiortc endpoints: keyframes, numbering, isolation."""

import asyncio
from itertools import pairwise

from media import rtp
from media.aiortc_hooks import RtpSendPath, observe_rtp
from media.forwarding import KeyframeRequester
from media.worker import Worker
from tests.media.peers import Endpoint, frames
from tests.media.test_sfu import Recorder, _connect, _producer


async def test_late_subscriber_gets_a_keyframe_within_500_ms():
    notes = Recorder()
    worker = Worker(notes)
    publisher = Endpoint(audio=False)
    early, late = Endpoint(audio=False, video=False), Endpoint(audio=False, video=False)
    try:
        await worker.request("router.create", {"router_id": "m"})
        await _connect(worker, "m", "pub", publisher)
        video = _producer(notes, "pub", "video")
        early.add_slots(audio=0, video=1)
        await _connect(worker, "m", "early", early)
        mid = early.slot_mids("video")[0]
        await worker.request(
            "consumer.assign", {"transport_id": "early", "mid": mid, "producer_id": video}
        )
        await frames(early.track(mid), 10)
        await asyncio.sleep(1.0)  # well past the first keyframe: aiortc sends the next only on PLI
        requests = worker.routers["m"].producers[video].layers[0].keyframes
        sent_before = requests.sent

        late.add_slots(audio=0, video=1)
        await _connect(worker, "m", "late", late)
        for _ in range(200):  # ICE and DTLS up, so the clock starts at the subscription
            if late.pc.connectionState == "connected":
                break
            await asyncio.sleep(0.02)
        late_mid = late.slot_mids("video")[0]
        consumer = worker.transports["late"].slots[late_mid].consumer
        loop = asyncio.get_running_loop()
        added = loop.time()
        await worker.request(
            "consumer.assign", {"transport_id": "late", "mid": late_mid, "producer_id": video}
        )
        while consumer.waiting_for_keyframe and loop.time() - added < 5:  # noqa: ASYNC110 (a flag set by the forwarding path, polled at 5 ms)
            await asyncio.sleep(0.005)
        waited = loop.time() - added
        assert not consumer.waiting_for_keyframe, "no keyframe reached the late subscriber"
        assert waited <= 0.5, f"keyframe took {waited * 1000:.0f} ms"
        assert requests.sent > sent_before  # it came from our PLI
        frame = (await frames(late.track(late_mid), 1))[0]
        assert frame.width == 320
        assert consumer.dropped == 0
    finally:
        await worker.close()
        for e in (publisher, early, late):
            await e.close()


async def test_output_numbering_continues_across_a_producer_switch():
    notes = Recorder()
    worker = Worker(notes)
    viewer, one, two = (
        Endpoint(audio=False, video=False),
        Endpoint(audio=False),
        Endpoint(audio=False),
    )
    seen: list[tuple[int, int, int]] = []  # (ssrc, sequence, timestamp) as the viewer got them
    try:
        await worker.request("router.create", {"router_id": "m"})
        viewer.add_slots(audio=0, video=1)
        await _connect(worker, "m", "viewer", viewer)
        await _connect(worker, "m", "one", one)
        await _connect(worker, "m", "two", two)
        observe_rtp(
            viewer.pc.getTransceivers()[0].receiver.transport,
            lambda data, _: seen.append(
                (h := rtp.parse_header(data)).ssrc and (h.ssrc, h.sequence, h.timestamp)
            ),
        )
        mid = viewer.slot_mids("video")[0]
        track = viewer.track(mid)
        for name in ("one", "two", "one"):
            await worker.request(
                "consumer.assign",
                {
                    "transport_id": "viewer",
                    "mid": mid,
                    "producer_id": _producer(notes, name, "video"),
                },
            )
            await frames(track, 8)
        consumer = worker.transports["viewer"].slots[mid].consumer
        assert consumer.switches == 2
        assert len({ssrc for ssrc, _, _ in seen}) == 1  # one stream, whoever is on it
        sequences = [s for _, s, _ in seen]
        steps = [(b - a) & 0xFFFF for a, b in pairwise(sequences)]
        assert all(step == 1 for step in steps), f"gaps or reordering: {sorted(set(steps))}"
        timestamps = [t for _, _, t in seen]
        assert all(
            0 <= (b - a) & 0xFFFFFFFF < 90000 for a, b in pairwise(timestamps)
        )  # never backwards, never a jump of a second or more
    finally:
        await worker.close()
        for e in (viewer, one, two):
            await e.close()


async def test_a_blocked_consumer_costs_the_others_nothing():
    notes = Recorder()
    worker = Worker(notes)
    publisher = Endpoint(audio=False)
    fine, blocked = Endpoint(audio=False, video=False), Endpoint(audio=False, video=False)
    try:
        await worker.request("router.create", {"router_id": "m"})
        await _connect(worker, "m", "pub", publisher)
        video = _producer(notes, "pub", "video")
        for name, endpoint in (("fine", fine), ("blocked", blocked)):
            endpoint.add_slots(audio=0, video=1)
            await _connect(worker, "m", name, endpoint)
            mid = endpoint.slot_mids("video")[0]
            await worker.request(
                "consumer.assign", {"transport_id": name, "mid": mid, "producer_id": video}
            )
            await frames(endpoint.track(mid), 3)
        # The blocked endpoint's link is full: its socket reports a huge write backlog.
        blocked_consumer = next(iter(worker.transports["blocked"].slots.values())).consumer
        fine_consumer = next(iter(worker.transports["fine"].slots.values())).consumer

        def full(data: object, address: object) -> int:  # what a stalled link's socket answers
            raise BlockingIOError(11, "Resource temporarily unavailable")

        stalled = RtpSendPath(blocked_consumer.transport._tx_srtp, full, ("127.0.0.1", 9))
        blocked_consumer._path = stalled
        blocked_consumer.resolve_sender = lambda: stalled  # type: ignore[method-assign]
        producer = worker.routers["m"].producers[video]
        received_before, fine_before = producer.received, fine_consumer.sent
        await frames(fine.track(fine.slot_mids("video")[0]), 20)
        forwarded = producer.received - received_before
        assert forwarded > 0
        assert blocked_consumer.dropped > 0  # it lost its own packets...
        assert fine_consumer.sent - fine_before == forwarded  # ...and the other lost none
        assert fine_consumer.dropped == 0
    finally:
        await worker.close()
        for e in (publisher, fine, blocked):
            await e.close()


async def test_keyframe_requests_are_coalesced_and_rate_limited():
    sent: list[float] = []
    loop = asyncio.get_running_loop()
    requester = KeyframeRequester(lambda: sent.append(loop.time()), min_interval=0.2)
    for _ in range(50):  # a burst of PLIs from many consumers
        requester.request()
    assert len(sent) == 1
    await asyncio.sleep(0.05)
    requester.request()
    requester.request()
    assert len(sent) == 1  # coalesced into one, scheduled at the end of the interval
    await asyncio.sleep(0.25)
    assert len(sent) == 2 and sent[1] - sent[0] >= 0.2 - 0.01
    assert requester.requests == 52
