"""Frames → one WebM (VP8 + Opus) or MP4 (H.264 + Opus) file, remuxed with PyAV.

Nothing is decoded or encoded: each frame becomes an ``av.Packet`` with its timestamps and is
muxed as it is. Stream parameters (picture size, H.264 parameter sets) are read from the
bitstream headers of the first keyframe, so the file header waits for it; audio that comes
first is held (boundedly) until then. A file may hold several Opus tracks (the first is the
one players play); each is continuous from 0 to the end of the file.

Crash safety: the file on disk is playable up to its last complete cluster or fragment at any
moment, so a kill -9 loses a second or two. WebM is written in Matroska's normal (not "live")
mode on purpose: both modes write the Segment with an unknown size and each cluster as soon as
it is complete, but only the normal mode writes the cues, seek head and duration when the file
is closed. Clusters are cut every second and flushed to the OS. H.264 goes to a fragmented MP4
(an empty ``moov`` first, then a fragment every second), which is readable after a crash too.
"""

from __future__ import annotations

import heapq
import io
import itertools
import logging
import struct
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.stream import Disposition, Stream

from recordings.depacketize import H264_PPS, H264_SPS, Frame, h264_nal_units, vp8_is_keyframe
from recordings.probe import file_figures

log = logging.getLogger("phonghop.recordings")

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
OPUS_SILENCE = b"\xf8\xff\xfe"  # CELT, full band, 20 ms, one frame: digital silence
OPUS_SILENCE_SAMPLES = 960
# The header waits for the first video keyframe; audio is kept meanwhile, up to ~10 s of it
# per track.
MAX_PENDING_AUDIO = 500
# A track's RTP clock is trusted while it stays within this of the arrival times; beyond it
# (a stream restart, a broken rewrite) the track is re-anchored at the arrival time.
RESYNC_SECONDS = 2.0
# When video (or another audio track) runs this far ahead of an audio track, that track has a
# gap (nobody's audio is being forwarded on it): fill it with silence now, so the file stays
# interleaved and continuous even if the process dies in the middle of a long silence.
AUDIO_LAG_SECONDS = 1.0
_AUDIO_LAG = round(AUDIO_LAG_SECONDS * AUDIO_CLOCK)
DEFAULT_FRAME_INTERVAL = VIDEO_CLOCK // 30

CONTAINERS = {"vp8": "webm", "h264": "mp4", None: "webm"}
MUXER_OPTIONS = {
    "webm": {
        "cluster_time_limit": "1000",  # ms: at most a second of media per cluster
        "flush_packets": "1",
        "max_interleave_delta": "1000000",  # µs: never hold a packet back longer than 1 s
    },
    "mp4": {
        "movflags": "frag_keyframe+empty_moov+default_base_moof",
        "frag_duration": "1000000",  # µs: WebRTC keyframes are rare, so also cut every second
        "flush_packets": "1",
        "max_interleave_delta": "1000000",
    },
}
# The codec whose parameters a stream template carries (see ``_stream``); never opened.
_TEMPLATE_CODECS = {"vp8": "libvpx", "h264": "libx264", "opus": "libopus"}


@dataclass(frozen=True)
class FileSummary:
    """What a finished recording file is."""

    path: Path
    size: int
    sha256: str
    duration: float  # seconds
    container: str  # "webm" or "mp4"


def opus_head(channels: int = 2) -> bytes:
    """The Opus identification header (RFC 7845 §5.1) a WebM or MP4 Opus track needs.

    Pre-skip is 0: WebRTC receivers play packets from their first sample, and so does the file.
    """
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, 0, AUDIO_CLOCK, 0, 0)


def opus_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) in an Opus packet, from its TOC byte (RFC 6716 §3.1); 0 if invalid."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        frame = (480, 960, 1920, 2880)[config & 3]
    elif config < 16:  # hybrid: 10, 20 ms
        frame = (480, 960)[config & 1]
    else:  # CELT: 2.5, 5, 10, 20 ms
        frame = (120, 240, 480, 960)[config & 3]
    code = toc & 3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    elif len(packet) < 2:
        return 0
    else:
        count = packet[1] & 0x3F
    samples = frame * count
    return samples if 0 < samples <= 5760 else 0  # a packet holds at most 120 ms


def vp8_frame_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame's header (RFC 6386 §9.1), or None."""
    if not vp8_is_keyframe(frame):
        return None
    width, height = struct.unpack_from("<HH", frame, 6)
    width, height = width & 0x3FFF, height & 0x3FFF
    return (width, height) if width and height else None


class _Bits:
    """An H.264 RBSP bit reader (Exp-Golomb codes, ITU-T H.264 §9.1)."""

    def __init__(self, nal: bytes) -> None:
        # Remove emulation prevention bytes (00 00 03 → 00 00).
        self._data = nal.replace(b"\x00\x00\x03", b"\x00\x00")
        self._pos = 0

    def bit(self) -> int:
        byte = self._data[self._pos >> 3]  # IndexError past the end: a truncated SPS
        value = (byte >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return value

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while not self.bit():
            zeros += 1
            if zeros > 31:
                raise ValueError("Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def h264_sps_size(sps: bytes) -> tuple[int, int]:
    """The cropped picture size a sequence parameter set NAL unit describes (H.264 §7.3.2.1).

    Raises ValueError or IndexError on a malformed SPS.
    """
    bits = _Bits(sps[1:])  # skip the NAL header
    profile = bits.bits(8)
    bits.bits(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format = 1
    separate_planes = 0
    if profile in _HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            separate_planes = bits.bit()
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.bit()  # qpprime_y_zero_transform_bypass_flag
        if bits.bit():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if bits.bit():
                    last = following = 8
                    for _ in range(16 if index < 6 else 64):
                        if following:
                            following = (last + bits.se() + 256) % 256
                        last = following or last
    bits.ue()  # log2_max_frame_num_minus4
    order_type = bits.ue()
    if order_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif order_type == 1:
        bits.bit()
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.bit()
    if not frame_mbs_only:
        bits.bit()  # mb_adaptive_frame_field_flag
    bits.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_units * 16
    if bits.bit():  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        if chroma_format == 0 or separate_planes:
            unit_x, unit_y = 1, 2 - frame_mbs_only
        else:
            unit_x = 1 if chroma_format == 3 else 2
            unit_y = (2 if chroma_format == 1 else 1) * (2 - frame_mbs_only)
        width -= (left + right) * unit_x
        height -= (top + bottom) * unit_y
    if width <= 0 or height <= 0:
        raise ValueError("SPS crops the whole picture")
    return width, height


def h264_parameters(access_unit: bytes) -> tuple[int, int, bytes] | None:
    """Width, height and Annex B extradata (SPS + PPS) of an H.264 keyframe, or None."""
    units = h264_nal_units(access_unit)
    sps = next((u for u in units if u[0] & 0x1F == H264_SPS), None)
    pps = next((u for u in units if u[0] & 0x1F == H264_PPS), None)
    if sps is None or pps is None:
        return None
    try:
        width, height = h264_sps_size(sps)
    except (ValueError, IndexError):
        return None
    return width, height, b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps


class _Clock:
    """One track's RTP timestamps → positions on the recording's timeline (clock units)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._last: int | None = None
        self._extended = 0
        self._anchor: tuple[int, int] | None = None  # (position, extended timestamp)

    def place(self, timestamp: int, arrival: int) -> int:
        """Where a frame belongs: the first at its ``arrival``, later ones by RTP difference."""
        timestamp &= 0xFFFF_FFFF
        if self._last is not None:
            # Unwrap the 32-bit counter: the signed distance from the previous timestamp.
            self._extended += ((timestamp - self._last + (1 << 31)) & 0xFFFF_FFFF) - (1 << 31)
        self._last = timestamp
        if self._anchor is not None:
            position = self._anchor[0] + self._extended - self._anchor[1]
            if abs(position - arrival) <= RESYNC_SECONDS * self.rate:
                return position
            log.warning(
                "recording: RTP clock off by %.1f s from arrival, re-anchored",
                (position - arrival) / self.rate,
            )
        self._anchor = (arrival, self._extended)
        return arrival


class _AudioTrack:
    """One Opus track of the file and where it stands; all positions in 1/48000 s."""

    __slots__ = ("clock", "end", "in_gap", "pending", "stream", "title")

    def __init__(self, title: str | None) -> None:
        self.title = title
        self.stream: Stream | None = None  # made with the file header
        self.clock = _Clock(AUDIO_CLOCK)
        self.end = 0  # where the next packet starts
        self.in_gap = False  # the last thing muxed was filling silence
        self.pending: deque[Frame] = deque()  # frames that came before the file header


def _rescale(value: int, rate: int, time_base: Fraction) -> int:
    """``value`` in 1/``rate`` units → the nearest integer in ``time_base`` units."""
    return round(Fraction(value, rate) / time_base)


class MediaFileWriter:
    """Remuxes frames into one file with PyAV; no decoding, no encoding.

    ``video`` "vp8" → WebM (VP8 + Opus), "h264" → MP4 (H.264 + Opus), None → audio only
    (WebM/Opus). With ``audio`` the file has ``audio_tracks`` Opus tracks, titled by
    ``audio_titles`` if given; track 0 is the default one. ``start`` is the caller's
    monotonic time at which the recording began: a track's first frame is placed at its
    arrival after ``start``, later ones by their RTP timestamps. Every audio track is kept
    continuous (gaps filled with Opus silence) from 0 to the end of the file.
    """

    def __init__(
        self,
        path: Path,
        video: str | None,
        audio: bool,
        start: float,
        audio_tracks: int = 1,
        audio_titles: list[str] | None = None,
    ) -> None:
        """Prepare to write ``path``; nothing is written before the first usable frame."""
        if video not in CONTAINERS:
            raise ValueError(f"no container for video {video!r}")
        if video is None and not audio:
            raise ValueError("a recording needs video or audio")
        if audio_tracks < 1:
            raise ValueError(f"audio_tracks must be at least 1, not {audio_tracks}")
        if audio_titles is not None and len(audio_titles) != audio_tracks:
            raise ValueError(f"{len(audio_titles)} audio titles for {audio_tracks} tracks")
        if not Path(path).parent.is_dir():
            raise FileNotFoundError(f"no directory for {path}")
        self.path = Path(path)
        self.video = video
        self.audio = audio
        self.start = start
        self.container = CONTAINERS[video]
        self.video_frames = 0
        # Audio counters are totals over all audio tracks.
        self.audio_frames = 0
        self.gaps_filled = 0  # runs of silence put in an audio track
        self.silence_frames = 0
        self.dropped_frames = 0  # video before the first keyframe, audio beyond the pending bound
        self.bad_frames = 0
        self._output: av.container.OutputContainer | None = None
        self._video_stream: Stream | None = None
        titles = audio_titles or [None] * audio_tracks
        self._audio: list[_AudioTrack] = [_AudioTrack(t) for t in titles] if audio else []
        self._video_clock = _Clock(VIDEO_CLOCK)
        self._video_position: int | None = None  # 1/90000 s
        self._video_pts = -1  # in the video stream's time base, kept strictly increasing
        self._frame_interval = DEFAULT_FRAME_INTERVAL
        self._closed = False
        self._summary: FileSummary | None = None

    # -- writing ------------------------------------------------------------------------

    def write(self, kind: str, frame: Frame, track: int = 0) -> None:
        """Add one frame of the "video" track or of audio track ``track`` (0-based; video
        ignores it). Never raises for a bad frame; a track that does not exist is one."""
        if self._closed:
            self._bad(kind, "written after close")
            return
        try:
            if kind == "video" and self.video is not None:
                self._write_video(frame)
            elif kind == "audio" and self.audio and 0 <= track < len(self._audio):
                self._write_audio(self._audio[track], frame)
            else:
                self._bad(kind, "no such track in this recording")
        except Exception as exc:  # one bad frame must not end the recording
            self._bad(kind, f"{type(exc).__name__}: {exc}")

    def _bad(self, kind: str, reason: str) -> None:
        self.bad_frames += 1
        # The first one is worth a warning; a stream of garbage should not flood the log.
        level = logging.WARNING if self.bad_frames == 1 else logging.DEBUG
        log.log(level, "recording %s: bad %s frame (%s)", self.path.name, kind, reason)

    def _arrival(self, frame: Frame, rate: int) -> int:
        return max(0, round((frame.arrival - self.start) * rate))

    def _write_video(self, frame: Frame) -> None:
        if not frame.data:
            self._bad("video", "empty")
            return
        if self._output is None:
            if not frame.keyframe:
                self.dropped_frames += 1  # nothing can be decoded before a keyframe
                return
            if not self._open(frame):
                self._bad("video", "keyframe without readable parameters")
                return
        stream = self._video_stream
        assert stream is not None and stream.time_base is not None
        position = self._video_clock.place(frame.timestamp, self._arrival(frame, VIDEO_CLOCK))
        if self._video_position is not None and position > self._video_position:
            self._frame_interval = min(position - self._video_position, VIDEO_CLOCK // 2)
        pts = max(_rescale(position, VIDEO_CLOCK, stream.time_base), self._video_pts + 1)
        duration = _rescale(self._frame_interval, VIDEO_CLOCK, stream.time_base)
        self._mux(stream, frame.data, pts, duration, frame.keyframe)
        self._video_pts = pts
        self._video_position = max(position, self._video_position or 0)
        self.video_frames += 1
        self._keep_up(self._video_position * AUDIO_CLOCK // VIDEO_CLOCK)

    def _write_audio(self, track: _AudioTrack, frame: Frame) -> None:
        samples = opus_samples(frame.data)
        if not samples:
            self._bad("audio", "not an Opus packet")
            return
        if self._output is None and self.video is not None:
            # Bounded per track, so that one talkative track cannot push out another's audio.
            if len(track.pending) >= MAX_PENDING_AUDIO:
                track.pending.popleft()
                self.dropped_frames += 1
            track.pending.append(frame)
            return
        if self._output is None and not self._open(None):
            self._bad("audio", "cannot open the file")
            return
        self._put_audio(track, frame, samples)

    def _put_audio(self, track: _AudioTrack, frame: Frame, samples: int) -> None:
        """Place an Opus packet right after the track's previous one, filling a gap with
        silence."""
        expected = track.clock.place(frame.timestamp, self._arrival(frame, AUDIO_CLOCK))
        gap = expected - track.end
        if gap >= OPUS_SILENCE_SAMPLES // 2:
            # Whole 20 ms silence packets; the packet then lands within 10 ms of its place.
            self._silence(track, (gap + OPUS_SILENCE_SAMPLES // 2) // OPUS_SILENCE_SAMPLES)
        # Anything shorter, or an overlap, is absorbed by playing the packet right after the
        # previous one: the track stays continuous and strictly increasing.
        self._mux_audio(track, frame.data, samples)
        track.in_gap = False
        self.audio_frames += 1
        # The other tracks follow this one as they follow the video: without it a track that
        # is silent while the video stalls (or in an audio-only file) would get no packet
        # until close, and a crash would leave it empty.
        self._keep_up(track.end)

    def _keep_up(self, lead: int) -> None:
        """Fill with silence every audio track more than AUDIO_LAG_SECONDS behind ``lead``."""
        horizon = lead - _AUDIO_LAG
        for track in self._audio:
            if horizon - track.end >= OPUS_SILENCE_SAMPLES:
                self._silence(track, (horizon - track.end) // OPUS_SILENCE_SAMPLES)

    def _silence(self, track: _AudioTrack, count: int) -> None:
        if count <= 0:
            return
        if not track.in_gap:
            self.gaps_filled += 1
            track.in_gap = True
        for _ in range(count):
            self._mux_audio(track, OPUS_SILENCE, OPUS_SILENCE_SAMPLES)
            self.silence_frames += 1

    def _mux_audio(self, track: _AudioTrack, data: bytes, samples: int) -> None:
        stream = track.stream
        assert stream is not None and stream.time_base is not None
        pts = _rescale(track.end, AUDIO_CLOCK, stream.time_base)
        duration = _rescale(track.end + samples, AUDIO_CLOCK, stream.time_base) - pts
        self._mux(stream, data, pts, duration, True)
        track.end += samples

    def _mux(self, stream: Stream, data: bytes, pts: int, duration: int, key: bool) -> None:
        assert self._output is not None and stream.time_base is not None
        packet = av.Packet(data)
        packet.stream = stream
        packet.time_base = stream.time_base
        packet.pts = pts
        packet.dts = pts
        packet.duration = duration
        packet.is_keyframe = key
        self._output.mux(packet)

    # -- the file header -----------------------------------------------------------------

    def _open(self, keyframe: Frame | None) -> bool:
        """Write the file header: video parameters from ``keyframe`` (None: audio only)."""
        video_parameters: tuple[int, int, bytes | None] | None = None
        if keyframe is not None:
            if self.video == "vp8":
                size = vp8_frame_size(keyframe.data)
                video_parameters = (*size, None) if size else None
            else:
                video_parameters = h264_parameters(keyframe.data)
            if video_parameters is None:
                return False
        elif not self.audio:
            return False
        output = av.open(
            str(self.path), "w", format=self.container, options=MUXER_OPTIONS[self.container]
        )
        try:
            if video_parameters is not None:
                width, height, extradata = video_parameters
                assert self.video is not None
                self._video_stream = self._stream(output, self.video, Fraction(1, VIDEO_CLOCK))
                context = self._video_stream.codec_context
                context.width = width
                context.height = height
                if extradata is not None:
                    context.extradata = extradata
            for track in self._audio:
                track.stream = self._stream(output, "opus", Fraction(1, AUDIO_CLOCK))
                context = track.stream.codec_context
                context.sample_rate = AUDIO_CLOCK
                context.layout = "stereo"
                context.extradata = opus_head()
                if track.title is not None:
                    track.stream.metadata["title"] = track.title
                    if self.container == "mp4":
                        # MP4 keeps "title" in a udta "name" box that older readers (Debian's
                        # ffprobe 5) skip; they show the handler name instead.
                        track.stream.metadata["handler_name"] = track.title
            if len(self._audio) > 1:
                self._mark_default(self._video_stream, self._audio[0].stream)
            output.start_encoding()
        except Exception:
            output.close()
            self._video_stream = None
            for track in self._audio:
                track.stream = None
            raise
        self._output = output
        log.info("recording %s: header written (%s)", self.path.name, self.container)
        # The held audio goes in in arrival order across tracks, so that the tracks advance
        # together and the muxer can interleave them.
        held = heapq.merge(
            *(zip(itertools.repeat(track), track.pending) for track in self._audio),
            key=lambda item: item[1].arrival,
        )
        for track, frame in held:
            self._put_audio(track, frame, opus_samples(frame.data))
        for track in self._audio:
            track.pending.clear()
        return True

    def _mark_default(self, *defaults: Stream | None) -> None:
        """Make ``defaults`` the only streams players pick by themselves.

        Only with several audio tracks, so that a file with one stays exactly as it was.
        FFmpeg's Matroska muxer writes FlagDefault from the disposition as it is (a new
        stream has none, so without this no WebM track is marked default); its MP4 muxer
        enables the first track of each type when none is marked.
        """
        for track in self._audio:
            assert track.stream is not None
            track.stream.disposition = Disposition(0)
        for stream in defaults:
            if stream is not None:
                stream.disposition = Disposition.default

    def _stream(
        self, output: av.container.OutputContainer, codec: str, time_base: Fraction
    ) -> Stream:
        """A stream whose codec parameters are set by hand, with no codec ever opened.

        PyAV fills a stream's parameters from a codec context, and opens that context when the
        header is written, except for a stream made from a template. So the stream is made
        from a template stream of a scratch container that is never written; its codec
        context only carries parameters (no encoder is initialised, nothing is encoded).
        """
        scratch = av.open(io.BytesIO(), "w", format=self.container)
        try:
            template = scratch.add_stream(_TEMPLATE_CODECS[codec])
            stream = output.add_stream_from_template(template, opaque=True)
        finally:
            scratch.close()
        stream.time_base = time_base
        return stream

    # -- the end -------------------------------------------------------------------------

    def close(self) -> FileSummary:
        """Finish the file (every audio track padded to one end, cues/index written) and
        describe it.

        Idempotent. If no video keyframe came, the file has the audio only (20 ms of silence
        in a track that got none). If nothing can be written (video only, no keyframe), there
        is no file and the summary says size 0.
        """
        if self._summary is not None:
            return self._summary
        self._closed = True
        try:
            if self._output is None and self.audio:
                self._open(None)  # no keyframe came: keep the audio that did
            if self._output is not None:
                self._pad_audio()
                self._output.close()
        except Exception:
            log.exception("recording %s: could not finish the file", self.path.name)
        self._summary = self._summarise()
        log.info(
            "recording %s: %d bytes, %.1f s, %d video / %d audio frames, %d gaps filled",
            self.path.name,
            self._summary.size,
            self._summary.duration,
            self.video_frames,
            self.audio_frames,
            self.gaps_filled,
        )
        return self._summary

    def _pad_audio(self) -> None:
        """Pad every audio track with silence to the same end: that of the video or of the
        longest audio track, whichever is later (each within one 20 ms packet past it)."""
        end = max(track.end for track in self._audio) if self._audio else 0
        if self._video_position is not None:
            video_end = self._video_position + self._frame_interval
            end = max(end, video_end * AUDIO_CLOCK // VIDEO_CLOCK)
        for track in self._audio:
            self._silence(track, -(-(end - track.end) // OPUS_SILENCE_SAMPLES))  # round up
            if track.end == 0:
                # Not one frame came. FFmpeg's Matroska muxer writes a broken file without
                # any packet, so the track gets 20 ms of silence.
                self._silence(track, 1)

    def _summarise(self) -> FileSummary:
        size, sha256 = file_figures(self.path)
        video_end = 0.0
        if self._video_position is not None:
            video_end = (self._video_position + self._frame_interval) / VIDEO_CLOCK
        audio_end = max((track.end for track in self._audio), default=0) / AUDIO_CLOCK
        duration = max(video_end, audio_end) if size else 0.0
        return FileSummary(self.path, size, sha256, duration, self.container)
