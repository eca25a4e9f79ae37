"""The RTCP the SFU reads and writes itself, packed and unpacked by hand with ``struct``.

Covered: feedback headers, PLI and FIR (RFC 4585, RFC 5104), Generic NACK (RFC 4585 §6.2.1),
Sender and Receiver Reports (RFC 3550 §6.4) with an SDES CNAME chunk for compound packets
(RFC 3550 §6.5), and REMB (draft-alvestrand-rmcat-remb-03).

Why not ``aiortc.rtp.RtcpPacket``: every consumer's receiver reports, NACKs and REMBs pass
through here, and aiortc builds a dataclass per packet and per report block, concatenates
``bytes`` piecewise and validates as it goes. The SFU only needs a few integers out of each
packet, so it reads them straight from the datagram; tests/media/test_rtcp.py checks every
encoder and parser here against aiortc's own parser in both directions.
"""

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

PT_SR, PT_RR, PT_SDES, PT_RTPFB, PT_PSFB = 200, 201, 202, 205, 206
FMT_NACK = 1  # RTPFB
FMT_PLI, FMT_FIR, FMT_AFB = 1, 4, 15  # PSFB; AFB (application layer) carries REMB
SDES_CNAME = 1
REMB_ID = b"REMB"
_HEADER = struct.Struct("!BBH")
_FEEDBACK = struct.Struct("!BBHII")
_SENDER_INFO = struct.Struct("!QIII")  # NTP, RTP timestamp, packet count, octet count
_REPORT_BLOCK = struct.Struct("!IIIIII")  # SSRC, fraction|cumulative, seq, jitter, LSR, DLSR
_SR_HEAD = struct.Struct("!BBHIQIII")  # common header, SSRC, sender info
_RR_HEAD = struct.Struct("!BBHI")
_NACK_FCI = struct.Struct("!HH")
_FIR_FCI = struct.Struct("!IB3x")
_REMB_FCI = struct.Struct("!4sBBH")
_SSRC = struct.Struct("!I")


@dataclass(frozen=True, slots=True)
class RtcpItem:
    """One packet of a compound RTCP datagram."""

    packet_type: int
    fmt: int  # report count for SR/RR, feedback message type for RTPFB/PSFB
    sender_ssrc: int
    media_ssrc: int  # feedback packets only (0 otherwise)
    body: bytes  # after the common and feedback headers, padding removed


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report block of an SR or RR (RFC 3550 §6.4.1)."""

    ssrc: int  # the source this block reports on
    fraction_lost: int  # lost since the previous report, in 1/256
    cumulative_lost: int  # signed 24-bit: duplicates can make it negative
    highest_sequence: int  # extended: cycles << 16 | highest sequence number
    jitter: int  # in RTP timestamp units
    lsr: int  # middle 32 bits of the NTP time of the last SR received, 0 if none
    dlsr: int  # delay since that SR, in 1/65536 s

    @property
    def loss(self) -> float:
        """``fraction_lost`` as a fraction of one."""
        return self.fraction_lost / 256


@dataclass(frozen=True, slots=True)
class SenderReport:
    """The sender information of an SR and the report blocks that came with it."""

    ssrc: int
    ntp: int  # 64-bit NTP timestamp (seconds since 1900 << 32 | fraction)
    rtp_timestamp: int  # the same instant on the stream's RTP clock
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class Remb:
    """A receiver's estimate of the total bitrate it can take for the listed streams."""

    bitrate: int  # bits per second
    ssrcs: tuple[int, ...]


def items(data: bytes) -> Iterator[RtcpItem]:
    """Walk a compound packet; stops quietly at the first malformed part."""
    pos = 0
    while pos + 8 <= len(data):
        first, packet_type, words = _HEADER.unpack_from(data, pos)
        end = pos + 4 * (words + 1)
        if first >> 6 != 2 or end > len(data):
            return
        sender = _SSRC.unpack_from(data, pos + 4)[0]
        media, body_start = 0, pos + 8
        if packet_type in (PT_RTPFB, PT_PSFB) and end >= pos + 12:
            media, body_start = _SSRC.unpack_from(data, pos + 8)[0], pos + 12
        body_end = end
        if first & 0x20:  # padding: its last octet counts the padding octets (RFC 3550 §6.4.1)
            body_end -= data[end - 1]
            if data[end - 1] == 0 or body_end < body_start:
                return
        yield RtcpItem(packet_type, first & 0x1F, sender, media, bytes(data[body_start:body_end]))
        pos = end


def wants_keyframe(item: RtcpItem) -> bool:
    """PLI or FIR."""
    return item.packet_type == PT_PSFB and item.fmt in (FMT_PLI, FMT_FIR)


def pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    """A Picture Loss Indication asking ``media_ssrc``'s sender for a keyframe."""
    return _FEEDBACK.pack(0x80 | FMT_PLI, PT_PSFB, 2, sender_ssrc, media_ssrc)


# --- Generic NACK (RFC 4585 §6.2.1) ---------------------------------------------------------


def is_nack(item: RtcpItem) -> bool:
    """A Generic NACK."""
    return item.packet_type == PT_RTPFB and item.fmt == FMT_NACK


def parse_nack(item: RtcpItem) -> list[int]:
    """The sequence numbers a Generic NACK reports lost, in FCI order ([] for anything else).

    Each FCI is a PID and a bitmask of the 16 sequence numbers after it (BLP); numbers wrap
    at 2^16.
    """
    if not is_nack(item):
        return []
    body = item.body
    lost: list[int] = []
    for pid, blp in _NACK_FCI.iter_unpack(body[: len(body) & ~3]):
        lost.append(pid)
        bit = 1
        while blp:
            if blp & 1:
                lost.append((pid + bit) & 0xFFFF)
            blp >>= 1
            bit += 1
    return lost


def nack(sender_ssrc: int, media_ssrc: int, lost: Iterable[int]) -> bytes:
    """A Generic NACK for ``lost`` (sequence numbers of ``media_ssrc``, any order, may wrap).

    Numbers are ordered around the first one given, so a run across 65535 → 0 packs into
    the same FCI as it would without the wrap. Needs at least one sequence number.
    """
    seqs = [s & 0xFFFF for s in lost]
    if not seqs:
        raise ValueError("a NACK needs at least one sequence number")
    ref = seqs[0]
    # Distance from ``ref`` in [-32768, 32767], so ordering survives the wrap.
    ordered = sorted(set(seqs), key=lambda s: (s - ref + 0x8000) & 0xFFFF)
    fci = bytearray()
    pid, blp = ordered[0], 0
    for seq in ordered[1:]:
        distance = (seq - pid) & 0xFFFF
        if distance <= 16:
            blp |= 1 << (distance - 1)
        else:
            fci += _NACK_FCI.pack(pid, blp)
            pid, blp = seq, 0
    fci += _NACK_FCI.pack(pid, blp)
    words = 2 + len(fci) // 4
    return _FEEDBACK.pack(0x80 | FMT_NACK, PT_RTPFB, words, sender_ssrc, media_ssrc) + fci


# --- FIR (RFC 5104 §4.3.1) -----------------------------------------------------------------


def parse_fir(item: RtcpItem) -> list[tuple[int, int]]:
    """(SSRC asked for a keyframe, command sequence number) per FIR entry ([] if not a FIR).

    The command sequence number tells a repeated request from a new one.
    """
    if item.packet_type != PT_PSFB or item.fmt != FMT_FIR:
        return []
    body = item.body
    return list(_FIR_FCI.iter_unpack(body[: len(body) - len(body) % 8]))


# --- Sender and Receiver Reports (RFC 3550 §6.4) --------------------------------------------


def _unpack_block(data: bytes, pos: int) -> ReportBlock:
    ssrc, loss_word, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, pos)
    cumulative = loss_word & 0xFFFFFF
    if cumulative & 0x800000:  # signed 24-bit
        cumulative -= 0x1000000
    return ReportBlock(ssrc, loss_word >> 24, cumulative, highest, jitter, lsr, dlsr)


def _pack_block(block: ReportBlock) -> bytes:
    # Clamp like RFC 3550 A.3: the field cannot hold more, and wrapping would flip the sign.
    cumulative = max(-0x800000, min(block.cumulative_lost, 0x7FFFFF)) & 0xFFFFFF
    return _REPORT_BLOCK.pack(
        block.ssrc,
        (block.fraction_lost & 0xFF) << 24 | cumulative,
        block.highest_sequence & 0xFFFFFFFF,
        block.jitter & 0xFFFFFFFF,
        block.lsr & 0xFFFFFFFF,
        block.dlsr & 0xFFFFFFFF,
    )


def parse_report_blocks(item: RtcpItem) -> list[ReportBlock]:
    """The report blocks of an SR or RR ([] for other packets); ``ValueError`` if truncated."""
    if item.packet_type == PT_SR:
        start = _SENDER_INFO.size
    elif item.packet_type == PT_RR:
        start = 0
    else:
        return []
    body = item.body
    if len(body) < start + 24 * item.fmt:
        raise ValueError("RTCP report shorter than its report count")
    return [_unpack_block(body, start + 24 * i) for i in range(item.fmt)]


def parse_sender_report(item: RtcpItem) -> SenderReport | None:
    """Sender information and report blocks of an SR (None for other packets)."""
    if item.packet_type != PT_SR:
        return None
    if len(item.body) < _SENDER_INFO.size:
        raise ValueError("RTCP SR shorter than its sender information")
    ntp, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(item.body, 0)
    reports = tuple(parse_report_blocks(item))
    return SenderReport(item.sender_ssrc, ntp, rtp_ts, packets, octets, reports)


def sdes_cname(ssrc: int, cname: str) -> bytes:
    """An SDES packet with one chunk: ``ssrc``'s CNAME (RFC 3550 §6.5.1)."""
    text = cname.encode()
    if len(text) > 255:
        raise ValueError("CNAME longer than 255 octets")
    # Item list ends with at least one null octet, then pads the chunk to 32 bits.
    chunk_length = 4 + 2 + len(text)
    nulls = 4 - chunk_length % 4
    words = (chunk_length + nulls) // 4
    return (
        _RR_HEAD.pack(0x81, PT_SDES, words, ssrc)
        + bytes((SDES_CNAME, len(text)))
        + text
        + bytes(nulls)
    )


def sender_report(
    ssrc: int,
    ntp: int,
    rtp_timestamp: int,
    packet_count: int,
    octet_count: int,
    reports: Sequence[ReportBlock] = (),
    cname: str | None = None,
) -> bytes:
    """An SR, followed by an SDES CNAME chunk when ``cname`` is given (a compound packet).

    RFC 3550 §6.1 wants every compound packet to start with an SR or RR and to carry a CNAME;
    browsers accept SRs without one, but the CNAME is what ties audio and video of one
    participant together for lip sync.
    """
    if len(reports) > 31:
        raise ValueError("at most 31 report blocks per SR")
    words = 6 + 6 * len(reports)
    packet = _SR_HEAD.pack(
        0x80 | len(reports),
        PT_SR,
        words,
        ssrc,
        ntp & 0xFFFFFFFFFFFFFFFF,
        rtp_timestamp & 0xFFFFFFFF,
        packet_count & 0xFFFFFFFF,
        octet_count & 0xFFFFFFFF,
    )
    parts = [packet, *(_pack_block(b) for b in reports)]
    if cname is not None:
        parts.append(sdes_cname(ssrc, cname))
    return b"".join(parts)


def receiver_report(sender_ssrc: int, reports: Sequence[ReportBlock]) -> bytes:
    """An RR with up to 31 report blocks."""
    if len(reports) > 31:
        raise ValueError("at most 31 report blocks per RR")
    head = _RR_HEAD.pack(0x80 | len(reports), PT_RR, 1 + 6 * len(reports), sender_ssrc)
    return b"".join((head, *(_pack_block(b) for b in reports)))


# --- REMB (draft-alvestrand-rmcat-remb-03) --------------------------------------------------


def is_remb(item: RtcpItem) -> bool:
    """A PSFB application-layer message carrying REMB."""
    return item.packet_type == PT_PSFB and item.fmt == FMT_AFB and item.body[:4] == REMB_ID


def parse_remb(item: RtcpItem) -> Remb | None:
    """Bitrate (bps) and SSRCs of a REMB (None for other packets); ``ValueError`` if truncated."""
    if not is_remb(item):
        return None
    body = item.body
    if len(body) < _REMB_FCI.size:
        raise ValueError("REMB shorter than its fixed part")
    _, count, exp_mantissa, mantissa_low = _REMB_FCI.unpack_from(body, 0)
    if len(body) < 8 + 4 * count:
        raise ValueError("REMB shorter than its SSRC list")
    mantissa = (exp_mantissa & 0x03) << 16 | mantissa_low
    ssrcs = struct.unpack_from(f"!{count}I", body, 8)
    return Remb(mantissa << (exp_mantissa >> 2), ssrcs)


def remb(sender_ssrc: int, bitrate: int, ssrcs: Sequence[int]) -> bytes:
    """A REMB telling the senders of ``ssrcs`` to stay under ``bitrate`` bps in total.

    The bitrate is an 18-bit mantissa and a 6-bit exponent: precision is lost (rounded down)
    above 2^18 bps, as in every implementation.
    """
    if bitrate < 0 or len(ssrcs) > 255:
        raise ValueError("negative bitrate or more than 255 SSRCs")
    exponent, mantissa = 0, int(bitrate)
    while mantissa > 0x3FFFF:
        mantissa >>= 1
        exponent += 1
    if exponent > 63:
        raise ValueError("bitrate does not fit a REMB")
    words = 2 + 2 + len(ssrcs)
    return b"".join(
        (
            # The media SSRC of the common feedback header is unused in REMB: always 0.
            _FEEDBACK.pack(0x80 | FMT_AFB, PT_PSFB, words, sender_ssrc, 0),
            _REMB_FCI.pack(REMB_ID, len(ssrcs), exponent << 2 | mantissa >> 16, mantissa & 0xFFFF),
            struct.pack(f"!{len(ssrcs)}I", *ssrcs),
        )
    )
