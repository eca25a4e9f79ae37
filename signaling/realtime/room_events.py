"""socket.io side of the room's controls: presenter mode, muting, the room lock, the join state.

Client → server events:

* ``document.present`` ``{meeting_id, document_id, page}``: show everyone a published
  document of the meeting at a page (``document_id`` null ends the presentation). Allowed to
  those with ``document.manage`` or ``media.direct`` in the meeting (chair, secretary,
  organiser): the registry checks ``document.view`` (one action per spec), this module the
  rest. Acknowledged ``{presentation}``; the room gets ``document.presenting``
  ``{meeting_id, document_id, version, page, presenter, presenter_name}`` (``document_id``,
  ``version`` and ``page`` null when it ends; ``presenter`` then names who ended it).
* ``media.mute`` ``{meeting_id, participant}`` (``media.direct``, the chair): the target's
  connections (``participant`` null: everyone's but the caller's) get ``media.muted``
  ``{meeting_id, by, reason: "chair"}`` and turn their microphone off. Muting is a request
  the client honours, as in Jitsi: participants may unmute themselves afterwards, and the SFU
  does not drop their audio. Acknowledged ``{muted}``: how many connected participants were
  addressed.

The lock (``POST``/``DELETE /meetings/{id}/lock``, ``media.direct``) is stored on the meeting
(``Meeting.locked``) and announced as ``meeting.locked`` ``{meeting_id, locked}``. While it is
set, ``join`` answers ``room_locked`` to anyone not already present in the meeting (connected,
or reconnecting within the presence grace period) unless they chair it or are its secretary.
The lock uses ``media.direct`` because it is one of the chair's controls of the room, like the
spotlight and muting: one action for the client to test for all of them.

The current presentation of each meeting is kept in this process's memory and dropped when
the meeting ends (or is cancelled). That is enough with several signaling processes too: a
meeting's connections reach one process (see ``gateway.py``), so the process holding the
room's sockets is the one that hears every ``document.present`` of it. After a restart no
presentation is current: the presenter presents again.
"""

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from meetings.actor import Actor
from meetings.documents import service as documents
from meetings.errors import Conflict, Forbidden, InvalidInput, NotFound
from meetings.models import Meeting, MeetingState
from meetings.permissions import PERMISSIONS, Action, Relation, is_allowed
from signaling.logs import get_logger
from signaling.realtime.broadcast import meeting_room
from signaling.realtime.events import Connection, EventSpec
from signaling.realtime.payloads import MeetingId, ParticipantKey, Payload
from signaling.realtime.presence import PresenceStore

if TYPE_CHECKING:
    from signaling.realtime.gateway import SignalingGateway

log = get_logger("phonghop.room")
MAX_PAGE = 10_000  # the payload's bound; the document's own page count is checked too
# Who may join a locked room although not present yet: those who run the meeting.
_ALWAYS_ADMITTED = frozenset({Relation.CHAIR, Relation.SECRETARY})
_CLOSED = {MeetingState.ENDED.value, MeetingState.CANCELLED.value}
_PRESENTERS = (Action.DOCUMENT_MANAGE, Action.MEDIA_DIRECT)


class RoomLocked(Conflict):
    """The chair locked the room and the caller is not in it yet."""

    code = "room_locked"


# ---- payloads ----------------------------------------------------------------------------


class PresentPayload(Payload):
    """Show a published document at a page to everyone (``document_id`` None: stop)."""

    meeting_id: MeetingId
    document_id: MeetingId | None
    page: Annotated[int, Field(ge=1, le=MAX_PAGE, strict=True)] = 1


class MutePayload(Payload):
    """Ask one participant (None: everyone but the caller) to mute their microphone."""

    meeting_id: MeetingId
    participant: ParticipantKey | None


# ---- presenter mode ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Presentation:
    """What a meeting is being shown: a document version at a page, and by whom."""

    meeting_id: int
    document_id: int
    version: int
    page: int
    presenter: str  # participant key
    presenter_name: str

    def as_dict(self) -> dict[str, Any]:
        """The body of ``document.presenting`` and of the join ack's ``presentation``."""
        return {
            "meeting_id": self.meeting_id,
            "document_id": self.document_id,
            "version": self.version,
            "page": self.page,
            "presenter": self.presenter,
            "presenter_name": self.presenter_name,
        }


def _stopped(meeting_id: int, by: Connection) -> dict[str, Any]:
    """``document.presenting`` when it ends: the presenter fields name who ended it."""
    return {
        "meeting_id": meeting_id,
        "document_id": None,
        "version": None,
        "page": None,
        "presenter": by.key,
        "presenter_name": by.principal.actor.name,
    }


@dataclass
class RoomControls:
    """The room controls of one gateway, and the current presentation of each meeting."""

    gateway: "SignalingGateway"
    presentations: dict[int, Presentation] = field(default_factory=dict)

    def presentation(self, meeting_id: int) -> dict[str, Any] | None:
        """The meeting's current presentation (JSON-ready), or None."""
        current = self.presentations.get(meeting_id)
        return current.as_dict() if current is not None else None

    def forget(self, meeting_id: int) -> None:
        """The meeting is over: drop its presentation."""
        self.presentations.pop(meeting_id, None)

    async def present(self, conn: Connection, payload: PresentPayload) -> dict[str, Any]:
        """``document.present``: start, move or stop the meeting's presentation."""
        meeting_id = payload.meeting_id
        actor = conn.principal.actor
        relations = conn.meetings.get(meeting_id, frozenset())
        if not any(is_allowed(actor, action, relations) for action in _PRESENTERS):
            raise Forbidden("not allowed: document.present", action=Action.DOCUMENT_MANAGE.value)
        if payload.document_id is None:
            self.presentations.pop(meeting_id, None)
            body = _stopped(meeting_id, conn)
            await self.gateway.meeting_event(meeting_id, "document.presenting", body)
            log.info("document.presentation_ended", meeting_id=meeting_id, actor=conn.key)
            return {"presentation": None}
        async with self.gateway.transaction() as session:
            # Published documents only, whatever the presenter may see: nobody is pushed to a
            # draft.
            document = await documents.get_document(
                session, meeting_id, payload.document_id, privileged=False
            )
            version = await documents.get_version(session, document)
        if payload.page > version.pages:
            raise InvalidInput(
                f"the document has {version.pages} pages", page=payload.page, pages=version.pages
            )
        current = Presentation(
            meeting_id=meeting_id,
            document_id=payload.document_id,
            version=version.number,
            page=payload.page,
            presenter=conn.key,
            presenter_name=actor.name,
        )
        self.presentations[meeting_id] = current
        body = current.as_dict()
        await self.gateway.meeting_event(meeting_id, "document.presenting", body)
        log.info(
            "document.presenting",
            meeting_id=meeting_id,
            document_id=payload.document_id,
            page=payload.page,
        )
        return {"presentation": body}

    async def mute(self, conn: Connection, payload: MutePayload) -> dict[str, Any]:
        """``media.mute``: ask one participant, or everyone but the caller, to mute."""
        # Imported here: the gateway imports the feature modules while it is being defined.
        from signaling.realtime.gateway import principal_room

        meeting_id = payload.meeting_id
        presence = self.gateway.presence
        body = {"meeting_id": meeting_id, "by": conn.key, "reason": "chair"}
        if payload.participant is not None:
            target = await presence.get(meeting_id, payload.participant)
            if target is None:
                raise NotFound("that participant is not in the meeting")
            await self.gateway.sio.emit("media.muted", body, room=principal_room(target.key))
            muted = 1 if target.connected else 0
        else:
            everyone = await presence.snapshot(meeting_id)
            muted = sum(1 for p in everyone if p["key"] != conn.key and p["connected"])
            # The caller's own connections here are skipped; one in another process still gets
            # the event and recognises itself in ``by``.
            own = [sid for sid, c in self.gateway.connections.items() if c.key == conn.key]
            await self.gateway.sio.emit(
                "media.muted", body, room=meeting_room(meeting_id), skip_sid=own
            )
        log.info("media.muted", meeting_id=meeting_id, target=payload.participant, muted=muted)
        return {"muted": muted}


_CONTROLS: "weakref.WeakKeyDictionary[SignalingGateway, RoomControls]" = weakref.WeakKeyDictionary()


def controls_of(gateway: "SignalingGateway") -> RoomControls:
    """The room controls of ``gateway`` (made by ``install``; made here for one built without)."""
    controls = _CONTROLS.get(gateway)
    if controls is None:
        controls = _CONTROLS[gateway] = RoomControls(gateway)
    return controls


# ---- join ----------------------------------------------------------------------------------


def meeting_actions(actor: Actor, relations: frozenset[Relation]) -> list[str]:
    """Every meeting-scoped action ``actor`` may take in a meeting it stands to as ``relations``
    (sorted values), so a client can show only the controls that will be accepted."""
    return sorted(
        action.value
        for action, rule in PERMISSIONS.items()
        if rule.meeting_scoped and is_allowed(actor, action, relations)
    )


async def check_admission(
    presence: PresenceStore, meeting: Meeting, key: str, relations: frozenset[Relation]
) -> None:
    """Raise ``RoomLocked`` when the meeting is locked and ``key`` may not come in."""
    if not meeting.locked or relations & _ALWAYS_ADMITTED:
        return
    # Present already (another tab, or reconnecting within the grace period): let it back.
    if await presence.get(meeting.id or 0, key) is not None:
        return
    raise RoomLocked("the chair has locked the meeting room", meeting_id=meeting.id)


def join_state(
    gateway: "SignalingGateway", actor: Actor, meeting: Meeting, relations: frozenset[Relation]
) -> dict[str, Any]:
    """What the join ack adds for the room's controls: ``actions``, ``presentation``, ``locked``."""
    return {
        "actions": meeting_actions(actor, relations),
        "presentation": controls_of(gateway).presentation(meeting.id or 0),
        "locked": meeting.locked,
    }


def install(gateway: "SignalingGateway") -> None:
    """Register ``document.present`` and ``media.mute`` on the gateway."""
    controls = RoomControls(gateway)
    _CONTROLS[gateway] = controls
    gateway.events.add(
        EventSpec("document.present", PresentPayload, Action.DOCUMENT_VIEW, controls.present)
    )
    gateway.events.add(EventSpec("media.mute", MutePayload, Action.MEDIA_DIRECT, controls.mute))
