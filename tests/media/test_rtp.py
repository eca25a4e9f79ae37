"""media.rtp against aiortc's own RTP parser and serializer."""

import random

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media import rtp

_EXT_MAP = HeaderExtensionsMap()
_EXT_MAP.configure(
    RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(
                id=1, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"
            ),
            RTCRtpHeaderExtensionParameters(id=4, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
            RTCRtpHeaderExtensionParameters(
                id=10, uri="urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
            ),
        ]
    )
)


def _packet(seed: int, with_extensions: bool) -> RtpPacket:
    rnd = random.Random(seed)
    packet = RtpPacket(
        payload_type=rnd.choice([96, 97, 111, 125]),
        marker=rnd.random() < 0.5,
        sequence_number=rnd.randrange(1 << 16),
        timestamp=rnd.randrange(1 << 32),
        ssrc=rnd.randrange(1 << 32),
        payload=bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 1200))),
    )
    packet.csrc = [rnd.randrange(1 << 32) for _ in range(rnd.randrange(3))]
    if with_extensions:
        packet.extensions.audio_level = (rnd.random() < 0.5, rnd.randrange(128))
        packet.extensions.mid = str(rnd.randrange(10))
        packet.extensions.rtp_stream_id = rnd.choice(["h", "m", "l"])
    return packet


@pytest.mark.parametrize("seed", range(40))
def test_header_matches_aiortc(seed: int):
    packet = _packet(seed, with_extensions=seed % 2 == 0)
    data = packet.serialize(_EXT_MAP)
    header = rtp.parse_header(data)
    assert (header.payload_type, header.marker, header.sequence, header.timestamp, header.ssrc) == (
        packet.payload_type,
        packet.marker,
        packet.sequence_number,
        packet.timestamp,
        packet.ssrc,
    )
    assert data[header.header_length :] == packet.payload
    found = rtp.extensions(data, header)
    if seed % 2 == 0:
        assert rtp.audio_level(found[1]) == packet.extensions.audio_level
        assert found[4].decode() == packet.extensions.mid
        assert found[10].decode() == packet.extensions.rtp_stream_id
    else:
        assert found == {}


@pytest.mark.parametrize("seed", range(10))
def test_forwarded_changes_only_the_four_fields(seed: int):
    packet = _packet(seed, with_extensions=True)
    data = packet.serialize(_EXT_MAP)
    header = rtp.parse_header(data)
    block = data[12 + 4 * (data[0] & 0x0F) : header.header_length]  # the publisher's own
    out = rtp.forwarded(data, header, 100, 70000 + seed, (1 << 32) + 5, 1234, block)
    again = RtpPacket.parse(out, _EXT_MAP)
    assert again.payload_type == 100 and again.marker == packet.marker
    assert again.sequence_number == (70000 + seed) & 0xFFFF
    assert again.timestamp == 5 and again.ssrc == 1234
    assert again.payload == packet.payload and again.csrc == packet.csrc
    assert again.extensions.mid == packet.extensions.mid


def test_rtcp_is_told_apart_from_rtp():
    assert rtp.is_rtcp(bytes([0x80, 200, 0, 6]))  # sender report
    assert rtp.is_rtcp(bytes([0x81, 206, 0, 2]))  # PLI (payload-specific feedback)
    assert not rtp.is_rtcp(bytes([0x80, 96, 0, 1]))
    assert not rtp.is_rtcp(bytes([0x80, 0x80 | 111, 0, 1]))  # marker + Opus


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x60\x00",  # shorter than the fixed header
        bytes([0x40, 96]) + bytes(10),  # version 1
        bytes([0x83, 96]) + bytes(10),  # claims 3 CSRCs, has none
        bytes([0x90, 96]) + bytes(10) + b"\xbe\xde",  # truncated extension header
        bytes([0x90, 96]) + bytes(10) + b"\xbe\xde\x00\x05",  # extension longer than packet
        bytes([0xA0, 96]) + bytes(10) + b"\x01\x09",  # padding count larger than payload
    ],
)
def test_malformed_packets_are_refused(data: bytes):
    with pytest.raises(ValueError):
        rtp.parse_header(data)


@pytest.mark.parametrize("seed", range(10))
def test_forwarded_copy_replaces_the_extension_block(seed: int):
    packet = _packet(seed, with_extensions=seed % 2 == 0)
    data = packet.serialize(_EXT_MAP)
    header = rtp.parse_header(data)
    block = rtp.extension_block([(1, bytes([0x80 | seed]))])  # subscriber's IDs: level only
    copy = rtp.forwarded(data, header, 101, 65536 + seed, (1 << 32) + seed, 99, block)
    again = RtpPacket.parse(copy, _EXT_MAP)
    assert isinstance(copy, bytes)
    assert copy.endswith(data[header.header_length :])  # payload and padding untouched
    assert again.extensions.audio_level == (True, seed) and again.extensions.mid is None
    assert again.payload_type == 101 and again.payload == packet.payload
    assert again.sequence_number == seed and again.timestamp == seed and again.ssrc == 99


@pytest.mark.parametrize("seed", range(6))
def test_write_forwarded_writes_what_forwarded_returns(seed: int):
    packet = _packet(seed, with_extensions=seed % 2 == 0)
    data = packet.serialize(_EXT_MAP)
    header = rtp.parse_header(data)
    block = rtp.extension_block([(1, bytes([seed]))]) if seed % 3 else b""
    expected = rtp.forwarded(data, header, 101, 7 + seed, 9 + seed, 99, block)
    out = bytearray(b"\xaa" * 2000)
    length = rtp.write_forwarded(out, data, header, 101, 7 + seed, 9 + seed, 99, block)
    assert length == len(expected) == rtp.forwarded_length(data, header, block)
    assert bytes(out[:length]) == expected
    assert out[length:] == b"\xaa" * (2000 - length)  # nothing written past the packet


def test_write_forwarded_refuses_a_buffer_too_small():
    data = _packet(1, with_extensions=True).serialize(_EXT_MAP)
    header = rtp.parse_header(data)
    out = bytearray(rtp.forwarded_length(data, header, b"") - 1)
    with pytest.raises(ValueError):
        rtp.write_forwarded(out, data, header, 100, 1, 2, 3, b"")
