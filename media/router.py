"""Router: the media of one meeting (which producers exist, who is speaking).

It holds no policy: who sees whom is decided by signaling, which assigns producers to
consumer slots through the Worker. The Router only reports what happens (producers added
and removed, the active speaker) through the Worker's notification callback.
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from media.forwarding import Producer
from media.speaker import SpeakerDetector
from media.tap import Tap
from media.transport import Transport

Notify = Callable[[str, dict[str, Any]], None]


class Router:
    """One meeting's producers and transports, and its active-speaker detector."""

    def __init__(self, router_id: str, notify: Notify, speaker_interval: float = 0.3) -> None:
        self.id = router_id
        self.notify = notify
        self.transports: dict[str, Transport] = {}
        self.producers: dict[str, Producer] = {}
        self.taps: dict[str, Tap] = {}  # local subscribers (recorders)
        self.speaker = SpeakerDetector()
        self._speaker_interval = speaker_interval
        self._ticker: asyncio.Task[None] | None = None
        self._owner: dict[str, str] = {}  # producer id → transport id

    def start(self) -> None:
        """Start the active-speaker clock."""
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick(), name=f"speaker:{self.id}")

    async def close(self) -> None:
        """Close every transport and tap of the meeting (a tap still open finishes its file)."""
        for tap in list(self.taps.values()):
            await tap.close()
        self.taps.clear()
        for transport in list(self.transports.values()):
            await transport.close()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    def producer_added(self, transport: Transport, producer: Producer) -> None:
        """A transport's offer brought a new track."""
        self.producers[producer.id] = producer
        self._owner[producer.id] = transport.id
        if producer.kind == "audio":
            producer.on_audio_level = self._audio_level
        self.notify("producer.added", self.describe(producer))

    def producer_closed(self, transport: Transport, producer: Producer) -> None:
        """A track ended (its endpoint left or its connection failed)."""
        self.producers.pop(producer.id, None)
        self._owner.pop(producer.id, None)
        was_speaking = self.speaker.current == producer.id
        self.speaker.forget(producer.id)
        self.notify(
            "producer.removed",
            {"router_id": self.id, "producer_id": producer.id, "transport_id": transport.id},
        )
        if was_speaking:
            self.notify(
                "speaker.active", {"router_id": self.id, "producer_id": None, "transport_id": None}
            )

    def describe(self, producer: Producer) -> dict[str, Any]:
        """A producer as the Worker's messages carry it."""
        return {
            "router_id": self.id,
            "producer_id": producer.id,
            "transport_id": self._owner.get(producer.id),
            "kind": producer.kind,
            "source": producer.source,
            "layers": len(producer.layers),
        }

    def _audio_level(self, producer: Producer, level: int, arrival_ms: int) -> None:
        self.speaker.observe(producer.id, level)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._speaker_interval)
            if self.speaker.tick(int(loop.time() * 1000)):
                producer_id = self.speaker.current
                self.notify(
                    "speaker.active",
                    {
                        "router_id": self.id,
                        "producer_id": producer_id,
                        "transport_id": self._owner.get(producer_id or ""),
                    },
                )
