"""NACK under injected loss: a user-space UDP relay drops the SFU's packets to a subscriber.

The subscriber NACKs what is missing, the SFU answers from the producer's packet cache (RTX,
as negotiated), and the subscriber ends up with every packet of the stream.
"""

from media import rtp
from media.aiortc_hooks import observe_rtp
from media.worker import Worker
from tests.media.lossy_relay import LossyRelay, every_nth, rtp_only
from tests.media.peers import Endpoint, frames
from tests.media.test_sfu import Recorder, _connect, _producer


async def test_lost_packets_are_retransmitted_from_the_cache():
    notes = Recorder()
    worker = Worker(notes)
    publisher = Endpoint(audio=False, video_size=(640, 480))
    subscriber = Endpoint(audio=False, video=False)
    relay = await LossyRelay(drop=rtp_only(every_nth(15, start=30))).start()
    media: dict[int, set[int]] = {}  # SSRC → sequence numbers that arrived (RTX: the OSN)
    rtx: list[int] = []
    try:
        await worker.request("router.create", {"router_id": "m"})
        await _connect(worker, "m", "pub", publisher)
        subscriber.add_slots(audio=0, video=1)
        await worker.request("transport.create", {"router_id": "m", "transport_id": "sub"})
        offer = await subscriber.offer()
        answer = await worker.request(
            "transport.negotiate",
            {"transport_id": "sub", "sdp": relay.advertise(offer["sdp"]), "sources": {}},
        )
        await subscriber.accept({**answer, "sdp": relay.route_to(answer["sdp"])})
        mid = subscriber.slot_mids("video")[0]
        consumer = worker.transports["sub"].slots[mid].consumer
        rtx_payload_types = set(consumer.rtx_payload_types.values())

        def arrived(data: bytes, _: int) -> None:
            header = rtp.parse_header(data)
            if header.payload_type in rtx_payload_types:
                payload = data[header.header_length :]
                rtx.append(int.from_bytes(payload[:2], "big"))
                media.setdefault(consumer.ssrc, set()).add(rtx[-1])
            else:
                media.setdefault(header.ssrc, set()).add(header.sequence)

        observe_rtp(subscriber.pc.getTransceivers()[0].receiver.transport, arrived)
        await worker.request(
            "consumer.assign",
            {"transport_id": "sub", "mid": mid, "producer_id": _producer(notes, "pub", "video")},
        )
        decoded = await frames(subscriber.track(mid), 90)
        assert all(f.width == 640 for f in decoded)
        assert relay.dropped.get("rtp", 0) >= 5, relay.dropped
        assert consumer.retransmitted >= relay.dropped["rtp"] - 2  # the last may be in flight
        assert rtx, "retransmissions should use the negotiated RTX stream"
        received = media[consumer.ssrc]
        first, last = min(received), max(received)
        # Everything up to shortly before the end arrived, once or after a NACK.
        settled = [s for s in range(first, last - 20) if s not in received]
        assert settled == [], f"permanent gaps: {settled[:10]}"
        assert consumer.dropped == 0
    finally:
        relay.close()
        await worker.close()
        await publisher.close()
        await subscriber.close()


async def test_packets_lost_on_the_publishers_uplink_are_recovered_by_the_sfu():
    """The relay drops the publisher's packets: the SFU NACKs the publisher, unwraps its RTX
    answers and forwards them, so the subscriber still gets every packet and decodes."""
    notes = Recorder()
    worker = Worker(notes)
    publisher = Endpoint(audio=False, video_size=(640, 480))
    subscriber = Endpoint(audio=False, video=False)
    relay = await LossyRelay(drop=rtp_only(every_nth(15, start=30))).start()
    received: set[int] = set()
    try:
        await worker.request("router.create", {"router_id": "m"})
        await worker.request("transport.create", {"router_id": "m", "transport_id": "pub"})
        offer = await publisher.offer()
        answer = await worker.request(
            "transport.negotiate",
            {"transport_id": "pub", "sdp": relay.advertise(offer["sdp"]), "sources": {}},
        )
        await publisher.accept({**answer, "sdp": relay.route_to(answer["sdp"])})
        subscriber.add_slots(audio=0, video=1)
        await _connect(worker, "m", "sub", subscriber)
        mid = subscriber.slot_mids("video")[0]
        consumer = worker.transports["sub"].slots[mid].consumer

        def arrived(data: bytes, _: int) -> None:
            header = rtp.parse_header(data)
            if header.ssrc == consumer.ssrc:
                received.add(header.sequence)

        observe_rtp(subscriber.pc.getTransceivers()[0].receiver.transport, arrived)
        producer_id = _producer(notes, "pub", "video")
        await worker.request(
            "consumer.assign", {"transport_id": "sub", "mid": mid, "producer_id": producer_id}
        )
        decoded = await frames(subscriber.track(mid), 90)
        assert all(f.width == 640 for f in decoded)
        producer = next(iter(worker.transports["pub"].producers.values()))
        nacks = producer.layers[0].nacks
        assert nacks is not None
        assert relay.dropped.get("rtp", 0) >= 5, relay.dropped
        assert nacks.generator.asked >= relay.dropped["rtp"] - 2
        assert nacks.generator.recovered >= relay.dropped["rtp"] - 2
        assert worker.transports["pub"].unroutable == 0
        # The SFU's Receiver Reports reach the publisher: it knows its round-trip time.
        remote = [
            s
            for s in (await publisher.pc.getStats()).values()
            if s.type == "remote-inbound-rtp" and s.kind == "video"
        ]
        assert remote and remote[0].roundTripTime is not None and remote[0].roundTripTime >= 0
        # The subscriber itself lost nothing: no NACK of its own was needed for those.
        first, last = min(received), max(received)
        settled = [s for s in range(first, last - 20) if s not in received]
        assert settled == [], f"permanent gaps: {settled[:10]}"
    finally:
        relay.close()
        await worker.close()
        await publisher.close()
        await subscriber.close()
