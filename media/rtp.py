"""RTP headers read, and consumer copies written, without building packet objects.

The forwarding path touches every packet once per consumer. Reading the fixed header and
writing the consumer's copy (``forwarded``, or ``write_forwarded`` into a send buffer) is
several times cheaper than aiortc's
``RtpPacket.parse`` + ``serialize``; ``python bench/rtp_rewrite.py`` prints both. Header
extensions are parsed only when asked for (MID/RID for routing, audio level for the speaker).
"""

import struct
from dataclasses import dataclass

RTP_VERSION = 2
_FIXED = struct.Struct("!BBHII")
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE_MASK = 0xFFF0
TWO_BYTE_PROFILE = 0x1000


@dataclass(slots=True)
class RtpHeader:
    """The fields the SFU needs, and where the header ends."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    header_length: int  # offset of the payload (after CSRCs and extensions)
    extension_profile: int | None = None
    extension_offset: int = 0  # first byte of extension data
    extension_length: int = 0  # bytes of extension data


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 demultiplexing: RTCP packet types 192–223 sit where RTP has M+PT."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def parse_header(data: bytes | bytearray | memoryview) -> RtpHeader:
    """Read the fixed header, skip CSRCs, locate extensions; raise ``ValueError`` if malformed."""
    if len(data) < 12:
        raise ValueError("RTP packet shorter than its fixed header")
    first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data, 0)
    if first >> 6 != RTP_VERSION:
        raise ValueError("not RTP version 2")
    offset = 12 + 4 * (first & 0x0F)
    header = RtpHeader(second & 0x7F, bool(second & 0x80), sequence, timestamp, ssrc, offset)
    if first & 0x10:
        if len(data) < offset + 4:
            raise ValueError("truncated RTP header extension")
        profile, words = struct.unpack_from("!HH", data, offset)
        header.extension_profile = profile
        header.extension_offset = offset + 4
        header.extension_length = 4 * words
        offset += 4 + 4 * words
        header.header_length = offset
    if offset > len(data):
        raise ValueError("RTP header longer than the packet")
    if first & 0x20 and (len(data) == offset or data[-1] == 0 or data[-1] > len(data) - offset):
        raise ValueError("bad RTP padding")
    return header


def extensions(data: bytes | bytearray | memoryview, header: RtpHeader) -> dict[int, bytes]:
    """Header extension elements by id (RFC 8285 one-byte and two-byte forms)."""
    found: dict[int, bytes] = {}
    if header.extension_profile is None:
        return found
    pos = header.extension_offset
    end = pos + header.extension_length
    if header.extension_profile == ONE_BYTE_PROFILE:
        while pos < end:
            byte = data[pos]
            if byte == 0:  # padding
                pos += 1
                continue
            ext_id, length = byte >> 4, (byte & 0x0F) + 1
            if ext_id == 15:  # reserved: stop parsing (RFC 8285 §4.2)
                break
            found[ext_id] = bytes(data[pos + 1 : pos + 1 + length])
            pos += 1 + length
    elif header.extension_profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE:
        while pos + 1 < end:
            ext_id = data[pos]
            if ext_id == 0:
                pos += 1
                continue
            length = data[pos + 1]
            found[ext_id] = bytes(data[pos + 2 : pos + 2 + length])
            pos += 2 + length
    return found


def audio_level(value: bytes) -> tuple[bool, int]:
    """RFC 6464 element: (voice activity flag, level in -dBov, 0 loudest … 127 silent)."""
    return bool(value[0] & 0x80), value[0] & 0x7F


def extension_block(elements: list[tuple[int, bytes]]) -> bytes:
    """An RFC 8285 one-byte-header extension block (profile, length, elements, padding).

    Empty when there is nothing to carry: the caller then clears the X bit.
    """
    if not elements:
        return b""
    body = b"".join(
        bytes(((ext_id << 4) | (len(value) - 1),)) + value for ext_id, value in elements
    )
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("!HH", ONE_BYTE_PROFILE, len(body) // 4) + body


def forwarded(
    data: bytes,
    header: RtpHeader,
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    extension: bytes,
) -> bytes:
    """A consumer's copy of ``data`` carrying its own extension block, as new bytes.

    The publisher's extension IDs mean nothing to the subscriber (each side negotiated its
    own), and MID/RID must not leak (browsers route by MID): the SFU replaces the block with
    one in the consumer's IDs. CSRCs, padding and payload are kept as they are.
    """
    out = bytearray(forwarded_length(data, header, extension))
    write_forwarded(out, data, header, payload_type, sequence, timestamp, ssrc, extension)
    return bytes(out)


def forwarded_length(data: bytes, header: RtpHeader, extension: bytes) -> int:
    """Size of the consumer's copy that ``forwarded`` / ``write_forwarded`` produce."""
    return 12 + 4 * (data[0] & 0x0F) + len(extension) + len(data) - header.header_length


def write_forwarded(
    out: memoryview | bytearray,
    data: bytes,
    header: RtpHeader,
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    extension: bytes,
) -> int:
    """Write the consumer's copy of ``data`` (see ``forwarded``) at the start of ``out``."""
    first, middle = copy_prefix(data, extension)
    return write_copy(
        out,
        first,
        (data[1] & 0x80) | (payload_type & 0x7F),
        sequence & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc,
        middle,
        memoryview(data)[header.header_length :],
    )


def copy_prefix(data: bytes, extension: bytes) -> tuple[int, bytes]:
    """First byte and CSRCs + extension block of a copy: shared by consumers with the same IDs."""
    csrc_end = 12 + 4 * (data[0] & 0x0F)
    return (data[0] & 0xEF) | (0x10 if extension else 0), data[12:csrc_end] + extension


def write_copy(
    out: memoryview | bytearray,
    first: int,
    second: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    middle: bytes,
    payload: memoryview,
) -> int:
    """Write one consumer's copy at the start of ``out``; its length.

    The fan-out path writes straight into the buffer SRTP protects in place, so a forwarded
    packet is copied once per consumer and no bytes object is made for it; everything that
    does not depend on the consumer (``copy_prefix``, the payload view) is computed once per
    packet. ``second`` is the marker bit with the payload type; ``sequence`` and
    ``timestamp`` must already be in range. Raises ``ValueError`` if it does not fit.
    """
    body = 12 + len(middle)
    end = body + len(payload)
    if end > len(out):
        raise ValueError("forwarded packet does not fit the buffer")
    _FIXED.pack_into(out, 0, first, second, sequence, timestamp, ssrc)
    out[12:body] = middle
    out[body:end] = payload
    return end
