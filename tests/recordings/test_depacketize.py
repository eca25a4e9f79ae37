"""FrameAssembler: real RTP (aiortc-packetised VP8, H.264, Opus) → frames, through disorder."""

from __future__ import annotations

import functools
import random
import struct
from dataclasses import dataclass

import pytest
from aiortc.rtp import RtpPacket

from recordings.depacketize import Frame, FrameAssembler, h264_is_keyframe, h264_nal_units
from tests.recordings.helpers import FPS, RtpSender, encode_opus, encode_video

LATENCY = 0.01
KEYFRAMES = (0, 30)
CODECS = ["vp8", "h264"]


@dataclass
class Sent:
    """A stream as sent: each frame's packets, with what the assembler should give back."""

    frames: list[bytes]
    packets: list[list[bytes]]  # per frame
    timestamps: list[int]
    keyframes: tuple[int, ...]

    def arrival(self, index: int) -> float:
        return index / FPS + LATENCY


@functools.cache
def video_stream(codec: str) -> Sent:
    """60 frames of 640x480 at 2 Mbit/s (frames of several packets), keyframes at 0 and 30."""
    frames = encode_video(codec, 60, 640, 480, keyframes=KEYFRAMES, bit_rate=2_000_000)
    sender = RtpSender(f"video/{codec}")
    packets = [sender.packets(f, i / FPS) for i, f in enumerate(frames)]
    timestamps = [sender.timestamp(i / FPS) for i in range(len(frames))]
    return Sent(frames, packets, timestamps, KEYFRAMES)


@functools.cache
def audio_stream() -> Sent:
    tone = encode_opus(80)
    sender = RtpSender("audio/opus")
    packets = [sender.packets(p, i * 0.02) for i, p in enumerate(tone)]
    timestamps = [sender.timestamp(i * 0.02) for i in range(len(tone))]
    return Sent(tone, packets, timestamps, ())


def same_frame(codec: str, got: bytes, sent: bytes) -> bool:
    """VP8 comes back byte for byte; H.264 as the same NAL units, in Annex B."""
    if codec == "h264":
        return got.startswith(b"\x00\x00\x00\x01") and h264_nal_units(got) == h264_nal_units(sent)
    return got == sent


def check_frames(codec: str, out: list[Frame], sent: Sent, indexes: list[int]) -> None:
    """``out`` are exactly the sent frames at ``indexes``, in order, with their metadata."""
    assert len(out) == len(indexes)
    for frame, index in zip(out, indexes, strict=True):
        assert same_frame(codec, frame.data, sent.frames[index]), index
        assert frame.timestamp == sent.timestamps[index]
        assert frame.keyframe == (index in sent.keyframes)
        assert frame.arrival == pytest.approx(sent.arrival(index))


def push_all(assembler: FrameAssembler, items: list[tuple[bytes, float]]) -> list[Frame]:
    out: list[Frame] = []
    for packet, arrival in items:
        out += assembler.push(packet, arrival)
    return out


def in_order(sent: Sent) -> list[tuple[bytes, float]]:
    return [(p, sent.arrival(i)) for i, packets in enumerate(sent.packets) for p in packets]


@pytest.mark.parametrize("codec", CODECS)
def test_in_order(codec: str) -> None:
    sent = video_stream(codec)
    assembler = FrameAssembler("video", f"video/{codec}")
    assert assembler.needs_keyframe  # nothing to start from yet
    out = push_all(assembler, in_order(sent))
    # A frame is known complete when the next one starts: the last one is still held.
    check_frames(codec, out, sent, list(range(59)))
    assert not assembler.needs_keyframe
    assert assembler.packets == sum(len(p) for p in sent.packets)
    assert (assembler.frames, assembler.dropped_frames, assembler.malformed) == (59, 0, 0)
    if codec == "h264":
        assert h264_is_keyframe(out[0].data) and h264_is_keyframe(out[30].data)


@pytest.mark.parametrize("codec", CODECS)
def test_reordered(codec: str) -> None:
    sent = video_stream(codec)
    items = in_order(sent)
    shuffle = random.Random(6)
    # Disorder within windows of six packets, from the second window on: the stream's very
    # first packet sets where the reordering window begins (anything older is late).
    for start in range(6, len(items), 6):
        window = items[start : start + 6]
        shuffle.shuffle(window)
        items[start : start + 6] = window
    assembler = FrameAssembler("video", f"video/{codec}")
    out = push_all(assembler, items)
    assert len(out) >= 58  # the last frame or two may still wait for their successor
    check_frames(codec, out, sent, list(range(len(out))))
    assert assembler.dropped_frames == 0


@pytest.mark.parametrize("codec", CODECS)
def test_duplicated_and_padding(codec: str) -> None:
    sent = video_stream(codec)
    items: list[tuple[bytes, float]] = []
    for packet, arrival in in_order(sent):
        items += [(packet, arrival), (packet, arrival)]
    # A retransmission of something long delivered, and a padding-only packet (a bandwidth
    # probe) in the sequence, carrying the previous frame's timestamp.
    items.insert(200, items[10])
    parsed = RtpPacket.parse(items[-1][0])
    padding = RtpPacket(
        payload_type=parsed.payload_type,
        sequence_number=(parsed.sequence_number + 1) & 0xFFFF,
        timestamp=parsed.timestamp,
        ssrc=parsed.ssrc,
    )
    padding.padding_size = 200
    next_frame = RtpSender(f"video/{codec}", sequence=(parsed.sequence_number + 2) & 0xFFFF)
    items.append((padding.serialize(), sent.arrival(59)))
    items += [(p, 3.1) for p in next_frame.packets(sent.frames[1], 99.0)]
    assembler = FrameAssembler("video", f"video/{codec}")
    out = push_all(assembler, items)
    check_frames(codec, out, sent, list(range(60)))
    assert assembler.dropped_frames == 0 and assembler.malformed == 0


def first_multi_packet_frame(sent: Sent, after: int) -> int:
    return next(
        i
        for i, packets in enumerate(sent.packets)
        if i > after and len(packets) >= 3 and i not in sent.keyframes
    )


@pytest.mark.parametrize("codec", CODECS)
def test_lost_packet_drops_frames_until_the_keyframe(codec: str) -> None:
    sent = video_stream(codec)
    lost_frame = first_multi_packet_frame(sent, 3)
    assert lost_frame < KEYFRAMES[1]
    assembler = FrameAssembler("video", f"video/{codec}")
    out: list[Frame] = []
    asked_at: int | None = None
    for index, packets in enumerate(sent.packets):
        for position, packet in enumerate(packets):
            if index == lost_frame and position == 1:
                continue  # lost in the middle of the frame, never retransmitted
            out += assembler.push(packet, sent.arrival(index))
        if assembler.needs_keyframe and asked_at is None and index > 0:
            asked_at = index
    # Everything before the loss, nothing from the damaged frame to the keyframe, all after.
    check_frames(codec, out, sent, [*range(lost_frame), *range(KEYFRAMES[1], 59)])
    assert asked_at is not None and lost_frame < asked_at < KEYFRAMES[1]
    assert not assembler.needs_keyframe  # the keyframe came
    assert assembler.dropped_frames == KEYFRAMES[1] - lost_frame


@pytest.mark.parametrize("codec", CODECS)
def test_lost_whole_frame(codec: str) -> None:
    sent = video_stream(codec)
    assembler = FrameAssembler("video", f"video/{codec}")
    out: list[Frame] = []
    for index, packets in enumerate(sent.packets):
        if index != 10:
            for packet in packets:
                out += assembler.push(packet, sent.arrival(index))
    # Frame 9 was whole (its last packet is marked): only 10 and its dependants are missing.
    check_frames(codec, out, sent, [*range(10), *range(KEYFRAMES[1], 59)])
    assert assembler.dropped_frames == KEYFRAMES[1] - 11


@pytest.mark.parametrize("codec", CODECS)
def test_late_retransmission_fills_the_hole(codec: str) -> None:
    sent = video_stream(codec)
    lost_frame = first_multi_packet_frame(sent, 3)
    late = sent.packets[lost_frame][1]
    assembler = FrameAssembler("video", f"video/{codec}")
    out: list[Frame] = []
    for index, packets in enumerate(sent.packets):
        for position, packet in enumerate(packets):
            if index == lost_frame and position == 1:
                continue
            out += assembler.push(packet, sent.arrival(index))
        if index == lost_frame + 6:  # a NACK round trip later: 0.2 s
            out += assembler.push(late, sent.arrival(index))
        assert index == 0 or not assembler.needs_keyframe
    check_frames(codec, out, sent, list(range(59)))
    assert assembler.dropped_frames == 0


@pytest.mark.parametrize("jump", [5000, -5000])
def test_sequence_jump_resumes_at_the_keyframe(jump: int) -> None:
    """A stream whose sequence numbers jump (a restarted sender) goes on from its keyframe."""
    sent = video_stream("vp8")
    first = RtpSender("video/vp8")
    second = RtpSender("video/vp8", sequence=(first.sequence + 60 + jump) & 0xFFFF)
    assembler = FrameAssembler("video", "video/vp8")
    out: list[Frame] = []
    for index, frame in enumerate(sent.frames):
        sender = first if index < KEYFRAMES[1] else second
        for packet in sender.packets(frame, index / FPS):
            out += assembler.push(packet, sent.arrival(index))
    # Frame 29 was waiting for its successor when the buffer started over.
    check_frames("vp8", out, sent, [*range(29), *range(KEYFRAMES[1], 59)])
    assert assembler.dropped_frames == 1
    assert not assembler.needs_keyframe


def test_audio_reordered_duplicated_and_lost() -> None:
    sent = audio_stream()
    items = [(packets[0], 0.02 * i + LATENCY) for i, packets in enumerate(sent.packets)]
    for i in range(2, 20, 2):  # (not the first: it sets where the window starts)
        items[i], items[i + 1] = items[i + 1], items[i]  # pairs swapped
    lost = items.pop(40)  # never comes: the track goes on without it after a short wait
    assert lost[0] == sent.packets[40][0]
    items.insert(30, items[29])  # a duplicate of a packet still waiting for its successor
    items.insert(45, items[5])  # duplicates of packets delivered long ago
    items.insert(46, items[6])
    assembler = FrameAssembler("audio", "audio/opus")
    out = push_all(assembler, items)
    indexes = [i for i in range(len(sent.frames) - 1) if i != 40]
    assert [f.data for f in out] == [sent.frames[i] for i in indexes]
    assert [f.timestamp for f in out] == [sent.timestamps[i] for i in indexes]
    assert not any(f.keyframe for f in out)
    assert not assembler.needs_keyframe
    assert assembler.malformed == 0


def malformed_packets(codec: str) -> list[bytes]:
    """Packets no parser should accept, each broken in a different place."""
    header = struct.pack("!BBHII", 0x80, 96, 7, 1234, 0xABC)
    bad = [
        b"",
        b"\x80\x60",  # shorter than an RTP header
        struct.pack("!BBHII", 0x40, 96, 1, 2, 3) + b"payload",  # version 1
        struct.pack("!BBHII", 0x8F, 96, 1, 2, 3) + b"\x00" * 8,  # 15 CSRCs announced, 2 there
        struct.pack("!BBHII", 0x90, 96, 1, 2, 3) + b"\xbe\xde\x00\x05",  # extension cut short
        struct.pack("!BBHII", 0xA0, 96, 1, 2, 3) + b"ab\xff",  # padding longer than the packet
    ]
    if codec == "vp8":
        bad += [header + b"\x80", header + b"\x90\x80"]  # descriptor cut short
    else:
        bad += [
            header + b"\x1a\x00\x00",  # NAL type 26 (MTAP16): not supported
            header + b"\x18\x00\x09\x65",  # STAP-A whose unit runs past the end
            header + b"\x05",  # one byte: too short for a NAL unit
        ]
    return bad


@pytest.mark.parametrize("codec", CODECS)
def test_malformed_packets_are_counted_and_skipped(codec: str) -> None:
    sent = video_stream(codec)
    bad = malformed_packets(codec)
    items = in_order(sent)
    for offset, packet in enumerate(bad):
        items.insert(7 * offset + 3, (packet, items[7 * offset + 3][1]))
    assembler = FrameAssembler("video", f"video/{codec}")
    out = push_all(assembler, items)
    check_frames(codec, out, sent, list(range(59)))
    assert assembler.malformed == len(bad)


@pytest.mark.parametrize(("kind", "mime"), [("video", "video/vp8"), ("audio", "audio/opus")])
def test_random_bytes_never_raise(kind: str, mime: str) -> None:
    noise = random.Random(42)
    assembler = FrameAssembler(kind, mime)
    for index in range(2000):
        length = noise.randrange(0, 60)
        packet = bytes(noise.randrange(256) for _ in range(length))
        if index % 2:  # half of them with a plausible header, to reach the payload parsers
            packet = bytes([0x80, 96]) + packet[2:]
        for frame in assembler.push(packet, index * 0.001):
            assert isinstance(frame, Frame)
    assert assembler.packets == 2000
    assert assembler.malformed > 0


def test_unknown_codec_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot assemble"):
        FrameAssembler("video", "video/av1")
    with pytest.raises(ValueError, match="cannot assemble"):
        FrameAssembler("audio", "video/vp8")
    assert FrameAssembler("video", "video/H264").mime == "video/h264"
