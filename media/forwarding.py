"""Producer and Consumer: one incoming stream fanned out to each subscriber without decoding.

Each consumer owns the header fields a subscriber sees: payload type, sequence number,
timestamp, SSRC and the extension block (in the subscriber's own extension IDs). Its output
numbering continues across simulcast layer switches and across a change of producer (a slot
that shows "the active speaker" moves from one publisher to another), so the subscriber's
jitter buffer and decoder see one unbroken stream.

A video consumer starts, and switches layer, only at a keyframe of the layer it moves to
(a decoder cannot start anywhere else), and asks for one; keyframe requests from all
consumers of a layer are coalesced into at most one PLI to the publisher per ``min_interval``.
"""

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc.rtcdtlstransport import RTCDtlsTransport

from media import rtp
from media.aiortc_hooks import RtpSendPath, rtp_send_path
from media.codecs import keyframe_start
from media.feedback import (
    BandwidthEstimate,
    NackGenerator,
    PacketCache,
    ReceptionStats,
    SenderReportClock,
    rtx_packet,
)
from media.layers import LayerSelector

KEYFRAME_RETRY_MS = 1000  # a consumer still waiting for a keyframe asks again this often
CLOCK_RATES = {"audio": 48000, "video": 90000}
# Heights assumed for simulcast layers until a keyframe tells the real size (Chromium's
# default ladder for a 720p camera: 1/4, 1/2, full).
DEFAULT_LAYER_HEIGHTS = (180, 360, 720)
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


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
class NackRequester:
    """Sends a layer's NACKs to its publisher: at once for a new gap, then on a retry timer.

    One timer per layer at most, and only while something is missing.
    """

    generator: NackGenerator
    send: Callable[[list[int]], None]  # sequence numbers → one RTCP NACK to the publisher
    clock_ms: Callable[[], int]  # the clock of the packets' arrival times
    _timer: asyncio.TimerHandle | None = None

    def request(self) -> None:
        """A new gap was found: ask now (and keep asking while it stays missing)."""
        if self._timer is not None:
            self._timer.cancel()
        self._fire()

    def _fire(self) -> None:
        self._timer = None
        lost = self.generator.due(self.clock_ms())
        if lost:
            self.send(lost)
        if self.generator.missing:
            self._timer = asyncio.get_running_loop().call_later(
                self.generator.retry_ms / 1000, self._fire
            )

    def cancel(self) -> None:
        """Stop asking (the producer is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@dataclass(slots=True)
class ExtensionIds:
    """Where the extensions the SFU carries or reads sit in one side's negotiation (0: absent)."""

    audio_level: int = 0
    abs_send_time: int = 0

    @classmethod
    def from_uris(cls, ids: dict[str, int]) -> "ExtensionIds":
        """Pick our extensions out of a ``uri → id`` map from the SDP."""
        return cls(ids.get(URI_AUDIO_LEVEL, 0), ids.get(URI_ABS_SEND_TIME, 0))

    def key(self) -> tuple[int, int]:
        """Consumers with the same key share one extension block per packet."""
        return (self.audio_level, self.abs_send_time)


@dataclass(slots=True)
class Layer:
    """One encoding of a producer: the only one, or a simulcast layer (index 0 = lowest)."""

    rid: str | None
    ssrc: int | None = None
    height: int = 0
    keyframes: KeyframeRequester | None = None
    packets: int = 0
    last_arrival_ms: int = 0
    cache: PacketCache | None = None  # video: answers consumers' NACKs
    nacks: NackRequester | None = None  # video with NACK negotiated: asks the publisher
    clock: SenderReportClock = field(default_factory=lambda: SenderReportClock(90000))
    reception: ReceptionStats = field(default_factory=lambda: ReceptionStats(90000))


@dataclass(slots=True)
class Epoch:
    """A stretch of a consumer's output with constant offsets (between two switches)."""

    first_sequence: int  # output sequence number where it began
    layer: int
    sequence_offset: int
    timestamp_offset: int


@dataclass(eq=False)
class Consumer:
    """One subscriber's copy of whichever producer its slot is assigned to."""

    transport: RTCDtlsTransport
    ssrc: int
    kind: str
    payload_types: dict[str, int]  # mime (lower case) → the subscriber's negotiated PT
    extension_ids: ExtensionIds = field(default_factory=ExtensionIds)
    mid: str | None = None
    rtx_ssrc: int | None = None
    rtx_payload_types: dict[str, int] = field(default_factory=dict)  # mime → RTX PT
    producer: "Producer | None" = None
    bandwidth: BandwidthEstimate = field(default_factory=BandwidthEstimate)
    selector: LayerSelector = field(default_factory=LayerSelector)
    target_layer: int = 0
    max_height: int = 0  # 0: no limit asked
    max_bitrate: int = 0  # 0: unknown; set from the bandwidth estimate
    current_layer: int | None = None
    sent: int = 0
    bytes_sent: int = 0
    dropped: int = 0  # the link could not take it
    skipped: int = 0  # waiting for a keyframe
    switches: int = 0
    retransmitted: int = 0
    nack_misses: int = 0
    epochs: deque[Epoch] = field(default_factory=lambda: deque(maxlen=8))
    _sequence_offset: int = 0
    _timestamp_offset: int = 0
    _last_sequence: int | None = None
    _last_timestamp: int = 0
    _last_arrival_ms: int = 0
    _asked_ms: int = 0
    _rtx_sequence: int = field(default_factory=lambda: random.getrandbits(15))
    _mime: str = ""
    _path: RtpSendPath | None = None
    _extension_key: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        self._extension_key = self.extension_ids.key()

    @property
    def video(self) -> bool:
        """Video consumers wait for keyframes; audio ones start anywhere."""
        return self.kind == "video"

    @property
    def waiting_for_keyframe(self) -> bool:
        """True until the target layer's first keyframe has been forwarded."""
        return self.current_layer != self.target_layer

    def attach(self, producer: "Producer | None") -> None:
        """Show ``producer`` from now on (None pauses: a paused consumer costs nothing)."""
        if producer is self.producer:
            return
        if self.producer is not None:
            self.producer.remove_consumer(self)
        self.producer = producer
        self.current_layer = None
        self.selector.probing = None  # layer indices of the old producer mean nothing now
        if producer is not None:
            self.target_layer = producer.layer_for(self.max_height, self.max_bitrate)
            self.selector.target = self.target_layer
            producer.add_consumer(self)

    def prefer(
        self,
        max_height: int | None = None,
        max_bitrate: int | None = None,
        now: float | None = None,
    ) -> None:
        """Record what the subscriber displays / can take; switch layer (at a keyframe)."""
        if max_height is not None:
            self.max_height = max_height
        if max_bitrate is not None:
            self.max_bitrate = max_bitrate
        producer = self.producer
        if producer is None:
            return
        if len(producer.layers) == 1:
            target = 0
        else:
            size_layer = producer.layer_for(self.max_height)
            # The keep-margin protects a layer the estimate confirmed, not one being probed:
            # a probe succeeds only when the estimate reaches the layer's full bitrate.
            probing = self.selector.probing
            hold = self.target_layer if probing is None else probing - 1
            bandwidth_layer = producer.layer_for(self.max_height, self.max_bitrate, hold=hold)
            target = self.selector.choose(
                time.monotonic() if now is None else now,
                size_layer,
                bandwidth_layer,
                producer.next_live_layer(bandwidth_layer, size_layer),
                self.bandwidth.loss,
                self.bandwidth.remb_bps,
            )
        if target != self.target_layer:
            self.target_layer = target
            if self.current_layer != target:
                producer.request_keyframe(target)

    def forward(
        self,
        layer: int,
        mime: str,
        data: bytes,
        header: rtp.RtpHeader,
        keyframe: bool,
        elements: dict[int, bytes],
        blocks: dict[tuple[int, int], tuple[int, bytes]],
        arrival_ms: int,
        payload: memoryview,
    ) -> None:
        """Rewrite a copy of the packet and send it; never awaits, never raises on a full link.

        ``blocks`` caches ``rtp.copy_prefix`` per extension-ID set for this packet, and
        ``payload`` is its payload: both are shared by every consumer of the packet.
        """
        payload_type = self.payload_types.get(mime)
        if payload_type is None:  # the subscriber did not negotiate this codec
            self.skipped += 1
            return
        if layer != self.current_layer:
            if (
                layer != self.target_layer
                or (self.kind == "video" and not keyframe)
                or self.resolve_sender() is None  # its endpoint is not connected (yet)
            ):
                self.skipped += 1
                if self.kind == "video" and arrival_ms - self._asked_ms >= KEYFRAME_RETRY_MS:
                    # The keyframe asked for at attach time may have gone by unused.
                    self._asked_ms = arrival_ms
                    if self.producer is not None:
                        self.producer.request_keyframe(self.target_layer)
                return
            self._mime = mime
            self._begin_epoch(layer, header, arrival_ms)
        key = self._extension_key
        prefix = blocks.get(key)
        if prefix is None:
            prefix = blocks[key] = rtp.copy_prefix(data, self._extension_block(elements))
        sequence = (header.sequence + self._sequence_offset) & 0xFFFF
        timestamp = (header.timestamp + self._timestamp_offset) & 0xFFFFFFFF
        if (sequence - self._last_sequence) & 0xFFFF < 0x8000:  # type: ignore[operator]
            self._last_sequence = sequence
            self._last_timestamp = timestamp
            self._last_arrival_ms = arrival_ms
        path = self._path or self.resolve_sender()
        if path is None:
            self.dropped += 1
            return
        try:
            length = rtp.write_copy(
                path.buffer,
                prefix[0],
                (data[1] & 0x80) | payload_type,
                sequence,
                timestamp,
                self.ssrc,
                prefix[1],
                payload,
            )
            path.send(length)
        except (BlockingIOError, InterruptedError):  # its link is full
            self.dropped += 1
        except OSError:  # the path went away: look it up again next time
            self._path = None
            self.dropped += 1
        except ValueError:  # larger than any MTU: the publisher's problem, not forwarded
            self.dropped += 1
        else:
            self.sent += 1
            self.bytes_sent += length

    def forward_late(
        self,
        layer: int,
        mime: str,
        data: bytes,
        header: rtp.RtpHeader,
        keyframe: bool,
        elements: dict[int, bytes],
        blocks: dict[tuple[int, int], tuple[int, bytes]],
        arrival_ms: int,
        payload: memoryview,
    ) -> None:
        """A packet older than the newest (recovered by a NACK, or reordered).

        Forwarded only inside the current epoch: numbered with an older epoch's offsets it
        would land on a wrong sequence number, and a late packet never starts an epoch (the
        packets after it have already gone by).
        """
        epoch = self.epochs[-1] if self.epochs else None
        if (
            layer != self.current_layer
            or epoch is None
            or (header.sequence + self._sequence_offset - epoch.first_sequence) & 0xFFFF >= 0x8000
        ):
            self.skipped += 1
            return
        self.forward(layer, mime, data, header, keyframe, elements, blocks, arrival_ms, payload)

    def _transmit(self, packet: bytes) -> bool:
        """SRTP-protect and send; False (the packet is this consumer's loss only) if it can't."""
        path = self._path or self.resolve_sender()
        if path is None:
            self.dropped += 1
            return False
        try:
            path.send_packet(packet)
        except (BlockingIOError, InterruptedError):  # its link is full
            self.dropped += 1
            return False
        except OSError:  # the path went away: look it up again next time
            self._path = None
            self.dropped += 1
            return False
        except ValueError:
            self.dropped += 1
            return False
        return True

    def resolve_sender(self) -> RtpSendPath | None:
        """(Re)bind the send path to the transport's current ICE pair and SRTP context."""
        self._path = rtp_send_path(self.transport)
        return self._path

    def _begin_epoch(self, layer: int, header: rtp.RtpHeader, arrival_ms: int) -> None:
        """New offsets so the output continues where it stopped (RFC 3550 §5.1 random start)."""
        if self._last_sequence is None:
            next_sequence = random.getrandbits(15)
            next_timestamp = random.getrandbits(31)
        else:
            next_sequence = self._last_sequence + 1
            elapsed_ms = max(1, arrival_ms - self._last_arrival_ms)
            next_timestamp = self._last_timestamp + elapsed_ms * CLOCK_RATES[self.kind] // 1000
        self._sequence_offset = (next_sequence - header.sequence) & 0xFFFF
        self._timestamp_offset = (next_timestamp - header.timestamp) & 0xFFFFFFFF
        self._last_sequence = (next_sequence - 1) & 0xFFFF
        self.epochs.append(
            Epoch(next_sequence & 0xFFFF, layer, self._sequence_offset, self._timestamp_offset)
        )
        if self.current_layer is not None or self.switches or self.sent:
            self.switches += 1
        self.current_layer = layer

    def _extension_block(self, elements: dict[int, bytes]) -> bytes:
        producer = self.producer
        if producer is None:
            return b""
        wanted: list[tuple[int, bytes]] = []
        source, target = producer.extension_ids, self.extension_ids
        if target.audio_level and source.audio_level in elements:
            wanted.append((target.audio_level, elements[source.audio_level]))
        if target.abs_send_time and source.abs_send_time in elements:
            wanted.append((target.abs_send_time, elements[source.abs_send_time]))
        return rtp.extension_block(wanted)

    def retransmit(self, sequences: list[int], max_packets: int = 100) -> None:
        """Answer a NACK from the producer's packet cache: RTX when negotiated (RFC 4588)."""
        producer = self.producer
        if producer is None:
            return
        payload_type = self.payload_types.get(self._mime)
        rtx_payload_type = self.rtx_payload_types.get(self._mime)
        for sequence in sequences[:max_packets]:
            found = self.source_of(sequence)
            cache = producer.layers[found[0]].cache if found is not None else None
            data = cache.get(found[1]) if found is not None and cache is not None else None
            if data is None or payload_type is None:
                self.nack_misses += 1
                continue
            assert found is not None
            header = rtp.parse_header(data)
            block = self._extension_block(rtp.extensions(data, header))
            packet = rtp.forwarded(
                data,
                header,
                payload_type,
                sequence,
                header.timestamp + found[2],
                self.ssrc,
                block,
            )
            if rtx_payload_type is not None and self.rtx_ssrc is not None:
                self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
                packet = rtx_packet(
                    packet,
                    rtp.parse_header(packet).header_length,
                    self.rtx_ssrc,
                    rtx_payload_type,
                    self._rtx_sequence,
                )
            if self._transmit(packet):
                self.retransmitted += 1

    def sender_report_times(self, monotonic_now: float) -> tuple[int, int] | None:
        """(NTP, RTP) for this consumer's next Sender Report, on its publisher's timeline.

        The producer's NTP↔RTP mapping (from its own SRs) shifted by this consumer's current
        timestamp offset: audio and video consumers of one publisher share its NTP clock, so
        browsers keep them in sync (lip sync).
        """
        producer, layer = self.producer, self.current_layer
        if producer is None or layer is None or not self.sent:
            return None
        clock = producer.layers[layer].clock
        if not clock.ready:
            return None
        ntp, producer_rtp = clock.now(monotonic_now)
        return ntp, (producer_rtp + self._timestamp_offset) & 0xFFFFFFFF

    def on_bandwidth(self, now: float | None = None) -> None:
        """The estimate changed: move to the layer it allows (at the next keyframe)."""
        self.prefer(max_bitrate=self.bandwidth.bps, now=now)

    def source_of(self, sequence: int) -> tuple[int, int, int] | None:
        """(layer, producer sequence, timestamp offset) behind an output sequence number."""
        for epoch in reversed(self.epochs):
            if (sequence - epoch.first_sequence) & 0xFFFF < 0x8000:
                return (
                    epoch.layer,
                    (sequence - epoch.sequence_offset) & 0xFFFF,
                    epoch.timestamp_offset,
                )
        return None

    def rtp_timestamp_now(self, now_ms: int) -> int | None:
        """The output RTP timestamp that corresponds to ``now_ms`` (for sender reports)."""
        if self._last_sequence is None or not self.sent:
            return None
        elapsed = now_ms - self._last_arrival_ms
        return (self._last_timestamp + elapsed * CLOCK_RATES[self.kind] // 1000) & 0xFFFFFFFF


AudioLevelSink = Callable[["Producer", int, int], None]  # (producer, level -dBov, arrival ms)


@dataclass(eq=False)
class Producer:
    """An incoming track: parses each packet once and hands it to every active consumer."""

    id: str
    kind: str
    source: str = "camera"
    layers: list[Layer] = field(default_factory=lambda: [Layer(None)])
    payload_types: dict[int, str] = field(default_factory=dict)  # publisher's PT → mime
    rtx_payload_types: dict[int, int] = field(default_factory=dict)  # its RTX PT → media PT
    extension_ids: ExtensionIds = field(default_factory=ExtensionIds)
    consumers: list[Consumer] = field(default_factory=list)
    on_audio_level: AudioLevelSink | None = None
    received: int = 0
    bytes_received: int = 0
    malformed: int = 0
    unknown_payload: int = 0
    closed: bool = False

    @property
    def video(self) -> bool:
        """Video producers have keyframes and (maybe) simulcast layers."""
        return self.kind == "video"

    def __post_init__(self) -> None:
        for layer in self.layers:
            layer.clock = SenderReportClock(CLOCK_RATES[self.kind])
            layer.reception = ReceptionStats(CLOCK_RATES[self.kind])
            if self.kind == "video" and layer.cache is None:
                layer.cache = PacketCache()

    def add_consumer(self, consumer: Consumer) -> None:
        """Start forwarding to ``consumer``; a video consumer needs a keyframe to begin."""
        if consumer not in self.consumers:
            self.consumers.append(consumer)
        if self.video:
            self.request_keyframe(consumer.target_layer)

    def remove_consumer(self, consumer: Consumer) -> None:
        """Stop forwarding to ``consumer``."""
        if consumer in self.consumers:
            self.consumers.remove(consumer)

    def request_keyframe(self, layer: int) -> None:
        """Ask the publisher (coalesced, rate-limited) for a keyframe on one layer."""
        if 0 <= layer < len(self.layers):
            requester = self.layers[layer].keyframes
            if requester is not None:
                requester.request()

    def layer_for(self, max_height: int, max_bitrate: int = 0, hold: int = -1) -> int:
        """The highest layer that is being sent and fits ``max_height`` and ``max_bitrate``.

        A layer the publisher has stopped sending (Chromium drops its top layer when its
        uplink estimate is short) is never chosen: a consumer waiting for it would freeze.
        Layers up to ``hold`` (the consumer's current one) need only ``HOLD_FRACTION`` of
        their bitrate to be kept, so an estimate hovering at a threshold does not make the
        consumer switch (and ask for a keyframe) at every report.
        """
        if len(self.layers) == 1:
            return 0
        newest = max(layer.last_arrival_ms for layer in self.layers)
        best = None
        for index, layer in enumerate(self.layers):
            if not self._live(layer, newest):
                continue
            height = layer.height or DEFAULT_LAYER_HEIGHTS[min(index, 2)]
            if best is not None and max_height and height > max_height:
                break
            needed = LAYER_MIN_BITRATE[min(index, 2)] * (HOLD_FRACTION if index <= hold else 1)
            if best is not None and max_bitrate and max_bitrate < needed:
                break
            best = index
        return 0 if best is None else best

    def next_live_layer(self, above: int, up_to: int) -> int | None:
        """The lowest layer being sent in (``above``, ``up_to``]: where a probe goes next."""
        newest = max(layer.last_arrival_ms for layer in self.layers)
        for index in range(above + 1, min(up_to, len(self.layers) - 1) + 1):
            if self._live(self.layers[index], newest):
                return index
        return None

    @staticmethod
    def _live(layer: Layer, newest_ms: int) -> bool:
        return bool(layer.packets) and newest_ms - layer.last_arrival_ms <= LAYER_IDLE_MS

    def wanted_layer(self) -> int:
        """The highest layer any consumer displays (by size alone): what the publisher must send."""
        wanted = 0
        for consumer in self.consumers:
            for index, layer in enumerate(self.layers):
                height = layer.height or DEFAULT_LAYER_HEIGHTS[min(index, 2)]
                if consumer.max_height and height > consumer.max_height and index:
                    break
                wanted = max(wanted, index)
        return wanted

    def on_rtp(self, layer_index: int, data: bytes, header: rtp.RtpHeader, arrival_ms: int) -> None:
        """One packet of one layer, already demultiplexed by the transport."""
        self.received += 1
        self.bytes_received += len(data)
        layer = self.layers[layer_index]
        layer.packets += 1
        layer.last_arrival_ms = arrival_ms
        layer.reception.on_packet(header.sequence, header.timestamp, arrival_ms)
        if layer.cache is not None:
            layer.cache.put(header.sequence, data, arrival_ms)
        late = False
        if layer.nacks is not None:
            order = layer.nacks.generator.on_packet(header.sequence, arrival_ms)
            if order == NackGenerator.GAP:
                layer.nacks.request()
            late = order == NackGenerator.LATE
        if not layer.clock.ready:
            layer.clock.on_packet(header.timestamp, time.monotonic())
        mime = self.payload_types.get(header.payload_type)
        if mime is None:
            self.unknown_payload += 1
            return
        elements = rtp.extensions(data, header) if header.extension_profile is not None else {}
        if self.on_audio_level is not None and self.extension_ids.audio_level in elements:
            level = elements[self.extension_ids.audio_level]
            if level:
                self.on_audio_level(self, level[0] & 0x7F, arrival_ms)
        keyframe = False
        payload = memoryview(data)[header.header_length :]
        if self.kind == "video":
            keyframe = keyframe_start(mime, payload)
            if keyframe and mime == "video/vp8":
                height = vp8_keyframe_height(payload)
                if height:
                    layer.height = height
        blocks: dict[tuple[int, int], tuple[int, bytes]] = {}
        if late:
            for consumer in self.consumers:
                consumer.forward_late(
                    layer_index, mime, data, header, keyframe, elements, blocks, arrival_ms, payload
                )
            return
        for consumer in self.consumers:
            consumer.forward(
                layer_index, mime, data, header, keyframe, elements, blocks, arrival_ms, payload
            )

    def close(self) -> None:
        """Detach every consumer and cancel pending keyframe requests."""
        self.closed = True
        for consumer in list(self.consumers):
            consumer.attach(None)
        for layer in self.layers:
            if layer.keyframes is not None:
                layer.keyframes.cancel()
            if layer.nacks is not None:
                layer.nacks.cancel()


# Below these estimates a consumer is not moved up to the middle / top layer. Chromium's
# simulcast ladder for 720p sends about 150 kbps, 500 kbps and 1.5-2.5 Mbps, but its REMB only
# runs about 1.5x ahead of what it receives: the thresholds let a consumer on 360p (REMB about
# 1 Mbps) move up, and the loss-based estimate moves it back down on a link that cannot carry it.
LAYER_MIN_BITRATE = (0, 250_000, 900_000)
HOLD_FRACTION = 0.75
LAYER_IDLE_MS = 1500  # a layer silent this long (relative to the newest) is not being sent


def vp8_keyframe_height(payload: bytes | memoryview) -> int:
    """Frame height from the first packet of a VP8 keyframe (RFC 6386 §9.1), 0 if unknown."""
    pos = 1
    first = payload[0]
    if first & 0x80 and len(payload) > 1:
        ext = payload[1]
        pos = 2
        if ext & 0x80:
            pos += 2 if len(payload) > pos and payload[pos] & 0x80 else 1
        if ext & 0x40:
            pos += 1
        if ext & 0x30:
            pos += 1
    # 3-byte frame tag, 3-byte start code 9d 01 2a, then 14-bit width and 14-bit height.
    if len(payload) < pos + 10 or bytes(payload[pos + 3 : pos + 6]) != b"\x9d\x01\x2a":
        return 0
    return (payload[pos + 8] | (payload[pos + 9] << 8)) & 0x3FFF
