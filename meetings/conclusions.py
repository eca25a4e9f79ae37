"""Conclusions (kết luận) per agenda item: recorded and edited by the secretary or the chair.

A conclusion may be assigned to an account or to a unit (not both), with a deadline
(hạn xử lý). Every change is appended to the meeting's audit chain. Once the meeting's minutes
are approved they are a record that contains the conclusions: no conclusion changes after that.
"""

from datetime import date
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit
from meetings.actor import Actor
from meetings.agenda import UNSET, Unset, get_item, lock_meeting
from meetings.clock import utcnow
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.minutes.models import Minutes, MinutesLocked, MinutesState
from meetings.models import Account, Meeting, MeetingState, Unit
from meetings.proceedings_models import Conclusion

MAX_CONTENT = 20_000
# Conclusions are often written up after the session (thông báo kết luận): an ended meeting
# still takes them; a cancelled one does not.
_WRITABLE = frozenset(
    {MeetingState.SCHEDULED.value, MeetingState.LIVE.value, MeetingState.ENDED.value}
)


def ensure_writable(meeting: Meeting) -> None:
    """Refuse conclusions on a meeting that never took place."""
    if meeting.state not in _WRITABLE:
        raise Conflict(f"a {meeting.state} meeting takes no conclusions", state=meeting.state)


async def ensure_minutes_open(session: AsyncSession, meeting_id: int) -> None:
    """Refuse once the meeting's minutes are approved (``MinutesLocked``, as the minutes do).

    Reads the minutes' row ``FOR UPDATE`` (PostgreSQL): an approval committing meanwhile is
    waited for and then seen, and one not yet begun waits for this transaction. Only the
    table is imported, not the minutes service, which pre-fills from the conclusions.
    """
    query = select(Minutes.state).where(Minutes.meeting_id == meeting_id).with_for_update()
    if (await session.exec(query)).first() == MinutesState.APPROVED.value:
        raise MinutesLocked(
            "the minutes are approved: their conclusions cannot be changed", meeting_id=meeting_id
        )


def snapshot(conclusion: Conclusion) -> dict[str, Any]:
    """The conclusion's fields as the audit log records them."""
    return {
        "agenda_item_id": conclusion.agenda_item_id,
        "content": conclusion.content,
        "assignee_account_id": conclusion.assignee_account_id,
        "assignee_unit_id": conclusion.assignee_unit_id,
        "deadline": conclusion.deadline,
    }


async def list_conclusions(
    session: AsyncSession, meeting_id: int, agenda_item_id: int | None = None
) -> list[Conclusion]:
    """A meeting's conclusions (or one item's), in the order they were recorded."""
    query = select(Conclusion).where(Conclusion.meeting_id == meeting_id)
    if agenda_item_id is not None:
        query = query.where(Conclusion.agenda_item_id == agenda_item_id)
    return list((await session.exec(query.order_by(col(Conclusion.id)))).all())


async def get_conclusion(session: AsyncSession, meeting_id: int, conclusion_id: int) -> Conclusion:
    """One conclusion of this meeting (one of another meeting is ``NotFound``)."""
    conclusion = await session.get(Conclusion, conclusion_id)
    if conclusion is None or conclusion.meeting_id != meeting_id:
        raise NotFound("conclusion not found", conclusion_id=conclusion_id)
    return conclusion


def _content(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("a conclusion needs a text")
    if len(text) > MAX_CONTENT:
        raise InvalidInput(f"a conclusion is at most {MAX_CONTENT} characters")
    return text


async def _check_assignee(
    session: AsyncSession, account_id: int | None, unit_id: int | None
) -> None:
    if account_id is not None and unit_id is not None:
        raise InvalidInput("assign a conclusion to an account or to a unit, not both")
    if account_id is not None:
        account = await session.get(Account, account_id)
        if account is None or not account.active:
            raise InvalidInput("the assignee must be an active account", account_id=account_id)
    if unit_id is not None and await session.get(Unit, unit_id) is None:
        raise InvalidInput("the assigned unit does not exist", unit_id=unit_id)


async def _item_of(session: AsyncSession, meeting_id: int, agenda_item_id: int) -> None:
    try:
        await get_item(session, meeting_id, agenda_item_id)
    except NotFound as exc:
        raise InvalidInput(
            "the agenda item is not on this meeting's agenda", agenda_item_id=agenda_item_id
        ) from exc


async def record(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    *,
    agenda_item_id: int,
    content: str,
    assignee_account_id: int | None = None,
    assignee_unit_id: int | None = None,
    deadline: date | None = None,
) -> Conclusion:
    """Record a conclusion on an item of this meeting."""
    ensure_writable(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    await ensure_minutes_open(session, meeting_id)
    await _item_of(session, meeting_id, agenda_item_id)
    await _check_assignee(session, assignee_account_id, assignee_unit_id)
    conclusion = Conclusion(
        meeting_id=meeting_id,
        agenda_item_id=agenda_item_id,
        content=_content(content),
        assignee_account_id=assignee_account_id,
        assignee_unit_id=assignee_unit_id,
        deadline=deadline,
        created_by=actor.key,
        updated_by=actor.key,
    )
    session.add(conclusion)
    await session.flush()
    await audit.append(
        session,
        actor,
        "conclusion.recorded",
        "conclusion",
        conclusion.id,
        meeting_id=meeting_id,
        after=snapshot(conclusion),
    )
    return conclusion


async def update(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    conclusion_id: int,
    *,
    agenda_item_id: int | Unset = UNSET,
    content: str | Unset = UNSET,
    assignee_account_id: int | Unset | None = UNSET,
    assignee_unit_id: int | Unset | None = UNSET,
    deadline: date | Unset | None = UNSET,
) -> Conclusion:
    """Edit a conclusion; only the fields given change (``None`` clears an assignee/deadline)."""
    ensure_writable(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    await ensure_minutes_open(session, meeting_id)
    conclusion = await get_conclusion(session, meeting_id, conclusion_id)
    before = snapshot(conclusion)
    if not isinstance(agenda_item_id, Unset):
        await _item_of(session, meeting_id, agenda_item_id)
        conclusion.agenda_item_id = agenda_item_id
    if not isinstance(content, Unset):
        conclusion.content = _content(content)
    account_id = (
        conclusion.assignee_account_id
        if isinstance(assignee_account_id, Unset)
        else assignee_account_id
    )
    unit_id = (
        conclusion.assignee_unit_id if isinstance(assignee_unit_id, Unset) else assignee_unit_id
    )
    await _check_assignee(session, account_id, unit_id)
    conclusion.assignee_account_id, conclusion.assignee_unit_id = account_id, unit_id
    if not isinstance(deadline, Unset):
        conclusion.deadline = deadline
    after = snapshot(conclusion)
    if after != before:
        conclusion.updated_by = actor.key
        conclusion.updated_at = utcnow()
        session.add(conclusion)
        await session.flush()
        await audit.append(
            session,
            actor,
            "conclusion.updated",
            "conclusion",
            conclusion_id,
            meeting_id=meeting_id,
            before=before,
            after=after,
        )
    return conclusion


async def delete(session: AsyncSession, actor: Actor, meeting: Meeting, conclusion_id: int) -> None:
    """Remove a conclusion (the audit log keeps what it said)."""
    ensure_writable(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    await ensure_minutes_open(session, meeting_id)
    conclusion = await get_conclusion(session, meeting_id, conclusion_id)
    before = snapshot(conclusion)
    await session.delete(conclusion)
    await session.flush()
    await audit.append(
        session,
        actor,
        "conclusion.deleted",
        "conclusion",
        conclusion_id,
        meeting_id=meeting_id,
        before=before,
    )
