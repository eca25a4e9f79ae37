"""Producer and Consumer: one incoming RTP stream, fanned out to each subscriber unchanged
except for the four header fields every consumer owns (payload type, sequence, timestamp, SSRC).
"""

import random
from dataclasses import dataclass, field

from aiortc.rtcdtlstransport import RTCDtlsTransport

from media import rtp
from media.aiortc_hooks import send_rtp_nowait


@dataclass
class Consumer:
    """One subscriber's copy of a producer: its own SSRC, payload type and numbering."""

    transport: RTCDtlsTransport
    ssrc: int
    payload_type: int
    paused: bool = False
    sent: int = 0
    dropped: int = 0
    # Output numbering starts at a random point (RFC 3550 §5.1) and follows the input's
    # steps; offsets are set by the first packet forwarded.
    _sequence_offset: int | None = None
    _timestamp_offset: int = 0

    def forward(self, data: bytes, header: rtp.RtpHeader) -> None:
        """Rewrite a copy of the packet and send it; never awaits, never raises on a full link."""
        if self.paused:
            return
        if self._sequence_offset is None:
            self._sequence_offset = (random.getrandbits(15) - header.sequence) & 0xFFFF
            self._timestamp_offset = (random.getrandbits(31) - header.timestamp) & 0xFFFFFFFF
        packet = bytearray(data)
        rtp.rewrite(
            packet,
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
class Producer:
    """An incoming track: parses each packet's header once and hands it to every consumer."""

    ssrc: int | None = None
    consumers: list[Consumer] = field(default_factory=list)
    received: int = 0
    malformed: int = 0

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
        for consumer in self.consumers:
            consumer.forward(data, header)
