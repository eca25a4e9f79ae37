"""MediaFileWriter: real RTP → frames → a WebM or MP4 file that ffprobe reads and PyAV decodes."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from recordings.container import (
    AUDIO_LAG_SECONDS,
    OPUS_SILENCE,
    MediaFileWriter,
    h264_parameters,
    opus_samples,
    vp8_frame_size,
)
from recordings.depacketize import Frame, FrameAssembler
from recordings.probe import ProbeResult, probe
from tests.recordings.helpers import (
    FPS,
    RtpSender,
    audio_gaps,
    decode_all,
    encode_opus,
    encode_video,
    ffprobe,
    matroska_top_level,
    mp4_boxes,
)

START = 5000.0  # the caller's monotonic clock when recording began
LATENCY = 0.012  # capture → arrival at the recorder
SWITCH = 3.0  # the spotlight moves to the second publisher (at its keyframe)
AUDIO_GAP = (2.0, 3.5)  # nobody's audio is forwarded
LENGTH = 6.0
MATROSKA_CUES = 0x1C53BB6B
FORMATS = {"vp8": ("webm", "matroska,webm"), "h264": ("mp4", "mov,mp4,m4a,3gp,3g2,mj2")}


@dataclass
class Recorded:
    """A recording made from a scripted session, and what went into it."""

    writer: MediaFileWriter
    path: Path
    video_sent: int
    audio_sent: int


@functools.cache
def session_packets(codec: str) -> list[tuple[float, str, bytes]]:
    """Six seconds of RTP as a tap delivers it, in arrival order: (seconds, kind, packet).

    Video: 3 s of one publisher at 320x240, then 3 s of another at 480x360 starting with a
    keyframe, in one continuous RTP stream. Audio: a tone in 20 ms Opus packets, with
    nothing forwarded for 1.5 s (the timestamps jump by the elapsed time, as the SFU
    rewrites them).
    """
    half = round(SWITCH * FPS)
    first = encode_video(codec, half, 320, 240, keyframes=(0,))
    second = encode_video(codec, round(LENGTH * FPS) - half, 480, 360, keyframes=(0,), tint=200)
    video = RtpSender(f"video/{codec}")
    events: list[tuple[float, str, bytes]] = []
    for index, frame in enumerate(first + second):
        captured = index / FPS
        events += [(captured + LATENCY, "video", p) for p in video.packets(frame, captured)]
    audio = RtpSender("audio/opus", ssrc=0xAB, sequence=100, first_timestamp=77)
    tone = encode_opus(round(LENGTH * 50))
    for index, packet in enumerate(tone):
        captured = index * 0.02
        if AUDIO_GAP[0] <= captured < AUDIO_GAP[1]:
            continue
        events += [(captured + LATENCY, "audio", p) for p in audio.packets(packet, captured)]
    events.sort(key=lambda event: event[0])  # stable: a frame's packets keep their order
    return events


def record(codec: str, directory: Path) -> Recorded:
    """Run a session's packets through FrameAssembler and MediaFileWriter."""
    container = FORMATS[codec][0]
    path = directory / f"recording.{container}"
    writer = MediaFileWriter(path, codec, True, START)
    assemblers = {
        "video": FrameAssembler("video", f"video/{codec}"),
        "audio": FrameAssembler("audio", "audio/opus"),
    }
    sent = {"video": 0, "audio": 0}
    for arrival, kind, packet in session_packets(codec):
        for frame in assemblers[kind].push(packet, START + arrival):
            writer.write(kind, frame)
            sent[kind] += 1
    assert all(a.malformed == 0 and a.dropped_frames == 0 for a in assemblers.values())
    return Recorded(writer, path, sent["video"], sent["audio"])


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_recording_with_a_switch_and_an_audio_gap(codec: str, tmp_path: Path) -> None:
    recorded = record(codec, tmp_path)
    writer = recorded.writer
    summary = writer.close()
    container, format_name = FORMATS[codec]

    assert summary.container == container
    assert summary.path == recorded.path
    assert summary.size == recorded.path.stat().st_size > 0
    assert writer.video_frames == recorded.video_sent
    assert writer.audio_frames == recorded.audio_sent
    assert writer.bad_frames == 0
    assert writer.gaps_filled >= 1

    probed = ffprobe(recorded.path)
    assert probed["format"]["format_name"] == format_name
    codecs = sorted(s["codec_name"] for s in probed["streams"])
    assert codecs == sorted([codec, "opus"])
    video_stream = next(s for s in probed["streams"] if s["codec_type"] == "video")
    assert (video_stream["width"], video_stream["height"]) == (320, 240)
    assert abs(float(probed["format"]["duration"]) - LENGTH) <= 0.5
    assert abs(summary.duration - float(probed["format"]["duration"])) <= 0.1

    decoded = decode_all(recorded.path)
    assert decoded.video_frames == writer.video_frames
    assert decoded.sizes == {(320, 240), (480, 360)}
    # The audio covers the recording from its start to the end of the video, with no hole.
    assert decoded.audio[0][0] <= 0.03
    audio_end = decoded.audio[-1][0] + decoded.audio[-1][1]
    assert audio_end >= decoded.video_end
    assert max(abs(gap) for gap in audio_gaps(decoded.audio)) <= 0.001
    # The silence is where nobody's audio was forwarded, not somewhere else.
    silent = [a for a in decoded.audio if AUDIO_GAP[0] + 0.05 < a[0] < AUDIO_GAP[1] - 0.05]
    assert silent and writer.silence_frames >= len(silent)


# Track 0 the floor's continuous tone, track 1 the session's audio with its 1.5 s hole, track
# 2 nobody (the titles are what a meeting might call them).
TRACK_TITLES = ["Sàn chính", "Phòng 2", "Phiên dịch"]


@functools.cache
def multitrack_packets(codec: str) -> list[tuple[float, str, int, bytes]]:
    """The session's packets with its audio as audio track 1, plus another publisher's
    continuous tone as track 0, in arrival order: (seconds, kind, track, packet)."""
    events = [(t, kind, int(kind == "audio"), p) for t, kind, p in session_packets(codec)]
    sender = RtpSender("audio/opus", ssrc=0xCD, sequence=40_000, first_timestamp=0xFFFF_0000)
    for index, packet in enumerate(encode_opus(round(LENGTH * 50), frequency=660.0)):
        captured = index * 0.02
        events += [(captured + LATENCY, "audio", 0, p) for p in sender.packets(packet, captured)]
    events.sort(key=lambda event: event[0])
    return events


def record_tracks(codec: str, directory: Path) -> Recorded:
    """Run ``multitrack_packets`` through FrameAssemblers and a three-track MediaFileWriter."""
    path = directory / f"tracks.{FORMATS[codec][0]}"
    writer = MediaFileWriter(path, codec, True, START, audio_tracks=3, audio_titles=TRACK_TITLES)
    assemblers = {
        ("video", 0): FrameAssembler("video", f"video/{codec}"),
        ("audio", 0): FrameAssembler("audio", "audio/opus"),
        ("audio", 1): FrameAssembler("audio", "audio/opus"),
    }
    sent = {"video": 0, "audio": 0}
    for arrival, kind, track, packet in multitrack_packets(codec):
        for frame in assemblers[kind, track].push(packet, START + arrival):
            writer.write(kind, frame, track)
            sent[kind] += 1
    assert all(a.malformed == 0 and a.dropped_frames == 0 for a in assemblers.values())
    return Recorded(writer, path, sent["video"], sent["audio"])


def audio_packets(path: Path) -> list[list[tuple[float, bytes]]]:
    """(start seconds, data) of every packet of each audio stream, demuxed (not decoded)."""
    with av.open(str(path)) as media:
        tracks: dict[int, list[tuple[float, bytes]]] = {s.index: [] for s in media.streams.audio}
        for packet in media.demux(media.streams.audio):
            if packet.size and packet.pts is not None and packet.time_base is not None:
                tracks[packet.stream.index].append(
                    (float(packet.pts * packet.time_base), bytes(packet))
                )
    return list(tracks.values())


def stream_ends_on_disk(path: Path, directory: Path) -> list[float]:
    """Where each stream of a file still being written ends in what is on disk now, as a
    kill -9 would leave it (0.0 for a stream without a packet), in stream order."""
    copy = directory / f"on-disk{path.suffix}"
    shutil.copyfile(path, copy)
    with av.open(str(copy)) as media:
        ends = [0.0] * len(media.streams)
        try:
            for packet in media.demux():
                if packet.size and packet.pts is not None and packet.time_base is not None:
                    end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                    ends[packet.stream.index] = max(ends[packet.stream.index], end)
        except av.error.FFmpegError:
            pass  # the unfinished cluster or fragment at the end
    return ends


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_several_audio_tracks_are_each_continuous_to_the_end(codec: str, tmp_path: Path) -> None:
    recorded = record_tracks(codec, tmp_path)
    writer = recorded.writer
    # The silence goes in as the recording goes on, not at the end: a crash keeps every track
    # up to about where the video is.
    video_on_disk, *audio_on_disk = stream_ends_on_disk(recorded.path, tmp_path)
    assert video_on_disk >= LENGTH / 2
    assert all(end >= video_on_disk - AUDIO_LAG_SECONDS - 0.1 for end in audio_on_disk)
    summary = writer.close()

    assert writer.video_frames == recorded.video_sent
    assert writer.audio_frames == recorded.audio_sent  # a total over the tracks
    assert writer.bad_frames == writer.dropped_frames == 0
    # Both tracks' first 12 ms, track 1's hole, all of track 2.
    assert writer.gaps_filled >= 4

    streams = ffprobe(recorded.path)["streams"]
    assert [s["codec_name"] for s in streams] == [codec, "opus", "opus", "opus"]
    # Matroska keeps the title as the track's name; for MP4, Debian's ffprobe 5 shows the
    # handler name (it skips the udta "name" box that holds the title).
    key = "title" if codec == "vp8" else "handler_name"
    assert [s["tags"][key] for s in streams[1:]] == TRACK_TITLES
    # Players pick the video and track 0 by themselves, and only them.
    assert [s["disposition"]["default"] for s in streams] == [1, 1, 0, 0]

    decoded = decode_all(recorded.path)
    assert decoded.video_frames == writer.video_frames
    assert len(decoded.audio_tracks) == 3
    ends = []
    for frames in decoded.audio_tracks:
        assert frames[0][0] <= 0.001
        assert max(abs(gap) for gap in audio_gaps(frames)) <= 0.002
        ends.append(frames[-1][0] + frames[-1][1])
    assert max(ends) - min(ends) <= 0.03
    video_end = decoded.video_end + 1 / FPS
    assert all(video_end <= end <= video_end + 0.5 for end in ends)
    assert summary.duration == pytest.approx(max(ends), abs=0.03)

    tone, gapped, nobody = audio_packets(recorded.path)
    assert all(data == OPUS_SILENCE for _, data in nobody)
    hole = [data for t, data in gapped if AUDIO_GAP[0] + 0.05 < t < AUDIO_GAP[1] - 0.05]
    # Silence, but for one packet: the jitter buffer gives out the last frame before the hole
    # only when the next packet comes, after the hole, and it then follows the silence that
    # was filled in meanwhile.
    assert hole and hole.count(OPUS_SILENCE) >= len(hole) - 1
    assert not any(data == OPUS_SILENCE for t, data in tone if 0.05 < t < LENGTH - 0.05)


def test_audio_only_tracks_end_together(tmp_path: Path) -> None:
    tone = encode_opus(200)
    senders = [RtpSender("audio/opus", ssrc=1), RtpSender("audio/opus", ssrc=2)]
    writer = MediaFileWriter(tmp_path / "voices.webm", None, True, START, audio_tracks=2)
    events = [(0.5 + i * 0.02, 0, p) for i, p in enumerate(tone)]  # 0.5 s → 4.5 s
    events += [(1.0 + i * 0.02, 1, p) for i, p in enumerate(tone[:25])]  # 1.0 s → 1.5 s
    for t, track, packet in sorted(events, key=lambda e: e[0]):
        writer.write("audio", Frame(packet, senders[track].timestamp(t), False, START + t), track)
    # Track 1 follows track 0 as it goes, as audio tracks follow the video.
    lead, follower = stream_ends_on_disk(writer.path, tmp_path)
    assert lead >= 2.0 and follower >= lead - AUDIO_LAG_SECONDS - 0.1
    summary = writer.close()

    assert writer.audio_frames == len(events)
    assert [s["codec_name"] for s in ffprobe(summary.path)["streams"]] == ["opus", "opus"]
    decoded = decode_all(summary.path)
    ends = []
    for frames in decoded.audio_tracks:
        assert frames[0][0] == 0.0
        assert max(abs(gap) for gap in audio_gaps(frames)) <= 0.001
        ends.append(frames[-1][0] + frames[-1][1])
    assert ends == pytest.approx([4.5, 4.5], abs=0.03)
    assert summary.duration == pytest.approx(4.5, abs=0.03)
    _, second = audio_packets(summary.path)
    assert next(t for t, data in second if data != OPUS_SILENCE) == pytest.approx(1.0, abs=0.02)


def test_every_track_keeps_its_audio_from_before_the_first_keyframe(tmp_path: Path) -> None:
    frames = encode_video("vp8", 40, 160, 120, keyframes=(20,))  # the keyframe at 0.67 s
    tone = encode_opus(70)
    video = RtpSender("video/vp8")
    audio = [RtpSender("audio/opus", ssrc=1), RtpSender("audio/opus", ssrc=2)]
    events = [(i / FPS, "video", 0, f) for i, f in enumerate(frames)]
    events += [(i * 0.02, "audio", 0, p) for i, p in enumerate(tone)]
    events += [(0.3 + i * 0.02, "audio", 1, p) for i, p in enumerate(tone[:40])]
    writer = MediaFileWriter(tmp_path / "late.webm", "vp8", True, START, audio_tracks=2)
    for t, kind, track, data in sorted(events, key=lambda e: e[0]):
        sender = video if kind == "video" else audio[track]
        writer.write(kind, Frame(data, sender.timestamp(t), t == 20 / FPS, START + t), track)
    summary = writer.close()

    assert writer.dropped_frames == 20
    assert (writer.video_frames, writer.audio_frames) == (20, 110)
    decoded = decode_all(summary.path)
    for frames in decoded.audio_tracks:
        assert frames[0][0] == 0.0
        assert max(abs(gap) for gap in audio_gaps(frames)) <= 0.001
    first, second = audio_packets(summary.path)
    assert sum(data != OPUS_SILENCE for _, data in first) == 70
    assert sum(data != OPUS_SILENCE for _, data in second) == 40
    assert next(t for t, data in second if data != OPUS_SILENCE) == pytest.approx(0.3, abs=0.02)


def test_audio_for_a_missing_track_is_a_bad_frame(tmp_path: Path) -> None:
    frames = encode_video("vp8", 2, 160, 120)
    tone = encode_opus(2)
    writer = MediaFileWriter(tmp_path / "two.webm", "vp8", True, START, audio_tracks=2)
    for track in (5, 2, -1):
        writer.write("audio", Frame(tone[0], 0, False, START), track=track)  # must not raise
    assert writer.bad_frames == 3 and writer.audio_frames == 0
    writer.write("video", Frame(frames[0], 0, True, START), track=7)  # video ignores it
    writer.write("audio", Frame(tone[1], 960, False, START + 0.02), track=1)
    writer.write("video", Frame(frames[1], 3000, False, START + 1 / FPS))
    assert writer.bad_frames == 3
    assert (writer.video_frames, writer.audio_frames) == (2, 1)
    summary = writer.close()
    assert [s["codec_name"] for s in ffprobe(summary.path)["streams"]] == ["vp8", "opus", "opus"]

    with pytest.raises(ValueError):
        MediaFileWriter(tmp_path / "none.webm", "vp8", True, START, audio_tracks=0)
    with pytest.raises(ValueError):
        MediaFileWriter(tmp_path / "one.webm", "vp8", True, START, 2, audio_titles=["only one"])


def test_finished_files_are_indexed_for_seeking(tmp_path: Path) -> None:
    for codec in ("vp8", "h264"):
        (tmp_path / codec).mkdir()
        recorded = record(codec, tmp_path / codec)
        recorded.writer.close()
        if codec == "vp8":
            assert MATROSKA_CUES in matroska_top_level(recorded.path)
        else:
            assert mp4_boxes(recorded.path)[-1] == "mfra"
        with av.open(str(recorded.path)) as media:
            stream = media.streams.video[0]
            media.seek(round(4.5 / stream.time_base), stream=stream)
            packet = next(p for p in media.demux(stream) if p.pts is not None)
            assert packet.is_keyframe
            # the nearest keyframe before 4.5 s is the switch at 3 s
            assert abs(float(packet.pts * stream.time_base) - (SWITCH + LATENCY)) < 0.05


def test_close_is_idempotent_and_hashes_the_file(tmp_path: Path) -> None:
    recorded = record("vp8", tmp_path)
    first = recorded.writer.close()
    second = recorded.writer.close()
    assert first == second
    assert first.sha256 == hashlib.sha256(recorded.path.read_bytes()).hexdigest()
    recorded.writer.write("video", Frame(b"\x00" * 20, 1, False, START + 9))
    assert recorded.writer.close() == first


def test_audio_before_the_first_keyframe_is_kept_and_video_before_it_dropped(
    tmp_path: Path,
) -> None:
    frames = encode_video("vp8", 40, 160, 120, keyframes=(20,))  # the keyframe at 0.67 s
    tone = encode_opus(70)
    video, audio = RtpSender("video/vp8"), RtpSender("audio/opus")
    events = [(i / FPS, "video", f, i == 20) for i, f in enumerate(frames)]
    events += [(i * 0.02, "audio", p, False) for i, p in enumerate(tone)]
    writer = MediaFileWriter(tmp_path / "late.webm", "vp8", True, START)
    for t, kind, data, key in sorted(events, key=lambda e: e[0]):
        sender = video if kind == "video" else audio
        writer.write(kind, Frame(data, sender.timestamp(t), key, START + t))
    summary = writer.close()

    assert writer.dropped_frames == 20
    assert writer.video_frames == 20
    assert writer.audio_frames == 70
    decoded = decode_all(summary.path)
    assert decoded.video_frames == 20
    assert decoded.audio[0][0] == 0.0  # the audio from before the header is all there
    assert len(decoded.audio) >= 70
    assert max(abs(gap) for gap in audio_gaps(decoded.audio)) <= 0.001


def test_bad_frames_never_raise(tmp_path: Path) -> None:
    frames = encode_video("vp8", 3, 160, 120)
    writer = MediaFileWriter(tmp_path / "bad.webm", "vp8", True, START)
    bad = [
        ("video", Frame(b"", 1, True, START)),
        ("video", Frame(b"\x00\x01\x02", 1, True, START)),  # "keyframe" without a header
        ("audio", Frame(b"", 1, False, START)),
        ("audio", Frame(b"\x03", 1, False, START)),  # code 3 without its frame count
        ("data", Frame(b"abc", 1, False, START)),
        ("video", Frame(frames[0], 1, True, float("nan"))),  # no usable arrival time
    ]
    odd = [  # odd but usable: written
        ("video", Frame(frames[0], -5, True, START - 100)),  # arrived before the start
        ("video", Frame(frames[1], 2**40 + 3000, False, START + 0.1)),  # beyond 32 bits
        ("video", Frame(frames[2], 3000, False, START + 0.1)),  # the same instant again
    ]
    for kind, frame in bad + odd:
        writer.write(kind, frame)  # must not raise
    assert writer.bad_frames == len(bad)
    assert writer.video_frames == len(odd)
    summary = writer.close()
    assert ffprobe(summary.path)["streams"]
    assert decode_all(summary.path).video_frames == len(odd)


def test_audio_only_recording(tmp_path: Path) -> None:
    tone = encode_opus(100)
    sender = RtpSender("audio/opus")
    writer = MediaFileWriter(tmp_path / "audio.webm", None, True, START)
    for index, packet in enumerate(tone):
        t = 0.5 + index * 0.02 + (1.0 if index >= 50 else 0.0)  # starts at 0.5 s, 1 s gap
        writer.write("audio", Frame(packet, sender.timestamp(t), False, START + t))
    summary = writer.close()
    assert summary.container == "webm"
    assert [s["codec_name"] for s in ffprobe(summary.path)["streams"]] == ["opus"]
    decoded = decode_all(summary.path)
    assert decoded.audio[0][0] == 0.0
    assert max(abs(gap) for gap in audio_gaps(decoded.audio)) <= 0.001
    assert abs(summary.duration - 3.5) < 0.03
    assert writer.gaps_filled == 2  # before the first packet, and the 1 s gap


@pytest.mark.parametrize("video", ["vp8", "h264", None])
def test_recording_that_got_nothing_is_still_a_valid_file(
    video: str | None, tmp_path: Path
) -> None:
    writer = MediaFileWriter(tmp_path / "nothing", video, True, START)
    summary = writer.close()
    probed = ffprobe(summary.path)
    assert [s["codec_name"] for s in probed["streams"]] == ["opus"]
    assert summary.duration == pytest.approx(0.02)
    assert probe(summary.path).audio_frames == 1


def test_video_only_without_keyframe_makes_no_file(tmp_path: Path) -> None:
    frames = encode_video("vp8", 5, 160, 120)
    writer = MediaFileWriter(tmp_path / "none.webm", "vp8", False, START)
    for index, frame in enumerate(frames[1:]):
        writer.write("video", Frame(frame, index * 3000, False, START + index / FPS))
    summary = writer.close()
    assert summary.size == 0 and summary.duration == 0.0
    assert not summary.path.exists()
    assert writer.dropped_frames == 4


def test_bitstream_headers(tmp_path: Path) -> None:
    for width, height in [(320, 240), (480, 360), (642, 362)]:
        vp8 = encode_video("vp8", 1, width, height)[0]
        assert vp8_frame_size(vp8) == (width, height)
        h264 = encode_video("h264", 1, width, height)[0]
        parameters = h264_parameters(h264)
        assert parameters is not None and parameters[:2] == (width, height)
        assert parameters[2].startswith(b"\x00\x00\x00\x01\x67")
    assert opus_samples(OPUS_SILENCE) == 960
    assert all(opus_samples(p) == 960 for p in encode_opus(5))
    assert opus_samples(b"") == opus_samples(b"\x03") == 0


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_kill_9_leaves_a_playable_file(codec: str, tmp_path: Path) -> None:
    container = FORMATS[codec][0]
    path = tmp_path / f"killed.{container}"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.recordings.write_forever", str(path), codec],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "writing"
        # Three seconds of real-time writing, then the process dies without any cleanup.
        for line in process.stdout:
            if float(line) >= 3.0:
                break
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    probed = ffprobe(path)
    assert sorted(s["codec_name"] for s in probed["streams"]) == sorted([codec, "opus"])
    decoded = decode_all(path)
    assert decoded.video_frames >= 1.5 * FPS
    assert decoded.video_end >= 1.5
    result = probe(path)
    assert sorted(result.streams) == sorted([codec, "opus"])
    assert result.duration >= 1.5
    assert result.video_frames >= decoded.video_frames
    assert result.audio_frames >= 1.5 * 50
    assert (result.width, result.height) == (320, 240)


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_probe_counts_what_was_written_and_survives_truncation(codec: str, tmp_path: Path) -> None:
    recorded = record(codec, tmp_path)
    writer = recorded.writer
    summary = writer.close()
    whole = probe(recorded.path)
    assert whole.video_frames == writer.video_frames
    assert whole.audio_frames == writer.audio_frames + writer.silence_frames
    assert abs(whole.duration - summary.duration) <= 0.05
    assert (whole.width, whole.height) == (320, 240)

    data = recorded.path.read_bytes()
    previous = 0
    for fraction in (0.3, 0.6, 0.9):
        cut = tmp_path / f"cut-{fraction}.{FORMATS[codec][0]}"
        cut.write_bytes(data[: int(len(data) * fraction)])
        partial = probe(cut)
        assert partial.streams == whole.streams
        assert previous < partial.video_frames < whole.video_frames
        assert 0 < partial.duration < whole.duration
        previous = partial.video_frames

    empty = tmp_path / f"empty.{FORMATS[codec][0]}"
    empty.write_bytes(b"")
    assert probe(empty) == ProbeResult(0.0, 0, 0, 0, 0, [])
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "missing.webm")
