"""Publisher → SFU (tap, Producer, Consumer) → subscriber, with real aiortc peers on loopback.

The subscriber decodes video that the SFU forwarded without decoding or re-encoding it.
"""

import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import VideoStreamTrack

from media.aiortc_hooks import outgoing_stream, tap_rtp
from media.forwarding import Consumer, Producer


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
