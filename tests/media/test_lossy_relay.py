"""The lossy relay, alone and between two real aiortc peers whose RTP it drops.

The peer tests show the whole NACK loop on a real (loopback) network path: the relay drops
video RTP, the receiver's NACKs (read with media.rtcp from the sender's RTCP) name exactly
the dropped packets, the sender retransmits them, and the receiver ends with no gap.
"""

import asyncio
import re
from collections.abc import Callable

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import VideoStreamTrack

from media import rtcp
from media.aiortc_hooks import tap_rtcp
from tests.media.lossy_relay import (
    TO_CLIENT,
    LossyRelay,
    RtpOnly,
    candidate_addresses,
    every_nth,
    host_candidate,
    kind,
    route_through,
    rtp_fields,
    rtp_only,
)

STUN_LIKE = b"\x00\x01\x00\x00" + bytes(16)
DTLS_LIKE = b"\x16\xfe\xfd" + bytes(10)


def _rtp(seq: int, payload_type: int = 96, ssrc: int = 7) -> bytes:
    return bytes([0x80, payload_type]) + seq.to_bytes(2, "big") + bytes(4) + ssrc.to_bytes(4, "big")


async def _until(condition: Callable[[], bool], within: float = 20.0) -> None:
    """Poll ``condition`` every 20 ms; fail the test if it is still false after ``within`` s.

    The limit only stops a broken test from hanging; nothing asserts how fast things happen.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[tuple[bytes, tuple]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport here

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.received.append((data, addr))


async def _endpoint() -> tuple[_Endpoint, tuple[str, int]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        _Endpoint, local_addr=("127.0.0.1", 0)
    )
    return protocol, transport.get_extra_info("sockname")[:2]


# --- The relay on its own -----------------------------------------------------------------


def test_rfc7983_classes():
    assert kind(STUN_LIKE) == "stun" and kind(DTLS_LIKE) == "dtls"
    assert kind(_rtp(1)) == "rtp" and kind(rtcp.pli(1, 2)) == "rtcp"
    assert kind(b"") == "other" and kind(b"\x70") == "other"
    assert rtp_fields(_rtp(513, 111, 99)) == (111, 513, 99)


async def test_relay_forwards_both_ways_and_drops_only_chosen_rtp():
    server, server_addr = await _endpoint()
    client, _ = await _endpoint()
    dropper = rtp_only(every_nth(3), payload_types={96})
    async with LossyRelay(target=server_addr, drop=dropper) as relay:
        assert client.transport is not None and server.transport is not None
        client.transport.sendto(STUN_LIKE, relay.address)
        client.transport.sendto(DTLS_LIKE, relay.address)
        for seq in range(9):
            client.transport.sendto(_rtp(seq), relay.address)
        for seq in range(3):
            client.transport.sendto(_rtp(100 + seq, payload_type=97), relay.address)  # not 96
        client.transport.sendto(rtcp.pli(1, 2), relay.address)
        await _until(lambda: len(server.received) == 2 + 6 + 3 + 1)
        assert [d for d, _ in server.received[:2]] == [STUN_LIKE, DTLS_LIKE]
        assert all(addr == relay.address for _, addr in server.received)  # all via the relay
        forwarded = [rtp_fields(d)[1] for d, _ in server.received if kind(d) == "rtp"]
        assert forwarded == [1, 2, 4, 5, 7, 8, 100, 101, 102]
        assert dropper.dropped == [(7, 0), (7, 3), (7, 6)]
        assert relay.dropped == {"rtp": 3}

        # A retransmission of a dropped packet goes through even where the predicate says drop.
        client.transport.sendto(_rtp(0), relay.address)  # RTP index 9: 9 % 3 == 0
        await _until(lambda: len(server.received) == 13)
        assert rtp_fields(server.received[-1][0])[1] == 0

        # Replies from the target go to the last client seen.
        server.transport.sendto(b"\x00\x01reply", relay.address)
        await _until(lambda: len(client.received) == 1)
        assert client.received[0] == (b"\x00\x01reply", relay.address)
    for endpoint in (server, client):
        assert endpoint.transport is not None
        endpoint.transport.close()


async def test_relay_delays_and_reorders_without_losing_anything():
    server, server_addr = await _endpoint()
    client, _ = await _endpoint()
    async with LossyRelay(target=server_addr, delay_ms=5, reorder=0.3, seed=4) as relay:
        assert client.transport is not None
        for seq in range(200):
            client.transport.sendto(_rtp(seq), relay.address)
        await _until(lambda: len(server.received) == 200)
    order = [rtp_fields(d)[1] for d, _ in server.received]
    assert sorted(order) == list(range(200)) and order != list(range(200))
    assert relay.dropped.total() == 0
    for endpoint in (server, client):
        assert endpoint.transport is not None
        endpoint.transport.close()


async def test_a_loss_rate_drops_rtp_reproducibly_and_never_stun():
    server, server_addr = await _endpoint()
    client, _ = await _endpoint()
    runs = []
    for _ in range(2):
        server.received.clear()
        async with LossyRelay(target=server_addr, drop=0.25, seed=11) as relay:
            assert client.transport is not None
            for seq in range(100):
                client.transport.sendto(STUN_LIKE, relay.address)
                client.transport.sendto(_rtp(seq), relay.address)
            await _until(lambda r=relay: r.received == 200)
            await _until(lambda r=relay: r.forwarded.total() + r.dropped.total() == 200)
            await _until(lambda r=relay: len(server.received) == r.forwarded.total())
        assert relay.forwarded["stun"] == 100 and 0 < relay.dropped["rtp"] < 100
        runs.append([rtp_fields(d)[1] for d, _ in server.received if kind(d) == "rtp"])
    assert runs[0] == runs[1]  # same seed, same losses
    for endpoint in (server, client):
        assert endpoint.transport is not None
        endpoint.transport.close()


async def test_route_through_leaves_only_the_relay_as_candidate():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTrack(VideoStreamTrack())
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        real = host_candidate(sdp)
        assert real in candidate_addresses(sdp)
        routed = route_through(sdp, 40000)
        candidates = [line for line in routed.splitlines() if line.startswith("a=candidate:")]
        assert len(candidates) == 2  # one per media section (component 1, rtcp-mux)
        assert all(" 127.0.0.1 40000 typ host" in c for c in candidates)
        lines = routed.splitlines()
        assert [line.split()[1] for line in lines if line.startswith("m=")] == ["40000"] * 2
        assert [line for line in lines if line.startswith("c=")] == ["c=IN IP4 127.0.0.1"] * 2
        assert str(real[1]) not in routed and routed.endswith("\r\n")
        # Everything else is untouched: aiortc accepts it as a remote description.
        other = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        await other.setRemoteDescription(RTCSessionDescription(routed, "offer"))
        await other.close()
    finally:
        await pc.close()


# --- Two real peers through the relay -----------------------------------------------------


def _payload_type(sdp: str, codec: str) -> int:
    match = re.search(rf"^a=rtpmap:(\d+) {codec}/", sdp, re.M)
    assert match is not None, f"{codec} not in the SDP"
    return int(match.group(1))


async def _peers_through(relay: LossyRelay, rtx: bool):
    config = RTCConfiguration(iceServers=[])
    sender, receiver = RTCPeerConnection(config), RTCPeerConnection(config)
    sender.addTrack(VideoStreamTrack())
    if not rtx:
        # Without RTX, aiortc retransmits the original packet (same SSRC and sequence number),
        # so the receiver's statistics for the stream can show the gap closing.
        vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
        sender.getTransceivers()[0].setCodecPreferences(vp8)
    await sender.setLocalDescription(await sender.createOffer())
    offer = relay.route_to(sender.localDescription.sdp)  # the relay delivers to the sender
    await receiver.setRemoteDescription(RTCSessionDescription(offer, "offer"))
    await receiver.setLocalDescription(await receiver.createAnswer())
    answer = relay.advertise(receiver.localDescription.sdp)
    await sender.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return sender, receiver, sender.localDescription.sdp


def _ssrcs(sdp: str) -> list[int]:
    return list(dict.fromkeys(int(s) for s in re.findall(r"^a=ssrc:(\d+) ", sdp, re.M)))


async def test_nacks_and_retransmissions_repair_dropped_rtp_without_rtx():
    relay = await LossyRelay().start()
    sender = receiver = None
    try:
        sender, receiver, offer = await _peers_through(relay, rtx=False)
        assert "rtx/90000" not in offer
        (media_ssrc,) = _ssrcs(offer)
        # Drop every 10th VP8 packet from the 20th to the 119th, each at most once.
        dropper = rtp_only(every_nth(10, start=20, stop=120), {_payload_type(offer, "VP8")})
        relay.drop = dropper
        forwarded: list[tuple[int, int]] = []

        def observe(direction: str, data: bytes, dropped: bool) -> None:
            if direction == TO_CLIENT and kind(data) == "rtp" and not dropped:
                _, seq, ssrc = rtp_fields(data)
                forwarded.append((ssrc, seq))

        relay.observer = observe
        nacked: set[int] = set()
        reports: list[rtcp.ReportBlock] = []

        def on_rtcp(data: bytes) -> None:
            for item in rtcp.items(data):
                if item.media_ssrc == media_ssrc:
                    nacked.update(rtcp.parse_nack(item))
                reports.extend(b for b in rtcp.parse_report_blocks(item) if b.ssrc == media_ssrc)

        tap_rtcp(sender.getSenders()[0].transport, on_rtcp)

        track = receiver.getTransceivers()[0].receiver.track
        frame = await asyncio.wait_for(track.recv(), timeout=20)
        assert frame.width == 640
        # The relay is the only path: ICE, DTLS and RTP all went through it.
        assert relay.forwarded["stun"] > 0 and relay.forwarded["dtls"] > 0
        assert relay.forwarded["rtp"] > 0

        await _until(lambda: dropper.seen >= 120, within=60)
        dropped = {seq for ssrc, seq in dropper.dropped}
        assert len(dropped) == 10 and {ssrc for ssrc, _ in dropper.dropped} == {media_ssrc}
        # Every dropped packet was NACKed, and then arrived: the sender retransmitted it.
        await _until(lambda: dropped <= nacked)
        await _until(lambda: set(dropper.dropped) <= set(forwarded))
        # The receiver's own statistics show no gap: every number up to the highest was
        # received (a packet NACKed twice arrives twice, which makes "lost" negative).
        last = max(dropped, key=lambda s: (s - min(dropped)) & 0xFFFF)

        def repaired_report() -> bool:
            return any(
                r.cumulative_lost <= 0 and 0 < (r.highest_sequence - last) & 0xFFFF < 0x8000
                for r in reports
            )

        await _until(repaired_report)
        stats = await receiver.getTransceivers()[0].receiver.getStats()
        (inbound,) = [s for s in stats.values() if s.type == "inbound-rtp"]
        assert inbound.ssrc == media_ssrc and inbound.packetsLost <= 0
        # Frames keep coming after the losses.
        frame = await asyncio.wait_for(track.recv(), timeout=20)
        assert frame.width == 640
    finally:
        for pc in (sender, receiver):
            if pc is not None:
                await pc.close()
        relay.close()


async def test_nacks_are_answered_on_the_rtx_stream():
    relay = await LossyRelay().start()
    sender = receiver = None
    try:
        sender, receiver, offer = await _peers_through(relay, rtx=True)
        media_ssrc, rtx_ssrc = _ssrcs(offer)
        assert re.search(rf"^a=ssrc-group:FID {media_ssrc} {rtx_ssrc}\r?$", offer, re.M)
        vp8, rtx_pt = _payload_type(offer, "VP8"), _payload_type(offer, "rtx")
        dropper: RtpOnly = rtp_only(every_nth(10, start=20, stop=120), {vp8})
        relay.drop = dropper
        retransmissions: list[int] = []

        def observe(direction: str, data: bytes, dropped: bool) -> None:
            if direction == TO_CLIENT and kind(data) == "rtp" and not dropped:
                payload_type, _, ssrc = rtp_fields(data)
                if (payload_type, ssrc) == (rtx_pt, rtx_ssrc):
                    retransmissions.append(ssrc)

        relay.observer = observe
        nacked: set[int] = set()

        def on_rtcp(data: bytes) -> None:
            for item in rtcp.items(data):
                if item.media_ssrc == media_ssrc:
                    nacked.update(rtcp.parse_nack(item))

        tap_rtcp(sender.getSenders()[0].transport, on_rtcp)
        track = receiver.getTransceivers()[0].receiver.track
        await asyncio.wait_for(track.recv(), timeout=20)
        await _until(lambda: dropper.seen >= 120, within=60)
        dropped = {seq for _, seq in dropper.dropped}
        assert len(dropped) == 10
        await _until(lambda: dropped <= nacked)
        # Each NACKed packet came back as an RFC 4588 packet on the RTX SSRC (the payload,
        # with the original sequence number, is encrypted: the relay can only count them).
        await _until(lambda: len(retransmissions) >= len(dropped))
        assert relay.dropped == {"rtp": 10}
        frame = await asyncio.wait_for(track.recv(), timeout=20)
        assert frame.width == 640
    finally:
        for pc in (sender, receiver):
            if pc is not None:
                await pc.close()
        relay.close()
