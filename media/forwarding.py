"""Producer and Consumer: one incoming RTP stream, fanned out to each subscriber unchanged
except for the four header fields every consumer owns (payload type, sequence, timestamp, SSRC).

A video consumer starts at a keyframe (a decoder cannot start anywhere else), so a new
consumer asks the producer for one; keyframe requests from all consumers (their PLI/FIR) are
coalesced into at most one PLI to the publisher per ``min_interval``.
"""

import asyncio
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc.rtcdtlstransport import RTCDtlsTransport

from media import rtcp, rtp
from media.aiortc_hooks import send_rtp_nowait
from media.codecs import vp8_keyframe_start


@dataclass
class Consumer:
    """One subscriber's copy of a producer: its own SSRC, payload type and numbering."""

    transport: RTCDtlsTransport
    ssrc: int
    payload_type: int
    video: bool = True
    paused: bool = False
    sent: int = 0
    dropped: int = 0  # the link could not take it
    skipped: int = 0  # before the first keyframe
    waiting_for_keyframe: bool = field(init=False)
    # Output numbering starts at a random point (RFC 3550 §5.1) and follows the input's
    # steps; offsets are set by the first packet forwarded.
    _sequence_offset: int | None = None
    _timestamp_offset: int = 0

    def __post_init__(self) -> None:
        self.waiting_for_keyframe = self.video

    def forward(self, data: bytes, header: rtp.RtpHeader, keyframe: bool = False) -> None:
        """Rewrite a copy of the packet and send it; never awaits, never raises on a full link."""
        if self.paused:
            return
        if self.waiting_for_keyframe:
            if not keyframe:
                self.skipped += 1
                return
            self.waiting_for_keyframe = False
        if self._sequence_offset is None:
            self._sequence_offset = (random.getrandbits(15) - header.sequence) & 0xFFFF
            self._timestamp_offset = (random.getrandbits(31) - header.timestamp) & 0xFFFFFFFF
        packet = rtp.rewritten(
            data,
            self.payload_type,
            header.sequence + self._sequence_offset,
            header.timestamp + self._timestamp_offset,
            self.ssrc,
        )
        if send_rtp_nowait(self.transport, packet):
            self.sent += 1
        else:
            self.dropped += 1


@dataclass
class KeyframeRequester:
    """Turns any number of keyframe requests into at most one ``send()`` per ``min_interval``."""

    send: Callable[[], None]
    min_interval: float = 0.2
    requests: int = 0
    sent: int = 0
    _last: float = -math.inf
    _pending: asyncio.TimerHandle | None = None

    def request(self) -> None:
        """Ask for a keyframe: now if the last request is old enough, else once it is."""
        self.requests += 1
        if self._pending is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last + self.min_interval - loop.time()
        if wait <= 0:
            self._fire()
        else:
            self._pending = loop.call_later(wait, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._last = asyncio.get_running_loop().time()
        self.sent += 1
        self.send()

    def cancel(self) -> None:
        """Forget a scheduled request (the producer is closing)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


@dataclass
class Producer:
    """An incoming track: parses each packet's header once and hands it to every consumer."""

    video: bool = True
    ssrc: int | None = None
    keyframes: KeyframeRequester | None = None
    consumers: list[Consumer] = field(default_factory=list)
    received: int = 0
    malformed: int = 0

    def add_consumer(self, consumer: Consumer) -> None:
        """Start forwarding to ``consumer``; a video consumer needs a keyframe to begin."""
        self.consumers.append(consumer)
        if consumer.video and self.keyframes is not None:
            self.keyframes.request()

    def on_rtp(self, data: bytes, arrival_ms: int) -> None:
        """Sink for ``aiortc_hooks.tap_rtp``."""
        try:
            header = rtp.parse_header(data)
        except ValueError:
            self.malformed += 1
            return
        if self.ssrc is not None and header.ssrc != self.ssrc:
            return
        self.received += 1
        keyframe = False
        if self.video and any(c.waiting_for_keyframe for c in self.consumers):
            keyframe = vp8_keyframe_start(memoryview(data)[header.header_length :])
        for consumer in self.consumers:
            consumer.forward(data, header, keyframe)

    def on_consumer_rtcp(self, data: bytes) -> None:
        """Sink for ``aiortc_hooks.tap_rtcp`` on a consumer's transport: PLI/FIR go upstream."""
        if self.keyframes is not None and any(rtcp.wants_keyframe(i) for i in rtcp.items(data)):
            self.keyframes.request()
