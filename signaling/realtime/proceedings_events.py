"""socket.io side of the proceedings: the speaker events, and the announcements of agenda,
speaker and conclusion changes that REST and socket.io share.

Client → server events (each acknowledged ``{"ok": true, ...}`` only after its commit):
``speaker.list``, ``speaker.request``, ``speaker.withdraw``, ``speaker.grant``, ``speaker.end``,
``speaker.reorder``. Server → room events: ``speakers.changed`` (the whole list),
``agenda.changed``, ``agenda.current``, ``conclusions.changed``.

``speakers.changed`` carries the whole list, so it is coalesced per meeting: a burst of
changes (a hundred delegates asking at once) becomes one event per flush interval, read from
the database when it is sent, instead of one full list per change to every participant
(O(N²) messages). The interval grows with the room, as presence broadcasts do.

Granting the floor puts the speaker on air: the SFU spotlights them for everyone (clients
get ``media.spotlight``) and their own connections get ``media.unmute``; ending the speech
gives the spotlight back to the chair. The spotlight is this process's SFU: with several
signaling processes a meeting's connections reach one process (see ``gateway.py``).
"""

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from meetings import speakers
from meetings.errors import NotFound
from meetings.models import Meeting
from meetings.permissions import Action
from meetings.proceedings_models import SpeakerRequest
from signaling.api.convert_proceedings import speaker_json, speakers_json
from signaling.api.schemas_proceedings import (
    SocketPayload,
    SpeakerGrantPayload,
    SpeakerReorderPayload,
    SpeakerRequestPayload,
)
from signaling.logs import get_logger
from signaling.realtime.events import Connection, EventSpec

if TYPE_CHECKING:
    from signaling.realtime.gateway import SignalingGateway

log = get_logger("phonghop.proceedings")


# ---- announcements (after commit) ---------------------------------------------------------------


async def announce(
    gateway: "SignalingGateway", meeting_id: int, event: str, data: dict[str, Any]
) -> None:
    """Tell everyone in the meeting's room (after the commit; a failure is only logged)."""
    try:
        await gateway.meeting_event(meeting_id, event, {"meeting_id": meeting_id, **data})
    except Exception:
        log.exception("proceedings.publish_failed", meeting_id=meeting_id, event=event)


async def on_air(gateway: "SignalingGateway", meeting_id: int, request: SpeakerRequest) -> None:
    """Spotlight the granted speaker for everyone and ask their connections to unmute."""
    # Imported here: the gateway imports the feature modules while it is being defined.
    from signaling.realtime.gateway import principal_room

    try:
        await gateway.media.spotlight(meeting_id, request.speaker_key)
    except NotFound:
        # Connected without media (or not at all): the unmute request still reaches them
        # when they are connected; the chair stays in the spotlight.
        log.info("speaker.not_on_media", meeting_id=meeting_id, speaker=request.speaker_key)
    await gateway.sio.emit(
        "media.unmute",
        {"meeting_id": meeting_id, "request_id": request.id, "reason": "speaker.granted"},
        room=principal_room(request.speaker_key),
    )


async def off_air(gateway: "SignalingGateway", meeting_id: int) -> None:
    """The speech is over: the spotlight goes back to the chair."""
    try:
        await gateway.media.spotlight(meeting_id, None)
    except NotFound:
        log.info("speaker.no_media_to_restore", meeting_id=meeting_id)


@dataclass
class SpeakersFeed:
    """Coalesces ``speakers.changed`` per meeting: the latest list, once per interval."""

    gateway: "SignalingGateway"
    interval: float = 0.1
    recipients_per_second: float = 2000.0
    max_interval: float = 1.0
    _pending: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    def changed(self, meeting_id: int) -> None:
        """Schedule a ``speakers.changed`` for the meeting (one per burst)."""
        if meeting_id not in self._pending:
            task = asyncio.get_running_loop().create_task(self._flush_later(meeting_id))
            self._pending[meeting_id] = task

    async def _flush_later(self, meeting_id: int) -> None:
        try:
            room = await self.gateway.presence.count(meeting_id)
            delay = min(self.max_interval, max(self.interval, room / self.recipients_per_second))
            await asyncio.sleep(delay)
        finally:
            # Changes committed from here on schedule the next flush; this one reads after them.
            self._pending.pop(meeting_id, None)
        try:
            async with self.gateway.transaction() as session:
                listing = await speakers.speaker_list(session, meeting_id)
            await self.gateway.meeting_event(meeting_id, "speakers.changed", speakers_json(listing))
        except Exception:
            log.exception("speakers.publish_failed", meeting_id=meeting_id)


_FEEDS: "weakref.WeakKeyDictionary[SignalingGateway, SpeakersFeed]" = weakref.WeakKeyDictionary()


def feed_of(gateway: "SignalingGateway") -> SpeakersFeed:
    """The gateway's feed (made by ``install``; made here for a gateway built without it)."""
    feed = _FEEDS.get(gateway)
    if feed is None:
        feed = _FEEDS[gateway] = SpeakersFeed(gateway)
    return feed


async def publish_speakers(
    gateway: "SignalingGateway",
    meeting_id: int,
    granted: SpeakerRequest | None = None,
    ended: bool = False,
) -> None:
    """After a commit: schedule ``speakers.changed``, and put a granted speaker on air (or
    give the spotlight back after a speech) at once.

    A failure here is logged, never reported as a failed request: the change is stored and
    clients catch up with the next ``speakers.changed``.
    """
    feed_of(gateway).changed(meeting_id)
    try:
        if granted is not None:
            await on_air(gateway, meeting_id, granted)
        elif ended:
            await off_air(gateway, meeting_id)
    except Exception:
        log.exception("speakers.media_failed", meeting_id=meeting_id)


# ---- client → server events ---------------------------------------------------------------------


class SpeakerEvents:
    """Handlers of the ``speaker.*`` events; permissions were checked by the registry."""

    def __init__(self, gateway: "SignalingGateway") -> None:
        self.gateway = gateway

    async def _meeting(self, session: Any, meeting_id: int) -> Meeting:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:  # joined, then deleted: nothing to act on
            raise NotFound("meeting not found", meeting_id=meeting_id)
        return meeting

    async def list(self, conn: Connection, payload: SocketPayload) -> dict[str, Any]:
        """The current list of speakers (e.g. right after joining)."""
        async with self.gateway.transaction() as session:
            listing = await speakers.speaker_list(session, payload.meeting_id)
        return {"speakers": speakers_json(listing)}

    async def request(self, conn: Connection, payload: SpeakerRequestPayload) -> dict[str, Any]:
        """Ask to speak."""
        async with self.gateway.transaction() as session:
            meeting = await self._meeting(session, payload.meeting_id)
            request = await speakers.request_to_speak(
                session, conn.principal.actor, meeting, payload.topic, payload.agenda_item_id
            )
            budget = await speakers.item_budget(session, request)
        await publish_speakers(self.gateway, payload.meeting_id)
        log.info("speaker.requested", meeting_id=payload.meeting_id, request_id=request.id)
        return {"request": speaker_json(request, budget)}

    async def withdraw(self, conn: Connection, payload: SocketPayload) -> dict[str, Any]:
        """Withdraw one's own waiting request."""
        async with self.gateway.transaction() as session:
            meeting = await self._meeting(session, payload.meeting_id)
            request = await speakers.withdraw(session, conn.principal.actor, meeting)
            budget = await speakers.item_budget(session, request)
        await publish_speakers(self.gateway, payload.meeting_id)
        log.info("speaker.withdrawn", meeting_id=payload.meeting_id, request_id=request.id)
        return {"request": speaker_json(request, budget)}

    async def grant(self, conn: Connection, payload: SpeakerGrantPayload) -> dict[str, Any]:
        """The chair gives the floor (ending the current speech)."""
        async with self.gateway.transaction() as session:
            meeting = await self._meeting(session, payload.meeting_id)
            result = await speakers.grant(
                session, conn.principal.actor, meeting, payload.request_id
            )
            listing = await speakers.speaker_list(session, payload.meeting_id)
        out = speakers_json(listing)
        await publish_speakers(self.gateway, payload.meeting_id, granted=result.granted)
        log.info("speaker.granted", meeting_id=payload.meeting_id, request_id=payload.request_id)
        return {"speakers": out}

    async def end(self, conn: Connection, payload: SocketPayload) -> dict[str, Any]:
        """The chair ends the current speech."""
        async with self.gateway.transaction() as session:
            meeting = await self._meeting(session, payload.meeting_id)
            ended = await speakers.end(session, conn.principal.actor, meeting)
            listing = await speakers.speaker_list(session, payload.meeting_id)
        out = speakers_json(listing)
        await publish_speakers(self.gateway, payload.meeting_id, ended=True)
        log.info("speaker.ended", meeting_id=payload.meeting_id, seconds=ended.seconds_spoken)
        ended_out = speaker_json(ended, listing.budgets.get(ended.agenda_item_id or 0))
        return {"ended": ended_out, "speakers": out}

    async def reorder(self, conn: Connection, payload: SpeakerReorderPayload) -> dict[str, Any]:
        """The chair orders the queue."""
        async with self.gateway.transaction() as session:
            meeting = await self._meeting(session, payload.meeting_id)
            await speakers.reorder(session, conn.principal.actor, meeting, payload.request_ids)
            listing = await speakers.speaker_list(session, payload.meeting_id)
        out = speakers_json(listing)
        await publish_speakers(self.gateway, payload.meeting_id)
        log.info("speakers.reordered", meeting_id=payload.meeting_id)
        return {"speakers": out}


def install(gateway: "SignalingGateway") -> None:
    """Register the speaker events on the gateway."""
    _FEEDS[gateway] = SpeakersFeed(gateway)
    handlers = SpeakerEvents(gateway)
    for name, payload, action, handler in (
        ("speaker.list", SocketPayload, Action.SPEAKER_VIEW, handlers.list),
        ("speaker.request", SpeakerRequestPayload, Action.SPEAKER_REQUEST, handlers.request),
        ("speaker.withdraw", SocketPayload, Action.SPEAKER_REQUEST, handlers.withdraw),
        ("speaker.grant", SpeakerGrantPayload, Action.SPEAKER_MANAGE, handlers.grant),
        ("speaker.end", SocketPayload, Action.SPEAKER_MANAGE, handlers.end),
        ("speaker.reorder", SpeakerReorderPayload, Action.SPEAKER_MANAGE, handlers.reorder),
    ):
        gateway.events.add(EventSpec(name, payload, action, handler))
