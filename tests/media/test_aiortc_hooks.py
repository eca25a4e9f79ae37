"""The aiortc hooks against real peers: fails loudly if an aiortc upgrade moves the internals."""

import asyncio
import os

import aiortc
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import VideoStreamTrack
from pylibsrtp import Policy, Session

from media import rtp
from media.aiortc_hooks import (
    PINNED_AIORTC,
    RtpSendPath,
    SrtpError,
    check_aiortc,
    tap_rtp,
    untap_rtp,
)


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


def _srtp_pair() -> tuple[Session, Session]:
    """An outbound and an inbound SRTP session sharing one random key."""
    key = os.urandom(30)
    sessions = []
    for direction in (Policy.SSRC_ANY_OUTBOUND, Policy.SSRC_ANY_INBOUND):
        policy = Policy(key=key, ssrc_type=direction)
        sessions.append(Session(policy=policy))
    return sessions[0], sessions[1]


def test_send_path_protects_in_place_exactly_as_pylibsrtp_does():
    outbound, inbound = _srtp_pair()
    sent: list[tuple[bytes, object]] = []
    path = RtpSendPath(outbound, lambda data, to: sent.append((bytes(data), to)), ("h", 5))
    header = bytes([0x80, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 42])
    packets = [header[:3] + bytes([n]) + header[4:] + os.urandom(1100) for n in range(5)]
    for packet in packets:
        path.send_packet(packet)
    assert [to for _, to in sent] == [("h", 5)] * 5
    assert [inbound.unprotect(data) for data, _ in sent] == packets
    # Same bytes as pylibsrtp's own protect with the same key (libsrtp is deterministic).
    reference_session = Session(policy=Policy(key=b"k" * 30, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    ours = RtpSendPath(
        Session(policy=Policy(key=b"k" * 30, ssrc_type=Policy.SSRC_ANY_OUTBOUND)),
        lambda data, to: sent.append((bytes(data), to)),
        None,
    )
    ours.send_packet(packets[0])
    assert sent[-1][0] == reference_session.protect(packets[0])


def test_send_path_refuses_what_does_not_fit_and_reports_srtp_errors():
    outbound, _ = _srtp_pair()
    path = RtpSendPath(outbound, lambda data, to: 0, None)
    with pytest.raises(ValueError):
        path.send_packet(bytes(len(path.buffer) + 1))
    with pytest.raises(SrtpError):
        path.send_packet(b"\x80\x60")  # shorter than an RTP header: libsrtp refuses it
