"""The RTCP the SFU reads and writes itself: feedback headers and PLI (RFC 4585, RFC 5104)."""

import struct
from collections.abc import Iterator
from dataclasses import dataclass

PT_SR, PT_RR, PT_RTPFB, PT_PSFB = 200, 201, 205, 206
FMT_NACK = 1  # RTPFB
FMT_PLI, FMT_FIR = 1, 4  # PSFB
_HEADER = struct.Struct("!BBH")
_FEEDBACK = struct.Struct("!BBHII")


@dataclass(frozen=True, slots=True)
class RtcpItem:
    """One packet of a compound RTCP datagram."""

    packet_type: int
    fmt: int  # report count for SR/RR, feedback message type for RTPFB/PSFB
    sender_ssrc: int
    media_ssrc: int  # feedback packets only (0 otherwise)
    body: bytes  # after the common and feedback headers


def items(data: bytes) -> Iterator[RtcpItem]:
    """Walk a compound packet; stops quietly at the first malformed part."""
    pos = 0
    while pos + 8 <= len(data):
        first, packet_type, words = _HEADER.unpack_from(data, pos)
        end = pos + 4 * (words + 1)
        if first >> 6 != 2 or end > len(data):
            return
        sender = struct.unpack_from("!I", data, pos + 4)[0]
        media, body_start = 0, pos + 8
        if packet_type in (PT_RTPFB, PT_PSFB) and end >= pos + 12:
            media, body_start = struct.unpack_from("!I", data, pos + 8)[0], pos + 12
        yield RtcpItem(packet_type, first & 0x1F, sender, media, bytes(data[body_start:end]))
        pos = end


def wants_keyframe(item: RtcpItem) -> bool:
    """PLI or FIR."""
    return item.packet_type == PT_PSFB and item.fmt in (FMT_PLI, FMT_FIR)


def pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    """A Picture Loss Indication asking ``media_ssrc``'s sender for a keyframe."""
    return _FEEDBACK.pack(0x80 | FMT_PLI, PT_PSFB, 2, sender_ssrc, media_ssrc)
