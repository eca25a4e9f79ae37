"""media/codecs.py on hand-built payloads and on packets from aiortc's own encoders."""

import fractions
import random
from collections.abc import Callable

import av
import pytest
from aiortc.codecs import CODECS, depayload, get_encoder
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media.codecs import (
    Vp8PictureInfo,
    h264_keyframe_start,
    keyframe_detector,
    keyframe_start,
    vp8_keyframe_start,
    vp8_picture_info,
)

# VP8 payload header (RFC 7741 §4.3): its lowest bit P is 0 for a keyframe.
VP8_KEY, VP8_DELTA = 0x50, 0x51

# --- VP8 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "info"),
    [
        # No extensions: S=1, PID=0.
        (bytes([0x10, VP8_KEY, 0]), Vp8PictureInfo(None, None, None, True)),
        (bytes([0x10, VP8_DELTA, 0]), Vp8PictureInfo(None, None, None, False)),
        # X, I with a 7-bit picture id.
        (bytes([0x90, 0x80, 0x05, VP8_KEY]), Vp8PictureInfo(5, None, None, True)),
        # X, I (15 bits), L, T: what Chromium sends for a simulcast layer with temporal layers.
        (
            bytes([0x90, 0xE0, 0x81, 0x23, 0x42, 0b1010_0000, VP8_DELTA]),
            Vp8PictureInfo(0x123, 0x42, 2, False),
        ),
        (
            bytes([0x90, 0xE0, 0xFF, 0xFF, 0xFF, 0b0000_0000, VP8_KEY]),
            Vp8PictureInfo(0x7FFF, 0xFF, 0, True),
        ),
        # K without T: the TID/Y/KEYIDX byte is there but carries no temporal id.
        (bytes([0x90, 0x90, 0x07, 0x1F, VP8_KEY]), Vp8PictureInfo(7, None, None, True)),
        # Not the start of partition 0: the P bit is not there to read.
        (bytes([0x80, 0x80, 0x07, VP8_KEY]), Vp8PictureInfo(7, None, None, False)),
        (bytes([0x11, VP8_KEY]), Vp8PictureInfo(None, None, None, False)),
        # Descriptor complete but no payload after it.
        (bytes([0x90, 0x80, 0x05]), Vp8PictureInfo(5, None, None, False)),
    ],
)
def test_vp8_picture_info(payload, info):
    assert vp8_picture_info(payload) == info
    assert vp8_picture_info(memoryview(payload)) == info
    # The existing keyframe test and the new reader agree.
    assert vp8_keyframe_start(payload) is info.keyframe_start
    assert keyframe_start("video/VP8", payload) is info.keyframe_start


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x90", b"\x90\x80", b"\x90\x80\x81", b"\x90\x40", b"\x90\x20", b"\x90\xe0\x81\x23"],
)
def test_vp8_picture_info_rejects_truncated_descriptors(payload):
    with pytest.raises(ValueError):
        vp8_picture_info(payload)
    assert vp8_keyframe_start(payload) is False


# --- H.264 ------------------------------------------------------------------------------

SPS = bytes([0x67, 0x42, 0xE0, 0x1F, 0xDA])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
SEI = bytes([0x06, 0x05, 0x01, 0x00])
IDR = bytes([0x65, 0x88, 0x84, 0x00])
SLICE = bytes([0x41, 0x9A, 0x02, 0x00])


def stap_a(*nals: bytes) -> bytes:
    return bytes([0x78]) + b"".join(len(nal).to_bytes(2, "big") + nal for nal in nals)


def fu_a(nal_type: int, *, start: bool = False, end: bool = False) -> bytes:
    header = (0x80 if start else 0) | (0x40 if end else 0) | nal_type
    return bytes([0x7C, header, 0xAA, 0xBB])


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (IDR, True),
        (SPS, True),
        (PPS, False),
        (SEI, False),
        (SLICE, False),
        (stap_a(SPS, PPS), True),
        (stap_a(SPS, PPS, IDR), True),
        (stap_a(SEI, IDR), True),
        (stap_a(PPS, SEI), False),
        (stap_a(SLICE), False),
        (stap_a(SPS)[:-1], False),  # size field longer than the packet
        (bytes([0x78, 0x00, 0x00]) + SPS, False),  # zero-size NAL: malformed
        (fu_a(5, start=True), True),
        (fu_a(7, start=True), True),
        (fu_a(5), False),
        (fu_a(5, end=True), False),
        (fu_a(1, start=True), False),
        (bytes([0x7C]), False),
        (bytes([0x79, 0x00, 0x00, 0x00, 0x05]) + IDR, False),  # STAP-B: interleaved mode only
        (bytes([0x7D, 0x85, 0x00, 0x00]), False),  # FU-B
        (b"", False),
    ],
)
def test_h264_keyframe_start(payload, expected):
    assert h264_keyframe_start(payload) is expected
    assert h264_keyframe_start(memoryview(payload)) is expected
    assert keyframe_start("video/H264", payload) is expected


def test_keyframe_start_dispatches_by_mime_type():
    vp8_key = bytes([0x10, VP8_KEY])
    assert keyframe_start("video/vp8", vp8_key) and keyframe_start("VIDEO/VP8", vp8_key)
    assert keyframe_start("video/h264", IDR)
    assert not keyframe_start("video/H264", vp8_key)  # 0x10: NAL type 16, reserved
    # Audio has no keyframes, whatever the bytes look like.
    assert not keyframe_start("audio/opus", vp8_key)
    assert not keyframe_start("audio/opus", IDR)
    assert keyframe_detector("video/VP8") is vp8_keyframe_start
    assert keyframe_detector("video/H264") is h264_keyframe_start
    with pytest.raises(ValueError, match="VP9"):
        keyframe_start("video/VP9", vp8_key)


# --- real packets from aiortc's encoders ----------------------------------------------------

FORCED_KEYFRAMES = {0, 4}
FRAMES = 7


def frames() -> list[av.VideoFrame]:
    """A noisy still image (big keyframes) with a changing noisy patch (delta frames of a
    few packets, so both codecs fragment them too), far from a scene cut."""
    rng = random.Random(20240601)
    base = [rng.randbytes(size) for size in (320 * 240, 160 * 120, 160 * 120)]
    result = []
    for index in range(FRAMES):
        frame = av.VideoFrame(320, 240, "yuv420p")
        luma = bytearray(base[0])
        for row in range(64):
            start = (80 + row) * 320 + 8 * index
            luma[start : start + 64] = rng.randbytes(64)
        for plane, data in zip(frame.planes, [bytes(luma), base[1], base[2]], strict=True):
            plane.update(data)
        frame.pts = index * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        result.append(frame)
    return result


def video_codec(predicate: Callable[[RTCRtpCodecParameters], bool]) -> RTCRtpCodecParameters:
    return next(codec for codec in CODECS["video"] if predicate(codec))


VP8 = video_codec(lambda c: c.mimeType == "video/VP8")
H264 = video_codec(
    lambda c: c.mimeType == "video/H264" and c.parameters["profile-level-id"] == "42e01f"
)


@pytest.mark.parametrize("codec", [VP8, H264], ids=["VP8", "H264"])
def test_first_packet_of_each_encoded_keyframe_is_detected(codec):
    encoder = get_encoder(codec)
    decoder = av.CodecContext.create(codec.name.lower(), "r")
    detect = keyframe_detector(codec.mimeType)
    seen_delta = False
    for index, frame in enumerate(frames()):
        payloads, _ = encoder.encode(frame, force_keyframe=index in FORCED_KEYFRAMES)
        flags = [detect(payload) for payload in payloads]
        # The decoder is the oracle: the frame rebuilt from these packets is a keyframe or not.
        bitstream = b"".join(depayload(codec, payload) for payload in payloads)
        decoded = decoder.decode(av.Packet(bitstream))
        assert len(decoded) == 1
        if index in FORCED_KEYFRAMES:
            assert decoded[0].key_frame
            assert len(payloads) > 1
        if decoded[0].key_frame:
            assert flags[0], f"frame {index}: keyframe start not detected"
        else:
            seen_delta = seen_delta or len(payloads) > 1  # a fragmented one was checked
            assert not any(flags), f"frame {index}: delta frame taken for a keyframe"
        if codec is VP8:
            # Only the first packet of a VP8 keyframe starts it.
            assert flags[1:] == [False] * (len(flags) - 1)
        else:
            # Later starts are the IDR's first fragment, after the SPS/PPS aggregate.
            for payload, flag in zip(payloads[1:], flags[1:], strict=True):
                if flag:
                    assert payload[0] & 0x1F == 28 and payload[1] & 0x80
    assert seen_delta, "no multi-packet delta frame was produced"


def test_vp8_picture_info_on_encoded_packets():
    encoder = get_encoder(VP8)
    previous: int | None = None
    for index, frame in enumerate(frames()):
        payloads, _ = encoder.encode(frame, force_keyframe=index in FORCED_KEYFRAMES)
        infos = [vp8_picture_info(payload) for payload in payloads]
        # Same picture id as aiortc's own descriptor parser, on every packet of the frame.
        assert [info.picture_id for info in infos] == [
            VpxPayloadDescriptor.parse(payload)[0].picture_id for payload in payloads
        ]
        assert len({info.picture_id for info in infos}) == 1
        if previous is not None:
            assert infos[0].picture_id == (previous + 1) % (1 << 15)
        previous = infos[0].picture_id
        assert all(info.tl0picidx is None and info.temporal_id is None for info in infos)
        assert [info.keyframe_start for info in infos] == [
            vp8_keyframe_start(payload) for payload in payloads
        ]
        assert infos[0].keyframe_start is (index in FORCED_KEYFRAMES)
