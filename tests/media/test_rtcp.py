"""media.rtcp against aiortc's own RTCP parser and serializer, in both directions."""

import random
import struct

import pytest
from aiortc.rtp import (
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)

from media import rtcp


def _one(data: bytes) -> rtcp.RtcpItem:
    found = list(rtcp.items(data))
    assert len(found) == 1
    return found[0]


def _random_block(rnd: random.Random) -> rtcp.ReportBlock:
    return rtcp.ReportBlock(
        ssrc=rnd.randrange(1 << 32),
        fraction_lost=rnd.randrange(256),
        cumulative_lost=rnd.randrange(-(1 << 23), 1 << 23),
        highest_sequence=rnd.randrange(1 << 32),
        jitter=rnd.randrange(1 << 32),
        lsr=rnd.randrange(1 << 32),
        dlsr=rnd.randrange(1 << 32),
    )


def _aiortc_block(block: rtcp.ReportBlock) -> RtcpReceiverInfo:
    return RtcpReceiverInfo(
        ssrc=block.ssrc,
        fraction_lost=block.fraction_lost,
        packets_lost=block.cumulative_lost,
        highest_sequence=block.highest_sequence,
        jitter=block.jitter,
        lsr=block.lsr,
        dlsr=block.dlsr,
    )


# --- NACK ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_nack_we_build_is_what_aiortc_reads(seed):
    rnd = random.Random(seed)
    start = rnd.randrange(1 << 16)  # some runs cross 65535 → 0
    lost = sorted({(start + rnd.randrange(300)) & 0xFFFF for _ in range(rnd.randrange(1, 60))})
    rnd.shuffle(lost)
    data = rtcp.nack(0x1111, 0x2222, lost)
    (packet,) = RtcpPacket.parse(data)
    assert isinstance(packet, RtcpRtpfbPacket) and packet.fmt == 1
    assert (packet.ssrc, packet.media_ssrc) == (0x1111, 0x2222)
    # aiortc does not wrap PID + offset at 2^16; the numbers are the same modulo 2^16.
    assert sorted(s & 0xFFFF for s in packet.lost) == sorted(lost)
    # Ours reads them back in wrap-aware order, each once.
    item = _one(data)
    assert rtcp.is_nack(item) and item.media_ssrc == 0x2222
    parsed = rtcp.parse_nack(item)
    assert sorted(parsed) == sorted(lost) and len(parsed) == len(lost)


@pytest.mark.parametrize("seed", range(30))
def test_nack_aiortc_builds_is_what_we_read(seed):
    rnd = random.Random(seed)
    start = rnd.randrange((1 << 16) - 400)  # aiortc's builder cannot cross the wrap
    lost = sorted({start + rnd.randrange(400) for _ in range(rnd.randrange(1, 80))})
    packet = RtcpRtpfbPacket(fmt=1, ssrc=7, media_ssrc=9, lost=lost)
    item = _one(bytes(packet))
    assert (item.sender_ssrc, item.media_ssrc) == (7, 9)
    assert rtcp.parse_nack(item) == lost


def test_nack_across_the_wrap_packs_into_one_fci():
    data = rtcp.nack(1, 2, [0, 65535, 1, 65534, 14])
    assert len(data) == 16  # header, media SSRC, one FCI
    pid, blp = struct.unpack_from("!HH", data, 12)
    assert pid == 65534 and blp == 0b1000_0000_0000_0111
    assert rtcp.parse_nack(_one(data)) == [65534, 65535, 0, 1, 14]
    with pytest.raises(ValueError):
        rtcp.nack(1, 2, [])


def test_nack_parse_ignores_other_feedback():
    assert rtcp.parse_nack(_one(rtcp.pli(1, 2))) == []
    assert not rtcp.is_nack(_one(rtcp.pli(1, 2)))


# --- SR / RR ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_sender_report_with_cname_is_what_aiortc_reads(seed):
    rnd = random.Random(seed)
    blocks = [_random_block(rnd) for _ in range(rnd.randrange(4))]
    cname = "".join(rnd.choice("abcdef0123-") for _ in range(rnd.randrange(1, 40)))
    fields = [rnd.randrange(1 << 32), rnd.randrange(1 << 64)] + [
        rnd.randrange(1 << 32) for _ in range(3)
    ]
    data = rtcp.sender_report(*fields, reports=blocks, cname=cname)
    sr, sdes = RtcpPacket.parse(data)
    assert isinstance(sr, RtcpSrPacket) and isinstance(sdes, RtcpSdesPacket)
    info = sr.sender_info
    assert [
        sr.ssrc,
        info.ntp_timestamp,
        info.rtp_timestamp,
        info.packet_count,
        info.octet_count,
    ] == fields
    assert sr.reports == [_aiortc_block(b) for b in blocks]
    assert [(c.ssrc, c.items) for c in sdes.chunks] == [(fields[0], [(1, cname.encode())])]
    # And ours reads it back.
    sr_item, sdes_item = rtcp.items(data)
    report = rtcp.parse_sender_report(sr_item)
    assert report == rtcp.SenderReport(*fields, reports=tuple(blocks))
    assert sdes_item.packet_type == rtcp.PT_SDES and sdes_item.sender_ssrc == fields[0]


@pytest.mark.parametrize("seed", range(20))
def test_sender_report_aiortc_builds_is_what_we_read(seed):
    rnd = random.Random(seed)
    blocks = [_random_block(rnd) for _ in range(rnd.randrange(5))]
    packet = RtcpSrPacket(
        ssrc=rnd.randrange(1 << 32),
        sender_info=RtcpSenderInfo(
            ntp_timestamp=rnd.randrange(1 << 64),
            rtp_timestamp=rnd.randrange(1 << 32),
            packet_count=rnd.randrange(1 << 32),
            octet_count=rnd.randrange(1 << 32),
        ),
        reports=[_aiortc_block(b) for b in blocks],
    )
    sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=packet.ssrc, items=[(1, b"cname")])])
    sr_item, _ = rtcp.items(bytes(packet) + bytes(sdes))
    report = rtcp.parse_sender_report(sr_item)
    assert report is not None
    assert report.ssrc == packet.ssrc
    assert report.ntp == packet.sender_info.ntp_timestamp
    assert report.rtp_timestamp == packet.sender_info.rtp_timestamp
    assert report.packet_count == packet.sender_info.packet_count
    assert report.octet_count == packet.sender_info.octet_count
    assert list(report.reports) == blocks
    assert rtcp.parse_report_blocks(sr_item) == blocks


@pytest.mark.parametrize("seed", range(20))
def test_receiver_report_blocks_both_ways(seed):
    rnd = random.Random(seed)
    blocks = [_random_block(rnd) for _ in range(rnd.randrange(1, 6))]
    # aiortc → ours
    theirs = RtcpRrPacket(ssrc=42, reports=[_aiortc_block(b) for b in blocks])
    item = _one(bytes(theirs))
    assert item.packet_type == rtcp.PT_RR and item.sender_ssrc == 42
    assert rtcp.parse_report_blocks(item) == blocks
    assert rtcp.parse_sender_report(item) is None
    # ours → aiortc
    (parsed,) = RtcpPacket.parse(rtcp.receiver_report(42, blocks))
    assert isinstance(parsed, RtcpRrPacket)
    assert parsed.ssrc == 42 and parsed.reports == [_aiortc_block(b) for b in blocks]


def test_cumulative_lost_is_signed_and_clamped():
    block = rtcp.ReportBlock(1, 64, -3, 70000, 5, 0, 0)
    (read,) = rtcp.parse_report_blocks(_one(rtcp.receiver_report(9, [block])))
    assert read.cumulative_lost == -3 and read.loss == 0.25
    huge = rtcp.ReportBlock(1, 0, 1 << 30, 0, 0, 0, 0)
    (read,) = rtcp.parse_report_blocks(_one(rtcp.receiver_report(9, [huge])))
    assert read.cumulative_lost == (1 << 23) - 1


def test_truncated_report_raises_and_padding_is_removed():
    data = bytearray(rtcp.receiver_report(9, [rtcp.ReportBlock(1, 0, 0, 0, 0, 0, 0)]))
    data[0] = 0x82  # claims two blocks, carries one
    with pytest.raises(ValueError):
        rtcp.parse_report_blocks(_one(bytes(data)))
    # A padded RR (P bit, 4 octets of padding, the last one counting them).
    padded = bytearray(rtcp.receiver_report(9, [rtcp.ReportBlock(1, 2, 3, 4, 5, 6, 7)]))
    padded[0] |= 0x20
    padded[2:4] = struct.pack("!H", len(padded) // 4)
    padded += b"\x00\x00\x00\x04"
    (parsed,) = RtcpPacket.parse(bytes(padded))  # aiortc accepts it
    assert isinstance(parsed, RtcpRrPacket)
    item = _one(bytes(padded))
    assert rtcp.parse_report_blocks(item) == [rtcp.ReportBlock(1, 2, 3, 4, 5, 6, 7)]
    assert len(item.body) == 24


def test_sdes_cname_pads_to_words_with_at_least_one_null():
    for length in range(1, 12):
        data = rtcp.sdes_cname(5, "x" * length)
        assert len(data) % 4 == 0
        (sdes,) = RtcpPacket.parse(data)
        assert isinstance(sdes, RtcpSdesPacket)
        assert sdes.chunks[0].items == [(1, b"x" * length)]


# --- REMB, PLI, FIR -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bitrate", [0, 1, 150_000, 0x3FFFF, 0x40000, 1_234_567, 2_500_000, 987_654_321]
)
def test_remb_both_ways(bitrate):
    ssrcs = [0xDEADBEEF, 3]
    data = rtcp.remb(0x77, bitrate, ssrcs)
    (packet,) = RtcpPacket.parse(data)
    assert isinstance(packet, RtcpPsfbPacket) and packet.fmt == 15
    assert packet.ssrc == 0x77 and packet.media_ssrc == 0
    theirs_bitrate, theirs_ssrcs = unpack_remb_fci(packet.fci)
    ours = rtcp.parse_remb(_one(data))
    assert ours == rtcp.Remb(theirs_bitrate, tuple(theirs_ssrcs))
    assert theirs_ssrcs == ssrcs
    # Rounded down to an 18-bit mantissa, never up.
    assert bitrate * (1 - 2**-17) <= ours.bitrate <= bitrate
    # aiortc's encoding → ours
    aiortc_data = bytes(RtcpPsfbPacket(15, 0x77, 0, pack_remb_fci(bitrate, ssrcs)))
    assert rtcp.parse_remb(_one(aiortc_data)) == ours


def test_remb_is_not_mistaken_for_other_feedback():
    pli = _one(rtcp.pli(1, 2))
    assert rtcp.parse_remb(pli) is None and rtcp.wants_keyframe(pli)
    (packet,) = RtcpPacket.parse(rtcp.pli(1, 2))
    assert isinstance(packet, RtcpPsfbPacket) and (packet.fmt, packet.media_ssrc) == (1, 2)
    other_afb = _one(bytes(RtcpPsfbPacket(15, 1, 0, b"ABCD\x00\x00\x00\x00")))
    assert rtcp.parse_remb(other_afb) is None
    truncated = _one(bytes(RtcpPsfbPacket(15, 1, 0, b"REMB\x02\x00\x00\x01\x00\x00\x00\x01")))
    with pytest.raises(ValueError):
        rtcp.parse_remb(truncated)


def test_fir_requests():
    fci = struct.pack("!IB3x", 0xABC, 7) + struct.pack("!IB3x", 0xDEF, 200)
    data = bytes(RtcpPsfbPacket(4, 1, 0, fci))
    item = _one(data)
    assert rtcp.wants_keyframe(item)
    assert rtcp.parse_fir(item) == [(0xABC, 7), (0xDEF, 200)]
    assert rtcp.parse_fir(_one(rtcp.pli(1, 2))) == []


def test_compound_from_aiortc_walks_every_part():
    rr = RtcpRrPacket(ssrc=1, reports=[_aiortc_block(_random_block(random.Random(1)))])
    nack = RtcpRtpfbPacket(fmt=1, ssrc=1, media_ssrc=2, lost=[10, 12, 40])
    remb = RtcpPsfbPacket(15, 1, 0, pack_remb_fci(300_000, [2]))
    found = list(rtcp.items(bytes(rr) + bytes(nack) + bytes(remb) + rtcp.pli(1, 2)))
    assert [(i.packet_type, i.fmt) for i in found] == [(201, 1), (205, 1), (206, 15), (206, 1)]
    assert rtcp.parse_nack(found[1]) == [10, 12, 40]
    remb_found = rtcp.parse_remb(found[2])
    assert remb_found is not None and remb_found.bitrate == 300_000
