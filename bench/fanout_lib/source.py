"""The publisher's media, encoded once and cached: 720p30 VP8 at about 2.5 Mbit/s plus Opus.

Encoding 720p VP8 costs more CPU than everything else in the benchmark, so it never happens
during a run: the first run encodes ``seconds`` of a moving test pattern with libvpx (realtime
settings, CBR, a keyframe every ``gop`` frames) and a tone with libopus (48 kHz, 20 ms frames),
and stores the encoded frames (not RTP) in the cache directory under a name made of the
parameters. Later runs only read the file; the publisher loops it with continuous timestamps.

The pattern has to cost real bits: a random texture that scrolls diagonally (cheap for motion
compensation), a moving bar, and a block of fresh noise every frame (which never predicts), so
CBR rate control spends the whole budget, as a camera does.
"""

import hashlib
import json
import math
import os
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

FORMAT_VERSION = 2
_RECORD = struct.Struct("!IB")  # length, flags (bit 0: keyframe)


@dataclass(frozen=True)
class SourceParams:
    """What the cached encoding depends on (the cache file is named after these)."""

    width: int = 1280
    height: int = 720
    fps: int = 30
    video_kbps: int = 2500
    gop: int = 60  # a keyframe every 2 s at 30 fps
    seconds: int = 10
    audio_kbps: int = 32

    def key(self) -> str:
        """Cache file stem."""
        text = json.dumps({"v": FORMAT_VERSION, **self.__dict__}, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        return f"vp8-{self.width}x{self.height}-{self.fps}fps-{self.video_kbps}k-{digest}"


@dataclass
class EncodedSource:
    """Encoded frames in decode order; ``video_keyframes[i]`` flags ``video[i]``."""

    params: SourceParams
    video: list[bytes]
    video_keyframes: list[bool]
    audio: list[bytes]  # Opus, 20 ms each

    @property
    def video_kbps(self) -> float:
        """Average video bitrate of the cached stream."""
        seconds = len(self.video) / self.params.fps
        return sum(len(f) for f in self.video) * 8 / seconds / 1000


def default_cache_dir() -> Path:
    """``$PHONGHOP_BENCH_CACHE``, else ``$XDG_CACHE_HOME/phonghop-bench`` (outside the repo)."""
    if os.environ.get("PHONGHOP_BENCH_CACHE"):
        return Path(os.environ["PHONGHOP_BENCH_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "phonghop-bench"


def load_or_encode(
    params: SourceParams, cache_dir: Path | None = None, log: Callable[[str], None] = print
) -> EncodedSource:
    """The cached encoding of ``params``, encoding (once) if it is not there yet."""
    directory = cache_dir or default_cache_dir()
    path = directory / f"{params.key()}.bin"
    if path.exists():
        return _read(path, params)
    log(f"encoding the source once ({params.seconds} s of {params.width}x{params.height} VP8)…")
    started = time.monotonic()
    source = EncodedSource(params, *_encode_video(params), _encode_audio(params))
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    _write(tmp, source)
    tmp.replace(path)  # atomic: a concurrent run never reads half a file
    log(
        f"encoded in {time.monotonic() - started:.1f} s: {len(source.video)} video frames "
        f"at {source.video_kbps:.0f} kbit/s, {len(source.audio)} Opus frames → {path}"
    )
    return source


def _write(path: Path, source: EncodedSource) -> None:
    with path.open("wb") as f:
        for kind, frames, flags in (
            (b"V", source.video, source.video_keyframes),
            (b"A", source.audio, [False] * len(source.audio)),
        ):
            f.write(kind + struct.pack("!I", len(frames)))
            for data, key in zip(frames, flags, strict=True):
                f.write(_RECORD.pack(len(data), int(key)) + data)


def _read(path: Path, params: SourceParams) -> EncodedSource:
    blob = path.read_bytes()
    pos = 0
    tracks: dict[bytes, tuple[list[bytes], list[bool]]] = {}
    for _ in range(2):
        kind, count = blob[pos : pos + 1], struct.unpack_from("!I", blob, pos + 1)[0]
        pos += 5
        frames: list[bytes] = []
        flags: list[bool] = []
        for _ in range(count):
            length, flag = _RECORD.unpack_from(blob, pos)
            pos += _RECORD.size
            frames.append(blob[pos : pos + length])
            flags.append(bool(flag & 1))
            pos += length
        tracks[kind] = (frames, flags)
    return EncodedSource(params, *tracks[b"V"], tracks[b"A"][0])


def _encode_video(params: SourceParams) -> tuple[list[bytes], list[bool]]:
    """libvpx VP8, realtime, CBR at ``video_kbps``."""
    w, h = params.width, params.height
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = w, h
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, params.fps)
    codec.framerate = Fraction(params.fps, 1)
    codec.bit_rate = params.video_kbps * 1000
    codec.gop_size = params.gop
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": str(params.video_kbps * 1000),
        "maxrate": str(params.video_kbps * 1000),
        "b": str(params.video_kbps * 1000),
        "qmin": "2",
        "qmax": "56",
        "keyint_min": str(params.gop),
        "undershoot-pct": "95",
        "overshoot-pct": "15",
        "threads": "2",
    }
    rng = random.Random(20240601)
    margin = 64  # the texture is larger than the frame so that it can scroll
    tex_w, tex_h = w + margin, h + margin
    # 8x8 blocks of random grey levels in a narrow range: detailed, but not white noise
    block = 8
    coarse = [rng.randrange(90, 170) for _ in range((tex_w // block + 1) * (tex_h // block + 1))]
    stride_c = tex_w // block + 1
    texture = b"".join(
        bytes(coarse[(y // block) * stride_c + x // block] for x in range(tex_w))
        for y in range(tex_h)
    )
    chroma_u = bytes((x * 3) & 0xFF for x in range(tex_w // 2)) * (tex_h // 2)
    chroma_v = bytes((x * 5 + 64) & 0xFF for x in range(tex_w // 2)) * (tex_h // 2)
    noise_w, noise_h = w // 16, h // 16
    video: list[bytes] = []
    keys: list[bool] = []
    total = params.seconds * params.fps
    for n in range(total):
        dx, dy = (3 * n) % margin, n % margin
        bar = int((math.sin(n / 20) * 0.5 + 0.5) * (w - 80))
        rows = []
        for y in range(h):
            start = (y + dy) * tex_w + dx
            row = texture[start : start + w]
            if 40 <= y < 40 + noise_h:
                row = (
                    row[:40]
                    + bytes(v & 0x3F | 0x60 for v in rng.randbytes(noise_w))
                    + row[40 + noise_w :]
                )
            if y % 90 < 60:
                row = row[:bar] + b"\xeb" * 80 + row[bar + 80 :]
            rows.append(row)
        frame = av.VideoFrame(w, h, "yuv420p")
        _fill(frame.planes[0], rows, w)
        cw, ch = w // 2, h // 2
        cdx, cdy = dx // 2, dy // 2
        for plane, src in ((frame.planes[1], chroma_u), (frame.planes[2], chroma_v)):
            stride = tex_w // 2
            _fill(plane, [src[(y + cdy) * stride + cdx :][:cw] for y in range(ch)], cw)
        frame.pts = n
        frame.time_base = codec.time_base
        for packet in codec.encode(frame):
            video.append(bytes(packet))
            keys.append(packet.is_keyframe)
    for packet in codec.encode(None):
        video.append(bytes(packet))
        keys.append(packet.is_keyframe)
    return video, keys


def _fill(plane: av.video.plane.VideoPlane, rows: list[bytes], width: int) -> None:
    """Copy rows into a plane, honouring its line size (padding)."""
    pad = b"\x00" * (plane.line_size - width)
    plane.update(b"".join(row + pad for row in rows) if pad else b"".join(rows))


def _encode_audio(params: SourceParams) -> list[bytes]:
    """libopus, 48 kHz mono, 20 ms frames: a slowly sweeping tone."""
    rate, samples = 48000, 960
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = rate
    codec.layout = "mono"
    codec.format = "s16"
    codec.bit_rate = params.audio_kbps * 1000
    codec.time_base = Fraction(1, rate)
    codec.options = {"frame_duration": "20", "application": "voip"}
    out: list[bytes] = []
    phase = 0.0
    for n in range(params.seconds * 50):
        freq = 300 + 200 * math.sin(n / 50)
        pcm = bytearray()
        for _ in range(samples):
            phase += 2 * math.pi * freq / rate
            pcm += struct.pack("<h", int(8000 * math.sin(phase)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(bytes(pcm))
        frame.sample_rate = rate
        frame.pts = n * samples
        frame.time_base = Fraction(1, rate)
        out.extend(bytes(p) for p in codec.encode(frame))
    out.extend(bytes(p) for p in codec.encode(None))
    return out
