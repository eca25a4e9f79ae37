"""The list of speakers (đăng ký phát biểu), after OpenSlides' list of speakers.

A delegate or an endpoint asks to speak (with a topic, on an agenda item: the current one
unless another is named) and can withdraw while waiting. Each person has at most one open
request per meeting (a unique constraint backs the check). The chair orders the queue,
grants the floor (one speaker at a time: granting ends the current speech) and ends it.
Speaking time is measured from ``granted_at`` to ``ended_at``.

Every write locks the meeting's row first (``agenda.lock_meeting``), so queue positions stay
dense (0..n-1) and "one speaker at a time" holds under concurrent requests.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit
from meetings.actor import Actor, ActorKind
from meetings.agenda import current_item, ensure_live, ensure_open, get_item, lock_meeting
from meetings.clock import utcnow
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import AgendaItem, AgendaItemState, Meeting, MeetingState
from meetings.proceedings_models import OPEN_SPEAKER_STATES, SpeakerRequest, SpeakerState


@dataclass(frozen=True)
class SpeakerList:
    """A meeting's list of speakers as everyone sees it."""

    meeting_id: int
    speaking: SpeakerRequest | None
    waiting: list[SpeakerRequest]  # in queue order
    finished: list[SpeakerRequest]  # speeches given, in the order they were given
    current_item: AgendaItem | None  # the agenda item under discussion (its time budget)
    budgets: dict[int, int | None]  # agenda item id → its time budget in minutes
    now: datetime  # the server's clock, to show elapsed time without trusting the client's


@dataclass(frozen=True)
class GrantResult:
    """A grant: the speech it ended (if any) and the speech it started."""

    ended: SpeakerRequest | None
    granted: SpeakerRequest


def snapshot(request: SpeakerRequest) -> dict[str, Any]:
    """The request's fields as the audit log records them."""
    return {
        "speaker": request.speaker_key,
        "agenda_item_id": request.agenda_item_id,
        "topic": request.topic,
        "state": request.state,
        "position": request.position,
        "granted_at": request.granted_at,
        "ended_at": request.ended_at,
        "seconds_spoken": request.seconds_spoken,
    }


async def _requests(session: AsyncSession, meeting_id: int) -> list[SpeakerRequest]:
    query = (
        select(SpeakerRequest)
        .where(SpeakerRequest.meeting_id == meeting_id)
        .order_by(col(SpeakerRequest.id))
        .execution_options(populate_existing=True)
    )
    return list((await session.exec(query)).all())


def _waiting(requests: list[SpeakerRequest]) -> list[SpeakerRequest]:
    found = [r for r in requests if r.state == SpeakerState.WAITING.value]
    return sorted(found, key=lambda r: (r.position if r.position is not None else 1 << 30, r.id))


def _renumber(session: AsyncSession, waiting: list[SpeakerRequest]) -> None:
    for position, request in enumerate(waiting):
        if request.position != position:
            request.position = position
            session.add(request)


async def speaker_list(session: AsyncSession, meeting_id: int) -> SpeakerList:
    """The queue, the current speech, the speeches given and the agenda items' budgets."""
    requests = await _requests(session, meeting_id)
    items = (
        await session.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id))
    ).all()
    finished = [r for r in requests if r.state == SpeakerState.DONE.value]
    finished.sort(key=lambda r: (r.granted_at or r.requested_at, r.id))
    return SpeakerList(
        meeting_id=meeting_id,
        speaking=next((r for r in requests if r.state == SpeakerState.SPEAKING.value), None),
        waiting=_waiting(requests),
        finished=finished,
        current_item=next((i for i in items if i.state == AgendaItemState.CURRENT.value), None),
        budgets={i.id or 0: i.minutes_budget for i in items},
        now=utcnow(),
    )


async def _open_request_of(
    session: AsyncSession, meeting_id: int, actor: Actor
) -> SpeakerRequest | None:
    query = select(SpeakerRequest).where(
        SpeakerRequest.meeting_id == meeting_id, SpeakerRequest.open_key == actor.key
    )
    return (await session.exec(query.execution_options(populate_existing=True))).first()


async def item_budget(session: AsyncSession, request: SpeakerRequest) -> int | None:
    """The time budget of the request's agenda item, if it has one."""
    if request.agenda_item_id is None:
        return None
    item = await session.get(AgendaItem, request.agenda_item_id)
    return item.minutes_budget if item is not None else None


async def request_to_speak(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    topic: str = "",
    agenda_item_id: int | None = None,
) -> SpeakerRequest:
    """Join the end of the queue; on ``agenda_item_id``, or the current item if none is named."""
    ensure_open(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    if agenda_item_id is not None:
        try:
            item = await get_item(session, meeting_id, agenda_item_id)
        except NotFound as exc:
            raise InvalidInput(
                "the agenda item is not on this meeting's agenda", agenda_item_id=agenda_item_id
            ) from exc
        if item.state == AgendaItemState.DONE.value:
            raise Conflict("that agenda item is closed", agenda_item_id=agenda_item_id)
    else:
        current = await current_item(session, meeting_id)
        agenda_item_id = current.id if current is not None else None
    # Two indexed look-ups rather than the whole list: this runs under the meeting's lock,
    # and a large meeting's delegates may all ask at once.
    mine = await _open_request_of(session, meeting_id, actor)
    if mine is not None:
        raise Conflict("you have already asked to speak", request_id=mine.id)
    waiting = (
        await session.exec(
            select(func.count())
            .select_from(SpeakerRequest)
            .where(
                SpeakerRequest.meeting_id == meeting_id,
                SpeakerRequest.state == SpeakerState.WAITING.value,
            )
        )
    ).one()
    request = SpeakerRequest(
        meeting_id=meeting_id,
        agenda_item_id=agenda_item_id,
        speaker_key=actor.key,
        account_id=actor.id if actor.kind is ActorKind.ACCOUNT else None,
        endpoint_id=actor.id if actor.kind is ActorKind.ENDPOINT else None,
        unit_id=actor.unit_id,
        speaker_name=actor.name[:200],
        topic=topic.strip(),
        position=waiting,
        open_key=actor.key,
    )
    session.add(request)
    await session.flush()
    await audit.append(
        session,
        actor,
        "speaker.requested",
        "speaker_request",
        request.id,
        meeting_id=meeting_id,
        after=snapshot(request),
    )
    return request


async def withdraw(session: AsyncSession, actor: Actor, meeting: Meeting) -> SpeakerRequest:
    """Withdraw the caller's own waiting request."""
    ensure_open(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    requests = await _requests(session, meeting_id)
    mine = next(
        (r for r in requests if r.speaker_key == actor.key and r.state in OPEN_SPEAKER_STATES),
        None,
    )
    if mine is None:
        raise NotFound("you have no open request to speak")
    if mine.state == SpeakerState.SPEAKING.value:
        raise Conflict("you have the floor: the chair ends the speech", request_id=mine.id)
    return await _drop(session, actor, meeting_id, requests, mine, "speaker.withdrawn")


async def remove(
    session: AsyncSession, actor: Actor, meeting: Meeting, request_id: int
) -> SpeakerRequest:
    """The chair takes a waiting request off the queue."""
    ensure_open(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    requests = await _requests(session, meeting_id)
    request = next((r for r in requests if r.id == request_id), None)
    if request is None:
        raise NotFound("speaker request not found", request_id=request_id)
    if request.state != SpeakerState.WAITING.value:
        raise Conflict(f"a {request.state} request cannot be removed", request_id=request_id)
    return await _drop(session, actor, meeting_id, requests, request, "speaker.removed")


async def _drop(
    session: AsyncSession,
    actor: Actor,
    meeting_id: int,
    requests: list[SpeakerRequest],
    request: SpeakerRequest,
    action: str,
) -> SpeakerRequest:
    before = snapshot(request)
    request.state = SpeakerState.WITHDRAWN.value
    request.position = None
    request.open_key = None
    request.ended_at = utcnow()
    session.add(request)
    _renumber(session, [r for r in _waiting(requests) if r.id != request.id])
    await session.flush()
    await audit.append(
        session,
        actor,
        action,
        "speaker_request",
        request.id,
        meeting_id=meeting_id,
        before=before,
        after=snapshot(request),
    )
    return request


async def grant(
    session: AsyncSession, actor: Actor, meeting: Meeting, request_id: int
) -> GrantResult:
    """Give the floor to a waiting request; the current speech, if any, ends now."""
    ensure_live(meeting, "granting the floor")
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    requests = await _requests(session, meeting_id)
    request = next((r for r in requests if r.id == request_id), None)
    if request is None:
        raise NotFound("speaker request not found", request_id=request_id)
    if request.state != SpeakerState.WAITING.value:
        raise Conflict(f"a {request.state} request cannot be granted", request_id=request_id)
    now = utcnow()
    speaking = next((r for r in requests if r.state == SpeakerState.SPEAKING.value), None)
    if speaking is not None:
        await _finish(session, actor, meeting_id, speaking, now)
    before = snapshot(request)
    request.state = SpeakerState.SPEAKING.value
    request.position = None
    request.granted_at = now
    request.on_air = 1
    session.add(request)
    _renumber(session, [r for r in _waiting(requests) if r.id != request.id])
    await session.flush()
    await audit.append(
        session,
        actor,
        "speaker.granted",
        "speaker_request",
        request.id,
        meeting_id=meeting_id,
        before=before,
        after=snapshot(request),
    )
    return GrantResult(speaking, request)


async def end(session: AsyncSession, actor: Actor, meeting: Meeting) -> SpeakerRequest:
    """End the current speech and record how long it lasted.

    Also allowed once the meeting has ended, to close a speech left open at the end.
    """
    if meeting.state not in (MeetingState.LIVE.value, MeetingState.ENDED.value):
        raise Conflict(f"a {meeting.state} meeting has no speech to end", state=meeting.state)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    requests = await _requests(session, meeting_id)
    speaking = next((r for r in requests if r.state == SpeakerState.SPEAKING.value), None)
    if speaking is None:
        raise Conflict("nobody has the floor")
    await _finish(session, actor, meeting_id, speaking, utcnow())
    return speaking


async def _finish(
    session: AsyncSession, actor: Actor, meeting_id: int, request: SpeakerRequest, now: datetime
) -> None:
    before = snapshot(request)
    request.state = SpeakerState.DONE.value
    request.ended_at = now
    request.on_air = None
    request.open_key = None
    granted = request.granted_at or now
    request.seconds_spoken = max(0, round((now - granted).total_seconds()))
    session.add(request)
    # Flushed before another request goes on air: the one-speaker constraint holds per row.
    await session.flush()
    await audit.append(
        session,
        actor,
        "speaker.ended",
        "speaker_request",
        request.id,
        meeting_id=meeting_id,
        before=before,
        after=snapshot(request),
    )


async def reorder(
    session: AsyncSession, actor: Actor, meeting: Meeting, request_ids: list[int]
) -> list[SpeakerRequest]:
    """Put the waiting requests in the order given (each named exactly once)."""
    ensure_open(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    waiting = _waiting(await _requests(session, meeting_id))
    if len(request_ids) != len(set(request_ids)) or set(request_ids) != {r.id for r in waiting}:
        raise InvalidInput(
            "the new order must name every waiting request exactly once",
            expected=[r.id for r in waiting],
        )
    before = [r.id for r in waiting]
    by_id = {r.id: r for r in waiting}
    ordered = [by_id[i] for i in request_ids]
    _renumber(session, ordered)
    await session.flush()
    if before != request_ids:
        await audit.append(
            session,
            actor,
            "speakers.reordered",
            "meeting",
            meeting_id,
            meeting_id=meeting_id,
            before={"order": before},
            after={"order": request_ids},
        )
    return ordered
