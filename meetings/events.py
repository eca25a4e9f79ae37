"""Domain events: the domain announces changes, ``signaling`` delivers them."""

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Something that happened to a meeting, e.g. ``meeting.started``."""

    name: str
    meeting_id: int
    data: dict[str, Any] = field(default_factory=dict)


class EventPublisher(Protocol):
    """Implemented by the transport layer; called after the change is committed."""

    async def publish(self, event: DomainEvent) -> None:
        """Deliver one event to the meeting's participants."""
        ...


class DiscardingPublisher:
    """For offline tools (the admin CLI) where nobody is connected to be told."""

    async def publish(self, event: DomainEvent) -> None:
        """Drop the event: no live clients exist in this process."""
        return None
