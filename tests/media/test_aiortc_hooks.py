"""The aiortc hooks against real peers: fails loudly if an aiortc upgrade moves the internals."""

import asyncio

import aiortc
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import VideoStreamTrack

from media import rtp
from media.aiortc_hooks import PINNED_AIORTC, check_aiortc, tap_rtp, untap_rtp


def test_pinned_version_and_internals_are_present():
    assert aiortc.__version__ == PINNED_AIORTC
    check_aiortc()


async def _connected_pair() -> tuple[RTCPeerConnection, RTCPeerConnection, VideoStreamTrack]:
    config = RTCConfiguration(iceServers=[])  # no public STUN server: loopback only
    sender, receiver = RTCPeerConnection(config), RTCPeerConnection(config)
    track = VideoStreamTrack()
    sender.addTrack(track)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    return sender, receiver, track


async def test_tap_takes_decrypted_rtp_before_any_receiver():
    sender, receiver, _ = await _connected_pair()
    try:
        transport = receiver.getTransceivers()[0].receiver.transport
        packets: list[bytes] = []
        tap_rtp(transport, lambda data, arrival_ms: packets.append(data))
        remote = receiver.getTransceivers()[0].receiver.track
        for _ in range(200):
            if len(packets) >= 20:
                break
            await asyncio.sleep(0.05)
        assert len(packets) >= 20, "no RTP reached the tap"
        headers = [rtp.parse_header(p) for p in packets]
        sent_ssrc = sender.getSenders()[0]._ssrc
        assert {h.ssrc for h in headers} == {sent_ssrc}
        assert all(not rtp.is_rtcp(p) for p in packets)
        sequences = [h.sequence for h in headers]
        assert sequences == sorted(sequences) or max(sequences) - min(sequences) > 60000
        # Nothing reached aiortc's receiver: no frame was depacketised or decoded.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(remote.recv(), timeout=0.5)
        # Untapped, the stock path works again (frames are decoded).
        untap_rtp(transport)
        frame = await asyncio.wait_for(remote.recv(), timeout=10)
        assert frame.width > 0
    finally:
        await sender.close()
        await receiver.close()
