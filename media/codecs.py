"""What the SFU needs to know about payloads, read without decoding them."""

from collections.abc import Callable
from typing import NamedTuple


def vp8_keyframe_start(payload: bytes | memoryview) -> bool:
    """True for the first packet of a VP8 keyframe (RFC 7741 §4.2-4.3).

    Payload descriptor: X R N S R PID(3), optional extension bytes; then the VP8 payload
    header whose lowest bit P is 0 for a keyframe, valid only at the start of partition 0.
    """
    if len(payload) < 2:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:  # S must be set, PID must be 0
        return False
    pos = 1
    if first & 0x80:  # X: extension control byte
        if len(payload) < 2:
            return False
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX
            pos += 1
    return len(payload) > pos and not payload[pos] & 0x01


class Vp8PictureInfo(NamedTuple):
    """What a VP8 payload descriptor says about its picture (RFC 7741 §4.2).

    ``picture_id`` is as sent: 7 or 15 bits wide (the M bit); a switch between layers or
    publishers has to rewrite it continuously. ``tl0picidx`` and ``temporal_id`` are None
    when the sender does not signal temporal layers (aiortc never does; Chromium does for
    simulcast, where each layer has two or three temporal layers).
    """

    picture_id: int | None
    tl0picidx: int | None
    temporal_id: int | None
    keyframe_start: bool


def vp8_picture_info(payload: bytes | memoryview) -> Vp8PictureInfo:
    """Read a VP8 payload descriptor; ``ValueError`` if it is truncated."""
    if not payload:
        raise ValueError("empty VP8 payload")
    first = payload[0]
    pos = 1
    picture_id = tl0picidx = temporal_id = None
    if first & 0x80:  # X: extension control byte follows
        if len(payload) < 2:
            raise ValueError("truncated VP8 payload descriptor")
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, M bit selects 15 bits over 7
            if len(payload) <= pos:
                raise ValueError("truncated VP8 picture id")
            if payload[pos] & 0x80:
                if len(payload) <= pos + 1:
                    raise ValueError("truncated VP8 picture id")
                picture_id = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
                pos += 2
            else:
                picture_id = payload[pos] & 0x7F
                pos += 1
        if ext & 0x40:  # L: TL0PICIDX
            if len(payload) <= pos:
                raise ValueError("truncated VP8 TL0PICIDX")
            tl0picidx = payload[pos]
            pos += 1
        if ext & 0x30:  # T and/or K share one byte: TID(2) Y(1) KEYIDX(5)
            if len(payload) <= pos:
                raise ValueError("truncated VP8 TID/KEYIDX")
            if ext & 0x20:  # TID is only meaningful with T set
                temporal_id = payload[pos] >> 6
            pos += 1
    start_of_partition_0 = bool(first & 0x10) and not first & 0x07
    keyframe = start_of_partition_0 and len(payload) > pos and not payload[pos] & 0x01
    return Vp8PictureInfo(picture_id, tl0picidx, temporal_id, keyframe)


# H.264 NAL unit types (ITU-T H.264 Table 7-1, RFC 6184 §5.4).
_H264_IDR = 5
_H264_SPS = 7
_H264_STAP_A = 24
_H264_FU_A = 28
_H264_DECODER_START = frozenset({_H264_IDR, _H264_SPS})


def h264_keyframe_start(payload: bytes | memoryview) -> bool:
    """True if a decoder can start at this packet: it begins an IDR picture or carries an SPS.

    RFC 6184 packetization mode 1 (what WebRTC negotiates): a single NAL unit (types 1-23)
    of type 5 (IDR slice) or 7 (SPS); a STAP-A (24) aggregating one of those (Chromium and
    aiortc send SPS+PPS[+IDR] this way); an FU-A (28) with the start bit set whose fragment
    is of type 5 or 7. Interleaved-mode packets (STAP-B, MTAP, FU-B) are never negotiated
    and give False, as does a malformed STAP-A.
    """
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type == _H264_FU_A:
        return (
            len(payload) >= 2
            and bool(payload[1] & 0x80)
            and (payload[1] & 0x1F in _H264_DECODER_START)
        )
    if nal_type == _H264_STAP_A:
        pos = 1
        while pos + 2 < len(payload):
            size = (payload[pos] << 8) | payload[pos + 1]
            pos += 2
            if size == 0 or pos + size > len(payload):
                return False
            if payload[pos] & 0x1F in _H264_DECODER_START:
                return True
            pos += size
        return False
    return nal_type in _H264_DECODER_START


def _never(payload: bytes | memoryview) -> bool:
    return False


KeyframeDetector = Callable[[bytes | memoryview], bool]
_KEYFRAME_DETECTORS: dict[str, KeyframeDetector] = {
    "video/vp8": vp8_keyframe_start,
    "video/h264": h264_keyframe_start,
}


def keyframe_detector(mime: str) -> KeyframeDetector:
    """The keyframe test for a codec, looked up once per producer rather than per packet.

    Audio has no keyframes (any Opus packet can start playback): always False. A video
    codec the SFU cannot inspect raises ``ValueError``: forwarding it would leave new
    consumers and layer switches with nothing safe to start from.
    """
    key = mime.lower()
    if key.startswith("audio/"):
        return _never
    try:
        return _KEYFRAME_DETECTORS[key]
    except KeyError:
        raise ValueError(f"no keyframe detection for {mime}") from None


def keyframe_start(mime: str, payload: bytes | memoryview) -> bool:
    """True for a packet that starts a keyframe of ``mime`` ("video/VP8", "video/H264"...)."""
    return keyframe_detector(mime)(payload)
