"""The agenda (chương trình): ordered items with sub-items, and the item now under discussion.

Items form a tree per meeting (``parent_id``); ``position`` orders siblings and is kept
dense (0, 1, 2, ...) by every operation. Exactly one item of a meeting is ``current`` at a
time; moving on marks the previous one ``done``. The walk order is the tree read top to
bottom: an item, then its sub-items, then its next sibling.

Every write first locks the meeting's row (``lock_meeting``), so two requests of the same
meeting (a double click on "next") are applied one after the other on both backends, and
every state change is appended to the meeting's audit chain as its last step.
"""

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit
from meetings.actor import Actor
from meetings.clock import utcnow
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import Account, AgendaItem, AgendaItemState, Meeting, MeetingState

MAX_MINUTES_BUDGET = 24 * 60


class Unset:
    """Marks a keyword argument the caller did not give (``None`` means "clear it")."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset()


# ---- shared by the proceedings services (speakers, conclusions) ------------------------------


async def lock_meeting(session: AsyncSession, meeting_id: int) -> None:
    """Serialise writers of one meeting until commit.

    A no-op ``UPDATE`` of the meeting's row: PostgreSQL holds the row lock to commit, and
    SQLite takes its write lock (its reads before the first write see no stale snapshot).
    """
    await session.exec(  # type: ignore[call-overload]
        update(Meeting).where(col(Meeting.id) == meeting_id).values(id=Meeting.id)
    )


def ensure_open(meeting: Meeting) -> None:
    """Refuse changes to a meeting that is over (ended, cancelled)."""
    if meeting.state not in (MeetingState.SCHEDULED.value, MeetingState.LIVE.value):
        raise Conflict(f"a {meeting.state} meeting cannot be changed", state=meeting.state)


def ensure_live(meeting: Meeting, what: str) -> None:
    """Refuse what only happens while the meeting is in session."""
    if meeting.state != MeetingState.LIVE.value:
        raise Conflict(f"{what} needs a live meeting", state=meeting.state)


# ---- reading ----------------------------------------------------------------------------------


def snapshot(item: AgendaItem) -> dict[str, Any]:
    """The item's fields as the audit log records them."""
    return {
        "title": item.title,
        "description": item.description,
        "parent_id": item.parent_id,
        "position": item.position,
        "presenter_id": item.presenter_id,
        "presenter_name": item.presenter_name,
        "minutes_budget": item.minutes_budget,
        "state": item.state,
        "started_at": item.started_at,
        "ended_at": item.ended_at,
    }


async def _rows(session: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    query = select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
    return list((await session.exec(query.execution_options(populate_existing=True))).all())


def tree_order(items: list[AgendaItem]) -> list[AgendaItem]:
    """Items read top to bottom: each item followed by its sub-items, siblings by position."""
    children: dict[int | None, list[AgendaItem]] = {}
    for item in items:
        children.setdefault(item.parent_id, []).append(item)
    for siblings in children.values():
        siblings.sort(key=lambda i: (i.position, i.id or 0))
    ordered: list[AgendaItem] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        item = stack.pop()
        ordered.append(item)
        stack.extend(reversed(children.get(item.id, [])))
    return ordered


async def list_items(session: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    """The meeting's agenda in reading order."""
    return tree_order(await _rows(session, meeting_id))


async def get_item(session: AsyncSession, meeting_id: int, item_id: int) -> AgendaItem:
    """One item of this meeting; an item of another meeting is ``NotFound`` here."""
    item = await session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting_id:
        raise NotFound("agenda item not found", item_id=item_id)
    return item


async def current_item(session: AsyncSession, meeting_id: int) -> AgendaItem | None:
    """The item under discussion, if any."""
    query = select(AgendaItem).where(
        AgendaItem.meeting_id == meeting_id, AgendaItem.state == AgendaItemState.CURRENT.value
    )
    return (await session.exec(query)).first()


# ---- editing ----------------------------------------------------------------------------------


async def _check_presenter(session: AsyncSession, presenter_id: int | None) -> None:
    if presenter_id is None:
        return
    account = await session.get(Account, presenter_id)
    if account is None or not account.active:
        raise InvalidInput("the presenter must be an active account", presenter_id=presenter_id)


def _check_budget(minutes: int | None) -> None:
    if minutes is not None and not 1 <= minutes <= MAX_MINUTES_BUDGET:
        raise InvalidInput(f"the time budget must be between 1 and {MAX_MINUTES_BUDGET} minutes")


def _siblings(items: list[AgendaItem], parent_id: int | None) -> list[AgendaItem]:
    found = [i for i in items if i.parent_id == parent_id]
    return sorted(found, key=lambda i: (i.position, i.id or 0))


def _renumber(session: AsyncSession, siblings: list[AgendaItem]) -> None:
    for position, item in enumerate(siblings):
        if item.position != position:
            item.position = position
            session.add(item)


def _descendant_ids(items: list[AgendaItem], item_id: int) -> set[int]:
    found: set[int] = set()
    frontier = [item_id]
    while frontier:
        parent = frontier.pop()
        for item in items:
            if item.parent_id == parent and item.id is not None and item.id not in found:
                found.add(item.id)
                frontier.append(item.id)
    return found


async def create_item(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    *,
    title: str,
    description: str = "",
    parent_id: int | None = None,
    presenter_id: int | None = None,
    presenter_name: str = "",
    minutes_budget: int | None = None,
) -> AgendaItem:
    """Add an item (or a sub-item under ``parent_id``) at the end of its siblings."""
    ensure_open(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    items = await _rows(session, meeting_id)
    if parent_id is not None and all(i.id != parent_id for i in items):
        raise InvalidInput("the parent item is not on this meeting's agenda", parent_id=parent_id)
    await _check_presenter(session, presenter_id)
    _check_budget(minutes_budget)
    title = title.strip()
    if not title:
        raise InvalidInput("an agenda item needs a title")
    item = AgendaItem(
        meeting_id=meeting_id,
        parent_id=parent_id,
        position=len(_siblings(items, parent_id)),
        title=title,
        description=description,
        presenter_id=presenter_id,
        presenter_name=presenter_name.strip(),
        minutes_budget=minutes_budget,
    )
    session.add(item)
    await session.flush()
    await audit.append(
        session,
        actor,
        "agenda_item.created",
        "agenda_item",
        item.id,
        meeting_id=meeting_id,
        after=snapshot(item),
    )
    return item


async def update_item(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    item_id: int,
    *,
    title: str | Unset = UNSET,
    description: str | Unset = UNSET,
    parent_id: int | Unset | None = UNSET,
    presenter_id: int | Unset | None = UNSET,
    presenter_name: str | Unset = UNSET,
    minutes_budget: int | Unset | None = UNSET,
) -> AgendaItem:
    """Change an item's details; a new ``parent_id`` moves it (to the end of its new siblings).

    An item cannot be moved under itself or under one of its own sub-items.
    """
    ensure_open(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    items = await _rows(session, meeting_id)
    item = next((i for i in items if i.id == item_id), None)
    if item is None:
        raise NotFound("agenda item not found", item_id=item_id)
    before = snapshot(item)
    if not isinstance(parent_id, Unset) and parent_id != item.parent_id:
        if parent_id is not None:
            if all(i.id != parent_id for i in items):
                raise InvalidInput(
                    "the parent item is not on this meeting's agenda", parent_id=parent_id
                )
            if parent_id == item_id or parent_id in _descendant_ids(items, item_id):
                raise InvalidInput(
                    "an item cannot be placed under itself or one of its sub-items",
                    parent_id=parent_id,
                )
        old_parent = item.parent_id
        item.parent_id = parent_id
        item.position = len(_siblings([i for i in items if i.id != item_id], parent_id))
        _renumber(session, _siblings([i for i in items if i.id != item_id], old_parent))
    if not isinstance(title, Unset):
        if not title.strip():
            raise InvalidInput("an agenda item needs a title")
        item.title = title.strip()
    if not isinstance(description, Unset):
        item.description = description
    if not isinstance(presenter_id, Unset):
        await _check_presenter(session, presenter_id)
        item.presenter_id = presenter_id
    if not isinstance(presenter_name, Unset):
        item.presenter_name = presenter_name.strip()
    if not isinstance(minutes_budget, Unset):
        _check_budget(minutes_budget)
        item.minutes_budget = minutes_budget
    session.add(item)
    await session.flush()
    after = snapshot(item)
    if after != before:
        await audit.append(
            session,
            actor,
            "agenda_item.updated",
            "agenda_item",
            item_id,
            meeting_id=meeting_id,
            before=before,
            after=after,
        )
    return item


async def reorder(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    parent_id: int | None,
    item_ids: list[int],
) -> list[AgendaItem]:
    """Put the sub-items of ``parent_id`` (None: the top level) in the order given.

    ``item_ids`` must name each of those siblings exactly once; positions become 0..n-1.
    """
    ensure_open(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    items = await _rows(session, meeting_id)
    if parent_id is not None and all(i.id != parent_id for i in items):
        raise NotFound("agenda item not found", item_id=parent_id)
    siblings = _siblings(items, parent_id)
    if len(item_ids) != len(set(item_ids)) or set(item_ids) != {i.id for i in siblings}:
        raise InvalidInput(
            "the new order must name every item at that level exactly once",
            expected=sorted(i.id or 0 for i in siblings),
        )
    before = [i.id for i in siblings]
    by_id = {i.id: i for i in siblings}
    _renumber(session, [by_id[i] for i in item_ids])
    await session.flush()
    if before != item_ids:
        await audit.append(
            session,
            actor,
            "agenda.reordered",
            "meeting",
            meeting_id,
            meeting_id=meeting_id,
            before={"parent_id": parent_id, "order": before},
            after={"parent_id": parent_id, "order": item_ids},
        )
    return tree_order(items)


async def delete_item(session: AsyncSession, actor: Actor, meeting: Meeting, item_id: int) -> None:
    """Delete an item and its sub-items, refused once any of them has started.

    Also refused while anything else (documents, speakers, conclusions, polls) refers to
    them: the database's foreign keys decide, inside a savepoint so the refusal is clean.
    """
    ensure_open(meeting)
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    items = await _rows(session, meeting_id)
    item = next((i for i in items if i.id == item_id), None)
    if item is None:
        raise NotFound("agenda item not found", item_id=item_id)
    doomed_ids = {item_id} | _descendant_ids(items, item_id)
    doomed = [i for i in items if i.id in doomed_ids]
    if any(i.state != AgendaItemState.PENDING.value for i in doomed):
        raise Conflict("an agenda item that has started cannot be deleted", item_id=item_id)
    before = snapshot(item)
    # Deepest first: the self-referencing foreign key is checked row by row.
    depth = {i.id: _depth(items, i) for i in doomed}
    try:
        async with session.begin_nested():
            for victim in sorted(doomed, key=lambda i: -depth[i.id]):
                await session.delete(victim)
                await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "the agenda item is still referred to (documents, speakers, conclusions or polls)",
            item_id=item_id,
        ) from exc
    _renumber(session, _siblings([i for i in items if i.id not in doomed_ids], item.parent_id))
    await session.flush()
    await audit.append(
        session,
        actor,
        "agenda_item.deleted",
        "agenda_item",
        item_id,
        meeting_id=meeting_id,
        before={**before, "sub_items": sorted(doomed_ids - {item_id})},
    )


def _depth(items: list[AgendaItem], item: AgendaItem) -> int:
    by_id = {i.id: i for i in items}
    depth, parent = 0, item.parent_id
    while parent is not None and depth <= len(items):
        depth += 1
        parent = by_id[parent].parent_id
    return depth


# ---- moving through the agenda -----------------------------------------------------------------


@dataclass(frozen=True)
class CurrentChange:
    """What a move did: the item that was current (now done) and the one now current."""

    previous: AgendaItem | None
    current: AgendaItem | None
    items: list[AgendaItem]


async def set_current(
    session: AsyncSession, actor: Actor, meeting: Meeting, item_id: int | None
) -> CurrentChange:
    """Make a pending item current (``None``: close the current one and leave none current).

    The previous current item becomes done, with its end time. Items go pending → current
    → done only: a done item is not reopened, the current one is not made current again.
    """
    ensure_live(meeting, "moving through the agenda")
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    items = tree_order(await _rows(session, meeting_id))
    target = None
    if item_id is not None:
        target = next((i for i in items if i.id == item_id), None)
        if target is None:
            raise NotFound("agenda item not found", item_id=item_id)
        if target.state != AgendaItemState.PENDING.value:
            raise Conflict(f"a {target.state} agenda item cannot become current", item_id=item_id)
    return await _move(session, actor, meeting_id, items, target)


async def next_item(session: AsyncSession, actor: Actor, meeting: Meeting) -> CurrentChange:
    """Close the current item and open the next pending one in reading order.

    With nothing pending after it, the current item is closed and none becomes current.
    """
    ensure_live(meeting, "moving through the agenda")
    meeting_id = meeting.id or 0
    await lock_meeting(session, meeting_id)
    items = tree_order(await _rows(session, meeting_id))
    current = next((i for i in items if i.state == AgendaItemState.CURRENT.value), None)
    start = items.index(current) + 1 if current is not None else 0
    pending = [i for i in items[start:] if i.state == AgendaItemState.PENDING.value]
    if current is None and not pending:
        raise Conflict("no pending agenda item is left")
    return await _move(session, actor, meeting_id, items, pending[0] if pending else None)


async def _move(
    session: AsyncSession,
    actor: Actor,
    meeting_id: int,
    items: list[AgendaItem],
    target: AgendaItem | None,
) -> CurrentChange:
    previous = next((i for i in items if i.state == AgendaItemState.CURRENT.value), None)
    if previous is None and target is None:
        raise Conflict("no agenda item is current")
    now = utcnow()
    if previous is not None:
        previous.state = AgendaItemState.DONE.value
        previous.ended_at = now
        session.add(previous)
    if target is not None:
        target.state = AgendaItemState.CURRENT.value
        target.started_at = now
        session.add(target)
    await session.flush()
    await audit.append(
        session,
        actor,
        "agenda.current_changed",
        "meeting",
        meeting_id,
        meeting_id=meeting_id,
        before={"current": previous.id if previous else None},
        after={"current": target.id if target else None, "at": now},
    )
    return CurrentChange(previous, target, items)
