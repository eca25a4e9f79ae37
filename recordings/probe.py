"""What a recording file holds, read by demuxing it: used to file a recording after a crash."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import av

log = logging.getLogger("phonghop.recordings")


@dataclass(frozen=True)
class ProbeResult:
    """A recording file's contents, as far as they could be read."""

    duration: float  # seconds, from the file's time 0 to the end of its last packet
    video_frames: int
    audio_frames: int
    width: int  # of the first video stream as its header declares it; 0 without video
    height: int
    streams: list[str] = field(default_factory=list)  # codec names: "vp8", "h264", "opus"


def probe(path: Path) -> ProbeResult:
    """Demux the whole file with PyAV and count its packets; nothing is decoded here.

    A truncated file (a recorder killed mid-write) gives what it holds up to the damage; a
    file too short to have a readable header gives an empty result. A missing file raises
    FileNotFoundError.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        log.warning("probe %s: unreadable (%s)", path.name, exc)
        return ProbeResult(0.0, 0, 0, 0, 0, [])
    with container:
        streams = [
            s.codec_context.name if s.codec_context is not None else s.type
            for s in container.streams
        ]
        video = container.streams.video[0] if container.streams.video else None
        width = video.codec_context.width if video is not None else 0
        height = video.codec_context.height if video is not None else 0
        counts = {"video": 0, "audio": 0}
        first = end = 0.0
        try:
            for packet in container.demux():
                if packet.pts is None or packet.size == 0 or packet.time_base is None:
                    continue  # the demuxer's end-of-stream markers
                start = float(packet.pts * packet.time_base)
                length = float((packet.duration or 0) * packet.time_base)
                first = min(first, start)
                end = max(end, start + length)
                if packet.stream.type in counts:
                    counts[packet.stream.type] += 1
        except av.error.FFmpegError as exc:
            log.info("probe %s: stopped at damaged data (%s)", path.name, exc)
    return ProbeResult(end - first, counts["video"], counts["audio"], width, height, streams)


def file_figures(path: Path) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex) of a file, read in 1 MiB chunks; (0, hash of nothing) if
    it is absent. Blocking: callers on the event loop run it in a thread."""
    if not path.exists():
        return 0, hashlib.sha256().hexdigest()
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return path.stat().st_size, digest
