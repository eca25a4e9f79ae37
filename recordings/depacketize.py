"""One track's RTP packets → complete frames (VP8 frames, H.264 access units, Opus packets).

The recorder receives plain RTP from a tap consumer: one continuous stream per track (the SFU
rewrites sequence numbers and timestamps across publisher switches), still possibly reordered,
duplicated or lossy. aiortc's pieces do the work: ``RtpPacket.parse`` for the header, its
payload descriptors for depayloading (H.264 comes out in Annex B) and its ``JitterBuffer`` for
putting a frame's packets back together by sequence number and timestamp. What is added here is
what a writer needs and a decoder relies on: a frame is only passed on when it is whole and its
references are intact, so after a loss video frames are dropped until the next keyframe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from aiortc.codecs.h264 import H264PayloadDescriptor
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

log = logging.getLogger("phonghop.recordings")

# aiortc's receiver sizes: 512 packets hold a large keyframe of a high-bitrate stream; 16 Opus
# packets (320 ms) are plenty of reordering for audio.
VIDEO_CAPACITY = 512
AUDIO_CAPACITY = 16
# How long a hole may wait for a late retransmission (NACK round trip) before the frames around
# it are given up. Shorter for audio: a lost Opus packet only costs 20 ms of sound.
VIDEO_MAX_WAIT = 0.5
AUDIO_MAX_WAIT = 0.2

SUPPORTED = {("video", "video/vp8"), ("video", "video/h264"), ("audio", "audio/opus")}

H264_IDR, H264_SPS, H264_PPS = 5, 7, 8


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete encoded frame of a track."""

    data: bytes  # VP8 frame / H.264 access unit in Annex B / one Opus packet
    timestamp: int  # RTP timestamp as received (32-bit)
    keyframe: bool  # video: decodable on its own (VP8 key frame / H.264 IDR with SPS+PPS)
    arrival: float  # arrival time (seconds, the caller's monotonic clock) of its last packet


class _Packet(RtpPacket):
    """An RTP packet with what assembly needs (aiortc's JitterBuffer joins ``_data``)."""

    _data: bytes
    arrival: float
    starts_frame: bool


def vp8_is_keyframe(data: bytes) -> bool:
    """True if ``data`` is a VP8 key frame (RFC 6386 §9.1: frame tag bit 0 clear, start code)."""
    return len(data) >= 10 and not data[0] & 0x01 and data[3:6] == b"\x9d\x01\x2a"


def h264_nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, without start codes or trailing zero bytes."""
    units: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        begin = start + 3
        start = data.find(b"\x00\x00\x01", begin)
        unit = data[begin:] if start == -1 else data[begin:start]
        # A NAL unit never ends in a zero byte (rbsp_stop_one_bit), so trailing zeros are the
        # leading byte of a 4-byte start code or trailing_zero_8bits.
        unit = unit.rstrip(b"\x00")
        if unit:
            units.append(unit)
    return units


def h264_is_keyframe(data: bytes) -> bool:
    """True if an Annex B access unit is an IDR picture carrying its SPS and PPS."""
    types = set()
    start = data.find(b"\x00\x00\x01")
    while start != -1 and start + 3 < len(data):
        types.add(data[start + 3] & 0x1F)  # the NAL header after each start code
        start = data.find(b"\x00\x00\x01", start + 3)
    return {H264_IDR, H264_SPS, H264_PPS} <= types


def _depayload_vp8(payload: bytes) -> tuple[bytes, bool]:
    descriptor, data = VpxPayloadDescriptor.parse(payload)
    return data, bool(descriptor.partition_start) and descriptor.partition_id == 0


def _depayload_h264(payload: bytes) -> tuple[bytes, bool]:
    descriptor, data = H264PayloadDescriptor.parse(payload)
    # A single NAL unit, an aggregate or the first fragment begins a NAL unit.
    return data, descriptor.first_fragment


def _depayload_opus(payload: bytes) -> tuple[bytes, bool]:
    return payload, True


_DEPAYLOADERS = {
    "video/vp8": _depayload_vp8,
    "video/h264": _depayload_h264,
    "audio/opus": _depayload_opus,
}
_KEYFRAME_TESTS = {"video/vp8": vp8_is_keyframe, "video/h264": h264_is_keyframe}


class _FrameBuffer(JitterBuffer):
    """aiortc's JitterBuffer, saying which packets made each frame it gives out.

    ``remove`` is the one place frames leave the buffer, so it records what it removes;
    ``smart_remove`` (used when the buffer overflows) is counted as a loss.
    """

    def __init__(self, capacity: int, is_video: bool) -> None:
        super().__init__(capacity=capacity, is_video=is_video)
        self.removed: list[_Packet] = []
        self.discarded_frames = 0

    def remove(self, count: int) -> None:
        """Remove ``count`` slots from the head, keeping the packets found in ``removed``."""
        origin = cast(int, self._origin)
        for i in range(min(count, self.capacity)):
            packet = self._packets[(origin + i) % self.capacity]
            if packet is not None:
                self.removed.append(cast(_Packet, packet))
        super().remove(count)

    def smart_remove(self, count: int) -> bool:
        """Overflow: aiortc drops whole frames from the head; count them as discarded."""
        before = {p.timestamp for p in self._packets if p is not None}
        result = super().smart_remove(count)
        after = {p.timestamp for p in self._packets if p is not None}
        self.discarded_frames += len(before - after)
        return result

    def insert(self, packet: _Packet) -> tuple[bool, bool, list[tuple[JitterFrame, list[_Packet]]]]:
        """Add a packet: (was it kept, did the buffer lose data, frames now complete)."""
        self.removed = []
        lost, frame = self.add(packet)
        kept = self._packets[packet.sequence_number % self.capacity] is packet
        mine = [] if frame is None else self._trailing(frame.timestamp)
        # After a sequence jump add() first empties the buffer: those frames are lost.
        stale = self.removed[: len(self.removed) - len(mine)]
        self.discarded_frames += len({p.timestamp for p in stale})
        if frame is None:
            return kept, lost, []
        # add() hands out at most one frame; a hole just filled can complete several.
        return kept, lost, [(frame, mine), *self.take_frames()]

    def _trailing(self, timestamp: int) -> list[_Packet]:
        """The packets of the frame last removed (the trailing ones with its timestamp)."""
        start = len(self.removed)
        while start > 0 and self.removed[start - 1].timestamp == timestamp:
            start -= 1
        return self.removed[start:]

    def head_timestamp(self) -> int | None:
        """The timestamp of the packet at the head, if there is one."""
        if self._origin is None:
            return None
        packet = self._packets[self._origin % self.capacity]
        return None if packet is None else packet.timestamp

    def skip_hole(self) -> tuple[float, list[_Packet]] | None:
        """Give up the first hole: remove everything before its far side.

        Returns the arrival of the packet beyond the hole and the packets removed before it (one
        frame's, since any earlier frame would have been handed out already), or None when no
        packet has arrived beyond a hole.
        """
        if self._origin is None:
            return None
        slots = [self._packets[(self._origin + i) % self.capacity] for i in range(self.capacity)]
        hole = next((i for i, p in enumerate(slots) if p is None), None)
        if hole is None:
            return None
        after = next((i for i in range(hole, self.capacity) if slots[i] is not None), None)
        if after is None:
            return None
        self.removed = []
        self.remove(after)
        removed, self.removed = self.removed, []
        return cast(_Packet, slots[after]).arrival, removed

    def take_frames(self) -> list[tuple[JitterFrame, list[_Packet]]]:
        """Frames complete at the head (after a hole was skipped)."""
        frames = []
        self.removed = []
        frame = self._remove_frame(0)
        while frame is not None:
            frames.append((frame, self.removed))
            self.removed = []
            frame = self._remove_frame(0)
        return frames


class FrameAssembler:
    """One track's RTP packets → complete frames, in order.

    Frames come out one frame late (a frame is known complete when the next one starts), with
    the arrival time of their last packet. Video frames whose references were lost are dropped
    until the next keyframe; ``needs_keyframe`` says when one should be asked for.
    """

    def __init__(self, kind: str, mime: str) -> None:
        """``kind`` "audio"|"video"; ``mime`` "video/vp8", "video/h264" or "audio/opus"."""
        mime = mime.lower()
        if (kind, mime) not in SUPPORTED:
            raise ValueError(f"cannot assemble {kind} frames of {mime!r}")
        self.kind = kind
        self.mime = mime
        video = kind == "video"
        self._depayload = _DEPAYLOADERS[mime]
        self._is_keyframe = _KEYFRAME_TESTS.get(mime)
        self._buffer = _FrameBuffer(VIDEO_CAPACITY if video else AUDIO_CAPACITY, video)
        self._max_wait = VIDEO_MAX_WAIT if video else AUDIO_MAX_WAIT
        self._last_seq: int | None = None  # last packet of the last frame taken out
        self._synced = False  # video: every frame since the last keyframe was passed on
        self._stalled_since: float | None = None
        self._dropped_timestamp: int | None = None
        # A recording joins mid-stream: video has nothing to start from until a keyframe.
        self.needs_keyframe = video
        self.packets = 0
        self.frames = 0
        self.dropped_frames = 0
        self.malformed = 0

    def push(self, packet: bytes, arrival: float) -> list[Frame]:
        """Add one RTP packet received at ``arrival``; return the frames it completes.

        Never raises on bad input: unparseable packets are counted in ``malformed``.
        """
        self.packets += 1
        try:
            rtp = _Packet.parse(packet)
            data, starts = self._depayload(rtp.payload) if rtp.payload else (b"", False)
        except Exception as exc:  # untrusted bytes: any parse failure means malformed
            self.malformed += 1
            log.debug("malformed %s packet: %s", self.mime, exc)
            return []
        rtp._data = data
        rtp.arrival = arrival
        rtp.starts_frame = starts

        kept, lost, frames = self._buffer.insert(rtp)
        if lost:
            self._lose()
        out = self._accept_all(frames)
        if frames:
            self._stalled_since = None
        elif kept and rtp.timestamp != self._buffer.head_timestamp():
            # A later frame has begun but the head one cannot be completed: a hole.
            if self._stalled_since is None:
                self._stalled_since = arrival
            out.extend(self._give_up_holes(arrival))
        self._count_discarded()
        return out

    def _accept_all(self, frames: list[tuple[JitterFrame, list[_Packet]]]) -> list[Frame]:
        return [f for f in (self._accept(jf, packets) for jf, packets in frames) if f is not None]

    def _give_up_holes(self, now: float) -> list[Frame]:
        """Skip holes that waited longer than a retransmission would; return what that frees."""
        out: list[Frame] = []
        while self._stalled_since is not None and now - self._stalled_since > self._max_wait:
            skipped = self._buffer.skip_hole()
            if skipped is None:
                self._stalled_since = None
                break
            self._stalled_since, before = skipped
            if before and self._complete(before):
                # The hole only cost the next frame's start: this one is whole.
                data = b"".join(p._data for p in before)
                out.extend(self._accept_all([(JitterFrame(data, before[0].timestamp), before)]))
            else:
                # The head frame lost packets (or the hole is at its start): the loss is
                # certain now, so ask for a keyframe without waiting for the next frame.
                if before:
                    self._drop(before[0].timestamp)
                self._lose()
            taken = self._buffer.take_frames()
            if taken:
                out.extend(self._accept_all(taken))
                self._stalled_since = None
        return out

    def _complete(self, packets: list[_Packet]) -> bool:
        """Whether one timestamp's contiguous packets are a whole frame (its end is marked)."""
        return self.kind == "audio" or bool(packets[-1].marker)

    def _lose(self) -> None:
        """Data was lost: video needs a keyframe before anything else can be decoded."""
        if self.kind == "video":
            self._synced = False
            self.needs_keyframe = True

    def _drop(self, timestamp: int) -> None:
        # A frame cut by a hole can be dropped in two pieces (before and after the hole).
        if timestamp != self._dropped_timestamp:
            self.dropped_frames += 1
            self._dropped_timestamp = timestamp

    def _count_discarded(self) -> None:
        if self._buffer.discarded_frames:
            self.dropped_frames += self._buffer.discarded_frames
            self._buffer.discarded_frames = 0

    def _accept(self, jitter_frame: JitterFrame, packets: list[_Packet]) -> Frame | None:
        """Pass a frame the buffer completed on, or drop it (its references are missing)."""
        first, last = packets[0], packets[-1]
        continuous = self._last_seq is not None and first.sequence_number == uint16_add(
            self._last_seq, 1
        )
        self._last_seq = last.sequence_number
        if not jitter_frame.data:
            return None  # padding only (bandwidth probes)
        keyframe = False
        if self._is_keyframe is not None:
            if not continuous:
                self._lose()
            keyframe = first.starts_frame and self._is_keyframe(jitter_frame.data)
            if keyframe:
                self._synced = True
                self.needs_keyframe = False
            elif not self._synced or not first.starts_frame:
                self._drop(jitter_frame.timestamp)
                return None
        self.frames += 1
        return Frame(jitter_frame.data, jitter_frame.timestamp, keyframe, last.arrival)
