"""Real encoded media for the recording tests: PyAV's encoders, aiortc's packetisers, RTP.

Encoding happens here, in the tests only; the code under test never encodes or decodes.
"""

from __future__ import annotations

import fractions
import itertools
import json
import struct
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import RtpPacket

FPS = 30
VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
OPUS_FRAME = 960  # 20 ms at 48 kHz

PAYLOAD_TYPES = {"video/vp8": 96, "video/h264": 102, "audio/opus": 111}


def picture(width: int, height: int, index: int, tint: int = 0) -> av.VideoFrame:
    """A frame of a moving pattern: a bright bar sliding across a tinted gradient."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    image[:, :, 1] = tint
    image[:, :, 2] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    bar = (index * 7) % width
    image[:, bar : bar + width // 10] = 255
    return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")


def _video_encoder(codec: str, width: int, height: int, bit_rate: int) -> av.VideoCodecContext:
    """An encoder set up like aiortc's (real-time, no lookahead, keyframes only on request)."""
    name = {"vp8": "libvpx", "h264": "libx264"}[codec]
    context = av.CodecContext.create(name, "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width = width
    context.height = height
    context.pix_fmt = "yuv420p"
    context.time_base = fractions.Fraction(1, FPS)
    context.framerate = fractions.Fraction(FPS, 1)
    context.bit_rate = bit_rate
    context.gop_size = 10_000
    if codec == "vp8":
        context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    else:
        context.profile = "Baseline"
        context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": "scenecut=0:threads=1",
        }
    return context


def encode_video(
    codec: str,
    count: int,
    width: int,
    height: int,
    keyframes: Iterable[int] = (0,),
    tint: int = 0,
    bit_rate: int = 300_000,
) -> list[bytes]:
    """``count`` encoded frames ("vp8" frames or "h264" Annex B access units), 30 fps.

    Keyframes are at the indexes in ``keyframes`` and nowhere else.
    """
    wanted = set(keyframes)
    encoder = _video_encoder(codec, width, height, bit_rate)
    frames: list[bytes] = []
    for index in range(count):
        frame = picture(width, height, index, tint)
        frame.pts = index
        frame.pict_type = (
            av.video.frame.PictureType.I if index in wanted else av.video.frame.PictureType.NONE
        )
        packets = encoder.encode(frame)
        assert len(packets) == 1, "a real-time encoder gives one packet per frame"
        frames.append(bytes(packets[0]))
    return frames


def encode_opus(count: int, frequency: float = 440.0) -> list[bytes]:
    """``count`` 20 ms Opus packets of a sine tone (mono, 48 kHz), as WebRTC sends them."""
    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate = AUDIO_CLOCK
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32_000
    packets: list[bytes] = []
    for index in range(count + 2):  # the encoder lags a little: feed extra, keep ``count``
        start = index * OPUS_FRAME
        t = (np.arange(start, start + OPUS_FRAME) / AUDIO_CLOCK).astype(np.float64)
        tone = (np.sin(2 * np.pi * frequency * t) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_CLOCK
        frame.pts = start
        packets.extend(bytes(p) for p in encoder.encode(frame))
    assert len(packets) >= count
    return packets[:count]


@dataclass
class RtpSender:
    """Packetises frames into one RTP stream, as a tap consumer hands it to the recorder.

    Sequence numbers continue by one and timestamps follow the capture time, whichever
    publisher the frames come from (the SFU rewrites them so). Both start close to their
    wrap-around so that unwrapping is exercised.
    """

    mime: str
    ssrc: int = 0x1234_5678
    sequence: int = 65_500
    first_timestamp: int = 0xFFFF_FFFF - 40_000
    _picture_id: int = field(default=0, init=False)

    @property
    def clock(self) -> int:
        return AUDIO_CLOCK if self.mime.startswith("audio/") else VIDEO_CLOCK

    def timestamp(self, seconds: float) -> int:
        """The RTP timestamp of a frame captured ``seconds`` after the stream began."""
        return (self.first_timestamp + round(seconds * self.clock)) & 0xFFFF_FFFF

    def payloads(self, frame: bytes) -> list[bytes]:
        """aiortc's packetisation of one frame."""
        if self.mime == "video/vp8":
            self._picture_id = (self._picture_id + 1) % (1 << 15)
            return Vp8Encoder._packetize(frame, self._picture_id)
        if self.mime == "video/h264":
            return H264Encoder._packetize(H264Encoder._split_bitstream(frame))
        return [frame]

    def packets(self, frame: bytes, seconds: float) -> list[bytes]:
        """The RTP packets of one frame (the marker bit on a video frame's last packet)."""
        payloads = self.payloads(frame)
        out = []
        for index, payload in enumerate(payloads):
            last = index == len(payloads) - 1
            packet = RtpPacket(
                payload_type=PAYLOAD_TYPES[self.mime],
                marker=int(last and self.mime.startswith("video/")),
                sequence_number=self.sequence,
                timestamp=self.timestamp(seconds),
                ssrc=self.ssrc,
                payload=payload,
            )
            self.sequence = (self.sequence + 1) & 0xFFFF
            out.append(packet.serialize())
        return out


def ffprobe(path: Path) -> dict[str, Any]:
    """Debian's ffprobe on ``path``: streams and format, as JSON."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


@dataclass
class Decoded:
    """What decoding a whole file gave."""

    video_frames: int = 0
    sizes: set[tuple[int, int]] = field(default_factory=set)
    video_end: float = 0.0
    # (start seconds, duration seconds) of every decoded audio frame, in order
    audio: list[tuple[float, float]] = field(default_factory=list)
    # the same, one list per audio stream (in the file's order of audio streams)
    audio_tracks: list[list[tuple[float, float]]] = field(default_factory=list)


def decode_all(path: Path) -> Decoded:
    """Decode every packet of ``path`` with PyAV; any decoder error fails the test."""
    result = Decoded()
    with av.open(str(path)) as container:
        track_of = {stream.index: n for n, stream in enumerate(container.streams.audio)}
        result.audio_tracks = [[] for _ in track_of]
        for packet in container.demux():
            for frame in packet.decode():
                assert frame.pts is not None and frame.time_base is not None
                start = float(frame.pts * frame.time_base)
                if isinstance(frame, av.VideoFrame):
                    result.video_frames += 1
                    result.sizes.add((frame.width, frame.height))
                    result.video_end = max(result.video_end, start)
                elif isinstance(frame, av.AudioFrame):
                    decoded = (start, frame.samples / frame.sample_rate)
                    result.audio.append(decoded)
                    result.audio_tracks[track_of[packet.stream.index]].append(decoded)
    return result


def audio_gaps(audio: list[tuple[float, float]]) -> list[float]:
    """The gaps (or overlaps, negative) between consecutive decoded audio frames, seconds."""
    return [nxt[0] - (cur[0] + cur[1]) for cur, nxt in itertools.pairwise(audio)]


def matroska_top_level(path: Path) -> list[int]:
    """The IDs of the elements inside a Matroska file's Segment (unknown sizes allowed)."""
    data = path.read_bytes()

    def vint(pos: int, keep_marker: bool) -> tuple[int, int, bool]:
        first = data[pos]
        length = 1
        while length <= 8 and not first & (0x80 >> (length - 1)):
            length += 1
        value = first if keep_marker else first & ((0x80 >> (length - 1)) - 1)
        for k in range(1, length):
            value = (value << 8) | data[pos + k]
        unknown = not keep_marker and value == (1 << (7 * length)) - 1
        return value, length, unknown

    ids = []
    pos = 0
    _, id_len, _ = vint(pos, True)
    size, size_len, _ = vint(pos + id_len, False)
    pos += id_len + size_len + size  # the EBML header
    _, id_len, _ = vint(pos, True)
    _, size_len, _ = vint(pos + id_len, False)
    pos += id_len + size_len  # into the Segment
    while pos < len(data):
        element, id_len, _ = vint(pos, True)
        size, size_len, unknown = vint(pos + id_len, False)
        ids.append(element)
        if unknown:
            break
        pos += id_len + size_len + size
    return ids


def mp4_boxes(path: Path) -> list[str]:
    """The top-level box types of an MP4 file."""
    data = path.read_bytes()
    boxes = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        pos += size
    return boxes
