"""Publisher → SFU (tap, Producer, Consumer) → subscriber, with real aiortc peers on loopback.

The subscriber decodes video that the SFU forwarded without decoding or re-encoding it.
"""

import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import VideoStreamTrack

from media import rtcp, rtp
from media.aiortc_hooks import outgoing_stream, send_rtcp_nowait, tap_rtcp, tap_rtp
from media.forwarding import Consumer, KeyframeRequester, Producer


async def _negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


async def test_subscriber_decodes_forwarded_video():
    config = RTCConfiguration(iceServers=[])
    publisher, sfu_in = RTCPeerConnection(config), RTCPeerConnection(config)
    sfu_out, subscriber = RTCPeerConnection(config), RTCPeerConnection(config)
    try:
        # The SFU's leg to the subscriber: a sendonly video transceiver with no track, so
        # aiortc never encodes; the SFU writes the forwarded packets into it.
        out = sfu_out.addTransceiver("video", direction="sendonly")
        await _negotiate(sfu_out, subscriber)
        ssrc, payload_type = outgoing_stream(out, "video/VP8")
        producer = Producer()
        consumer = Consumer(out.sender.transport, ssrc, payload_type)
        producer.consumers.append(consumer)

        sfu_in.addTransceiver("video", direction="recvonly")
        publisher.addTrack(VideoStreamTrack())
        await _negotiate(publisher, sfu_in)
        tap_rtp(sfu_in.getTransceivers()[0].receiver.transport, producer.on_rtp)

        remote = subscriber.getTransceivers()[0].receiver.track
        frames = [await asyncio.wait_for(remote.recv(), timeout=20) for _ in range(5)]
        assert all(f.width == 640 and f.height == 480 for f in frames)
        assert producer.received > 0 and consumer.sent > 0 and consumer.dropped == 0
        # Nothing was decoded on the SFU's receiving side: aiortc's receiver saw no packet.
        stats = await sfu_in.getTransceivers()[0].receiver.getStats()
        inbound = [s for s in stats.values() if s.type == "inbound-rtp"]
        assert sum(s.packetsReceived for s in inbound) == 0
        # The subscriber's only peer sends no track of its own: every frame was forwarded.
        assert out.sender.track is None
    finally:
        for pc in (publisher, sfu_in, sfu_out, subscriber):
            await pc.close()


async def _subscriber_leg(config: RTCConfiguration):
    sfu_out, subscriber = RTCPeerConnection(config), RTCPeerConnection(config)
    out = sfu_out.addTransceiver("video", direction="sendonly")
    await _negotiate(sfu_out, subscriber)
    for _ in range(200):  # DTLS up: the SRTP context exists
        if getattr(out.sender.transport, "_tx_srtp", None) is not None:
            break
        await asyncio.sleep(0.02)
    return sfu_out, subscriber, out


async def test_late_subscriber_gets_a_keyframe_within_500_ms():
    config = RTCConfiguration(iceServers=[])
    publisher, sfu_in = RTCPeerConnection(config), RTCPeerConnection(config)
    legs = []
    try:
        sfu_in.addTransceiver("video", direction="recvonly")
        publisher.addTrack(VideoStreamTrack())
        await _negotiate(publisher, sfu_in)
        upstream = sfu_in.getTransceivers()[0].receiver.transport
        producer = Producer()
        producer.keyframes = KeyframeRequester(
            lambda: send_rtcp_nowait(upstream, rtcp.pli(0x5FF0, producer.ssrc or 0)),
            min_interval=0.2,
        )

        def first_packet(data: bytes, arrival_ms: int) -> None:
            if producer.ssrc is None:
                producer.ssrc = rtp.parse_header(data).ssrc
            producer.on_rtp(data, arrival_ms)

        tap_rtp(upstream, first_packet)
        early = await _subscriber_leg(config)
        legs.append(early)
        early_ssrc, early_pt = outgoing_stream(early[2], "video/VP8")
        early_consumer = Consumer(early[2].sender.transport, early_ssrc, early_pt)
        producer.add_consumer(early_consumer)
        tap_rtcp(early[2].sender.transport, producer.on_consumer_rtcp)
        early_track = early[1].getTransceivers()[0].receiver.track
        for _ in range(10):
            await asyncio.wait_for(early_track.recv(), timeout=20)
        await asyncio.sleep(1.0)  # well past the first keyframe
        requests_before = producer.keyframes.sent

        late = await _subscriber_leg(config)
        legs.append(late)
        late_ssrc, late_pt = outgoing_stream(late[2], "video/VP8")
        late_consumer = Consumer(late[2].sender.transport, late_ssrc, late_pt)
        loop = asyncio.get_running_loop()
        added = loop.time()
        producer.add_consumer(late_consumer)
        while late_consumer.waiting_for_keyframe and loop.time() - added < 5:  # noqa: ASYNC110 (a flag set by the forwarding path, polled at 5 ms)
            await asyncio.sleep(0.005)
        waited = loop.time() - added
        assert not late_consumer.waiting_for_keyframe, "no keyframe reached the late subscriber"
        assert waited <= 0.5, f"keyframe took {waited * 1000:.0f} ms"
        assert producer.keyframes.sent > requests_before  # it came from our PLI
        frame = await asyncio.wait_for(late[1].getTransceivers()[0].receiver.track.recv(), 10)
        assert frame.width == 640
        assert early_consumer.dropped == 0 and late_consumer.dropped == 0
    finally:
        if producer.keyframes is not None:
            producer.keyframes.cancel()
        for pc in (publisher, sfu_in, *(pc for leg in legs for pc in leg[:2])):
            await pc.close()


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
