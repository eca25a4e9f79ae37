"""Tap: consumers whose packets go to a sink in this process instead of to a peer.

A recorder joins a Router like any subscriber: it gets slots, signaling's policy assigns
producers to them, and each slot's Consumer does what it does for an endpoint (waits for a
keyframe, switches publisher at one, rewrites sequence numbers and timestamps so the stream
stays continuous). Only the last step differs: instead of SRTP and a UDP socket, the rewritten
plain RTP packet is handed to the sink. The sink comes from a factory the composition root
gives the Worker, so the media plane never imports what consumes its taps.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from media.forwarding import Consumer, Producer

# Payload types the tap's consumers write: a fixed map, since there is no SDP to negotiate.
TAP_PAYLOAD_TYPES = {"video/vp8": 96, "video/h264": 102, "audio/opus": 111}
MIME_OF_PAYLOAD_TYPE = {pt: mime for mime, pt in TAP_PAYLOAD_TYPES.items()}
MAX_PACKET = 1500 + 512  # a forwarded packet is at most an MTU plus the extension block


class PacketSink(Protocol):
    """What a tap delivers to (a recorder)."""

    def on_packet(self, mid: str, kind: str, mime: str, packet: bytes, arrival: float) -> None:
        """One rewritten RTP packet of slot ``mid``; must not block (it runs on the hot path)."""

    async def close(self) -> dict[str, Any]:
        """The tap is closing: finish, and say what was made (JSON-shaped)."""


SinkFactory = Callable[["Tap", dict[str, Any]], PacketSink]


class LocalSendPath:
    """Stands in for an SRTP send path: ``buffer`` to write into, ``send`` hands it over."""

    __slots__ = ("_deliver", "buffer")

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self.buffer = memoryview(bytearray(MAX_PACKET))
        self._deliver = deliver

    def send(self, length: int) -> None:
        """Deliver the first ``length`` bytes of ``buffer``."""
        self._deliver(bytes(self.buffer[:length]))

    def send_packet(self, packet: bytes) -> None:
        """Deliver a whole packet (retransmissions; a tap never asks for them)."""
        self._deliver(packet)


@dataclass(eq=False)
class LocalConsumer(Consumer):
    """A Consumer whose send path is a ``LocalSendPath`` (there is no DTLS transport)."""

    local_path: LocalSendPath | None = None

    def resolve_sender(self) -> LocalSendPath | None:  # type: ignore[override]
        """The local path never changes (no ICE pair, no SRTP context)."""
        self._path = self.local_path  # type: ignore[assignment]
        return self.local_path


@dataclass
class TapSlot:
    """One of the tap's receive slots."""

    mid: str
    kind: str
    consumer: LocalConsumer


class Tap:
    """A local subscriber of one Router: its slots' packets go to ``sink``."""

    def __init__(
        self,
        tap_id: str,
        router_id: str,
        slots: dict[str, str],
        factory: SinkFactory,
        params: dict[str, Any],
    ) -> None:
        self.id = tap_id
        self.router_id = router_id
        self.slots: dict[str, TapSlot] = {}
        self.closed = False
        for mid, kind in slots.items():
            if kind not in ("audio", "video"):
                raise ValueError(f"a tap slot is audio or video, not {kind!r}")
            consumer = LocalConsumer(
                transport=None,  # type: ignore[arg-type]
                ssrc=0,
                kind=kind,
                payload_types={m: pt for m, pt in TAP_PAYLOAD_TYPES.items() if m.startswith(kind)},
                mid=mid,
            )
            consumer.local_path = LocalSendPath(self._deliverer(mid, kind))
            self.slots[mid] = TapSlot(mid, kind, consumer)
        self.sink = factory(self, params)

    def _deliverer(self, mid: str, kind: str) -> Callable[[bytes], None]:
        def deliver(packet: bytes) -> None:
            mime = MIME_OF_PAYLOAD_TYPE.get(packet[1] & 0x7F, "")
            self.sink.on_packet(mid, kind, mime, packet, time.monotonic())

        return deliver

    def assign(self, mid: str, producer: Producer | None) -> None:
        """Record ``producer`` on slot ``mid`` from its next keyframe (None pauses the slot)."""
        slot = self.slots.get(mid)
        if slot is None:
            raise KeyError(f"slot {mid}")
        if producer is not None and producer.kind != slot.kind:
            raise ValueError("a slot records one kind of media")
        if self.closed:
            return
        slot.consumer.attach(producer)
        slot.consumer.prefer(max_height=0)  # a recording keeps the best layer being sent

    def request_keyframe(self, mid: str) -> None:
        """The sink lost video on ``mid``: ask its publisher for a keyframe."""
        slot = self.slots.get(mid)
        consumer = slot.consumer if slot is not None else None
        if consumer is not None and consumer.producer is not None:
            consumer.producer.request_keyframe(consumer.target_layer)

    def producer_of(self, mid: str) -> str | None:
        """The id of the producer slot ``mid`` records, if any."""
        slot = self.slots.get(mid)
        producer = slot.consumer.producer if slot is not None else None
        return producer.id if producer is not None else None

    async def close(self) -> dict[str, Any]:
        """Detach every slot, then let the sink finish (write its file's end)."""
        if self.closed:
            return {}
        self.closed = True
        for slot in self.slots.values():
            slot.consumer.attach(None)
        return await self.sink.close()

    def stats(self) -> dict[str, Any]:
        """Counters per slot, as a transport's stats give them."""
        return {
            mid: {
                "producer_id": self.producer_of(mid),
                "sent": s.consumer.sent,
                "skipped": s.consumer.skipped,
                "switches": s.consumer.switches,
                "layer": s.consumer.current_layer,
            }
            for mid, s in self.slots.items()
        }
