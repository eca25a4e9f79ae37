"""Recorder: the sink of a media tap; each slot's forwarded RTP into one file, never decoded.

The tap's consumers already make each slot one continuous stream across publisher switches
(a video switch waits for a keyframe). The recorder reassembles frames per slot and hands
them to the file writer. The container follows the codec of the first video it gets (VP8 →
WebM, H.264 → MP4); audio that arrives before any video is held back briefly so it is not
lost, and a recording that gets no video at all becomes audio-only. A tap with only an audio
slot (one producer's track file) is audio-only from the start; one with only a video slot
has no audio track, and no file at all if its producer never sent a frame.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media.tap import Tap
from recordings.container import MediaFileWriter
from recordings.depacketize import Frame, FrameAssembler

log = logging.getLogger("phonghop.recordings")

AUDIO_ONLY_AFTER = 5.0  # seconds without any video before the file is opened for audio only
HELD_AUDIO_MAX = 500  # Opus frames held while waiting for the first video (10 s of 20 ms)
KEYFRAME_ASK_INTERVAL = 0.5  # seconds between keyframe requests for one broken slot
VIDEO_CODECS = {"video/vp8": "vp8", "video/h264": "h264"}


@dataclass
class SlotState:
    """What the recorder keeps per tap slot."""

    kind: str
    mime: str
    assembler: FrameAssembler
    asked_at: float = -1e9
    foreign: int = 0  # packets of another codec than the file's (skipped)


@dataclass
class Recorder:
    """Writes one tap's slots into ``path`` (suffix chosen when the codec is known)."""

    tap: Tap
    base: Path  # the file's path without its suffix
    clock: Callable[[], float] = time.monotonic
    start: float = field(default=0.0)
    writer: MediaFileWriter | None = None
    video: str | None = None
    slots: dict[str, SlotState] = field(default_factory=dict)
    held_audio: list[tuple[int, Frame]] = field(default_factory=list)
    closed: bool = False
    has_video: bool = True
    audio_tracks: dict[str, int] = field(default_factory=dict)  # audio slot mid → track

    def __post_init__(self) -> None:
        self.start = self.clock()
        self.has_video = any(slot.kind == "video" for slot in self.tap.slots.values())
        # One audio track per audio slot, in the tap's slot order: the first is the one
        # players play (the floor), the others keep the other voices the room hears.
        audio = [mid for mid, slot in self.tap.slots.items() if slot.kind == "audio"]
        self.audio_tracks = {mid: n for n, mid in enumerate(audio)}
        self.base.parent.mkdir(parents=True, exist_ok=True)

    @property
    def has_audio(self) -> bool:
        """Whether the tap has an audio slot (the file an audio track)."""
        return bool(self.audio_tracks)

    def on_packet(self, mid: str, kind: str, mime: str, packet: bytes, arrival: float) -> None:
        """One forwarded packet of a slot (called on the media hot path: never blocks long)."""
        if self.closed or not mime:
            return
        state = self.slots.get(mid)
        if state is None or state.mime != mime:
            if state is not None and kind == "video" and self.video is not None:
                # The slot moved to a publisher with another codec: one file has one video
                # codec, so this stretch is skipped (the picture stays on its last frame).
                if VIDEO_CODECS.get(mime) != self.video:
                    state.foreign += 1
                    return
            state = self.slots[mid] = SlotState(kind, mime, FrameAssembler(kind, mime))
        frames = state.assembler.push(packet, arrival)
        if state.assembler.needs_keyframe and arrival - state.asked_at >= KEYFRAME_ASK_INTERVAL:
            state.asked_at = arrival
            self.tap.request_keyframe(mid)
        track = self.audio_tracks.get(mid, 0)
        for frame in frames:
            self._frame(kind, mime, frame, track)

    def _frame(self, kind: str, mime: str, frame: Frame, track: int) -> None:
        if self.writer is None:
            if kind == "video":
                self._open(VIDEO_CODECS.get(mime))
            elif not self.has_video or frame.arrival - self.start >= AUDIO_ONLY_AFTER:
                self._open(None)
            else:
                if len(self.held_audio) < HELD_AUDIO_MAX * len(self.audio_tracks):
                    self.held_audio.append((track, frame))
                return
        assert self.writer is not None
        if kind == "video" and VIDEO_CODECS.get(mime) != self.video:
            return
        self.writer.write(kind, frame, track)

    def _open(self, video: str | None) -> None:
        self.video = video
        suffix = ".mp4" if video == "h264" else ".webm"
        self.writer = MediaFileWriter(
            self.base.with_suffix(suffix),
            video,
            self.has_audio,
            self.start,
            audio_tracks=max(1, len(self.audio_tracks)),
            # Titles only tell several tracks apart (a producer's own file has one).
            audio_titles=audio_titles(len(self.audio_tracks))
            if len(self.audio_tracks) > 1
            else None,
        )
        for track, held in self.held_audio:
            self.writer.write("audio", held, track)
        self.held_audio.clear()
        log.info("recording.file_opened path=%s video=%s", self.writer_path, video)

    @property
    def writer_path(self) -> Path | None:
        """Where the file is being written (None until the first frame)."""
        if self.writer is None:
            return None
        return self.base.with_suffix(".mp4" if self.video == "h264" else ".webm")

    async def close(self) -> dict[str, Any]:
        """Finish the file (trailer, hash) off the event loop; what was written, JSON-shaped.

        Empty (no ``path``) when a video-only tap never got a frame: there is no file.
        """
        if self.closed:
            return {}
        self.closed = True
        if self.writer is None:
            if not self.has_audio:
                return {}
            self._open(None)  # nothing but (maybe) held audio: still a valid, short file
        assert self.writer is not None
        writer = self.writer
        summary = await asyncio.to_thread(writer.close)
        return {
            "path": str(summary.path),
            "size": summary.size,
            "sha256": summary.sha256,
            "duration": summary.duration,
            "container": summary.container,
            "video": self.video,
            "video_frames": writer.video_frames,
            "audio_frames": writer.audio_frames,
            "gaps_filled": writer.gaps_filled,
            "foreign_packets": sum(s.foreign for s in self.slots.values()),
        }


def audio_titles(count: int) -> list[str]:
    """Titles of the audio tracks, as players list them: the floor first, then other voices."""
    return ["floor", *(f"voice {n}" for n in range(2, count + 1))][:count]


def recorder_factory(tap: Tap, params: dict[str, Any]) -> Recorder:
    """The Worker's sink factory: ``params["path"]`` is the file's path without suffix."""
    return Recorder(tap, Path(str(params["path"])))
