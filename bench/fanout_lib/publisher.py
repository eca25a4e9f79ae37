"""The publisher process: the cached VP8 + Opus frames, paced in real time, into one SFU.

An aiortc ``RTCPeerConnection`` whose tracks yield ``av.Packet`` s: aiortc then only
packetises (``encoder.pack``), it does not encode, so the publisher costs little CPU. Every
RTP packet it sends is seen before SRTP (``probes.watch_sent_rtp``): the send time of the first
packet of each video frame is recorded under its RTP timestamp and its ``common.frame_key``,
which is what the subscribers' arrival times are matched against (one machine, one
``CLOCK_MONOTONIC``).
"""

import asyncio
import time
from fractions import Fraction
from typing import Any

import av
from aiortc import MediaStreamTrack

from . import common
from .clients import client_for, peer_connection
from .probes import peer_transport, watch_sent_rtp
from .source import SourceParams, load_or_encode


class Clock:
    """The common start of both tracks, fixed by whichever asks first."""

    def __init__(self) -> None:
        self.t0: float | None = None

    def start(self) -> float:
        """The start time, set now if not yet set."""
        if self.t0 is None:
            self.t0 = time.monotonic()
        return self.t0


class PacedPacketTrack(MediaStreamTrack):
    """Yields pre-encoded frames in a loop at their real-time pace, with continuous pts."""

    def __init__(
        self, kind: str, frames: list[bytes], interval: float, ticks: int, rate: int, clock: Clock
    ) -> None:
        super().__init__()
        self.kind = kind
        self.frames = frames
        self.interval = interval
        self.ticks = ticks  # RTP clock ticks per frame
        self.time_base = Fraction(1, rate)
        self.clock = clock
        self.n = 0

    async def recv(self) -> av.Packet:  # type: ignore[override]
        """The next frame, when it is due."""
        due = self.clock.start() + self.n * self.interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self.frames[self.n % len(self.frames)])
        packet.pts = self.n * self.ticks
        packet.time_base = self.time_base
        self.n += 1
        return packet


class Pacer:
    """A leaky bucket for the video packets, as browsers' WebRTC stacks pace what they send.

    libwebrtc's paced sender (modules/pacing) releases a frame's packets at a pacing rate of
    2.5 x the target bitrate, in bursts about 5 ms apart, instead of all at once. aiortc has no
    pacer: without one a 70-packet frame would reach the SFU as a burst no browser sends, and
    its added latency would measure the publisher's burst rather than the SFU. Audio is not
    paced (libwebrtc sends audio ahead of queued video).
    """

    BURST_SECONDS = 0.005

    def __init__(self, bits_per_second: float) -> None:
        self.bytes_per_second = bits_per_second / 8
        self.debt = 0.0  # bytes sent and not yet drained at the pacing rate
        self.last = time.monotonic()

    async def admit(self, size: int) -> None:
        """Wait until ``size`` more bytes fit the pacing rate, then count them."""
        while True:
            now = time.monotonic()
            self.debt = max(0.0, self.debt - (now - self.last) * self.bytes_per_second)
            self.last = now
            if self.debt <= self.bytes_per_second * self.BURST_SECONDS:
                break
            await asyncio.sleep(self.debt / self.bytes_per_second - self.BURST_SECONDS)
        self.debt += size


def pace_video(transport: Any, video_pts: set[int], pacer: Pacer) -> None:
    """Route ``transport``'s video RTP (and its RTX) through ``pacer``; audio goes straight."""
    stock = transport._send_rtp

    async def send_rtp(data: bytes) -> None:
        if data[1] & 0x7F in video_pts:
            await pacer.admit(len(data))
        await stock(data)

    transport._send_rtp = send_rtp


class SendLog:
    """Send times of video frames and packet counts in the measuring window."""

    def __init__(self, video_pt: int, window: common.Window) -> None:
        self.video_pt = video_pt
        self.window = window
        self.frames: list[tuple[int, bytes, float]] = []  # (RTP timestamp, frame key, time)
        self.last_timestamp: int | None = None
        self.packets = 0  # RTP packets sent inside the window (media and retransmissions)

    def on_sent(self, data: bytes) -> None:
        """Called for every RTP packet before SRTP protection."""
        now = time.monotonic()
        if self.window.inside(now):
            self.packets += 1
        if data[1] & 0x7F != self.video_pt:
            return
        offset = common.rtp_payload_offset(data)
        timestamp = int.from_bytes(data[4:8], "big")
        if timestamp == self.last_timestamp or not common.vp8_frame_start(data[offset]):
            return
        self.last_timestamp = timestamp
        self.frames.append((timestamp, common.frame_key(data, offset), now))


async def publish(
    mode: str,
    config: dict[str, Any],
    params: SourceParams,
    pacing_factor: float,
    results: Any,
    start_at: Any,
    stop_at: Any,
    stop: Any,
) -> None:
    """The publisher process's work (run through ``common.child_main``); reports to ``results``."""
    window = common.Window()
    waiting = asyncio.ensure_future(window.wait(start_at, stop_at))
    source = load_or_encode(params, log=common.log)
    clock = Clock()
    pc = peer_connection()
    audio = PacedPacketTrack("audio", source.audio, 0.02, 960, 48000, clock)
    video = PacedPacketTrack(
        "video", source.video, 1 / params.fps, 90000 // params.fps, 90000, clock
    )
    for track in (audio, video):
        pc.addTransceiver(track, direction="sendonly")
    client = client_for(mode, config)
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def on_state() -> None:
        if pc.connectionState == "connected":
            connected.set()

    await client.publish(pc)
    video_pt = next(
        pt
        for pt, info in common.payload_types(pc.remoteDescription.sdp).items()
        if info.codec == "vp8"
    )
    log = SendLog(video_pt, window)
    # The log sees packets as they leave, after the pacer: added latency starts there.
    watch_sent_rtp(peer_transport(pc), log.on_sent)
    if pacing_factor > 0:
        video_pts = {
            pt
            for pt, info in common.payload_types(pc.remoteDescription.sdp).items()
            if info.kind == "video"
        }
        pace_video(peer_transport(pc), video_pts, Pacer(pacing_factor * source.video_kbps * 1000))
    await asyncio.wait_for(connected.wait(), 30)
    common.log(f"publisher connected to {mode}")
    results.put(("ready", "publisher", None))
    await asyncio.to_thread(stop.wait)
    waiting.cancel()
    results.put(("result", "publisher", {"packets": log.packets, "frames": log.frames}))
    await client.close()
    await pc.close()
