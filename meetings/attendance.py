"""Attendance (điểm danh): check-in, present / absent / excused, and the live quorum.

Accounts check themselves in; an endpoint device (a commune meeting room) checks itself in
and may check in the members of its own unit sitting in that room. The hosts (chair,
secretary) record anyone's state, e.g. "excused" with a reason or "present, in person" for
those in the hall. Quorum counts the members (``meetings.members``) present, against the
meeting's quorum rule (at least two thirds of the members unless the hosts chose otherwise).
Every change is audited; the caller publishes ``attendance.changed`` after commit.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit
from meetings.access import relations_to
from meetings.actor import Actor, ActorKind
from meetings.attendance_models import (
    DEFAULT_QUORUM,
    Attendance,
    AttendanceMode,
    AttendanceState,
    MeetingQuorum,
    QuorumRule,
)
from meetings.clock import utcnow
from meetings.errors import Conflict, InvalidInput
from meetings.members import member_ids
from meetings.models import Account, Endpoint, Meeting, MeetingState, Role
from meetings.voting.rules import quorum_required_count


@dataclass(frozen=True, slots=True)
class QuorumStatus:
    """The quorum as it stands now."""

    rule: QuorumRule
    members: int
    present: int  # members present
    excused: int  # members excused
    required: int  # members that must be present
    met: bool


@dataclass(frozen=True, slots=True)
class AttendeeRow:
    """One line of the attendance sheet: a member (checked in or not) or another attendee."""

    attendee_key: str
    account_id: int | None
    endpoint_id: int | None
    name: str
    unit_id: int
    member: bool
    state: AttendanceState
    mode: AttendanceMode | None
    reason: str
    checked_in_at: datetime | None
    recorded_by: str


@dataclass(frozen=True, slots=True)
class AttendanceSheet:
    """Everyone on the sheet, members first, and the quorum."""

    rows: list[AttendeeRow]
    quorum: QuorumStatus


def _snapshot(row: Attendance | None) -> dict[str, object] | None:
    if row is None:
        return None
    return {"state": row.state, "mode": row.mode, "reason": row.reason}


CLOSED_MEETING_STATES = frozenset({MeetingState.ENDED.value, MeetingState.CANCELLED.value})


def _check_open(meeting: Meeting) -> None:
    if meeting.state in CLOSED_MEETING_STATES:
        raise Conflict(
            f"the meeting is {meeting.state}: attendance can no longer change", state=meeting.state
        )


async def _upsert(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    key: str,
    state: AttendanceState,
    mode: AttendanceMode | None,
    reason: str,
    action: str,
) -> Attendance:
    """Create or change one record; concurrent first check-ins of one attendee both succeed."""
    kind, _, raw_id = key.partition(":")
    target = int(raw_id)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    now = utcnow()
    inserted = await session.exec(  # type: ignore[call-overload]
        insert(Attendance)
        .values(
            meeting_id=meeting.id,
            attendee_key=key,
            account_id=target if kind == ActorKind.ACCOUNT.value else None,
            endpoint_id=target if kind == ActorKind.ENDPOINT.value else None,
            state=AttendanceState.ABSENT.value,
            reason="",
            recorded_by=actor.key,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["meeting_id", "attendee_key"])
        .returning(col(Attendance.id))
    )
    created = inserted.first() is not None
    query = (
        select(Attendance)
        .where(Attendance.meeting_id == meeting.id, Attendance.attendee_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = (await session.exec(query)).one()
    before = None if created else _snapshot(row)
    row.state = state.value
    row.mode = mode.value if mode is not None and state is AttendanceState.PRESENT else None
    row.reason = reason
    row.recorded_by = actor.key
    row.updated_at = now
    if state is AttendanceState.PRESENT and row.checked_in_at is None:
        row.checked_in_at = now
    session.add(row)
    await session.flush()
    await audit.append(
        session,
        actor,
        action,
        "attendance",
        key,
        meeting_id=meeting.id,
        before=before,
        after=_snapshot(row),
    )
    return row


async def check_in(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    mode: AttendanceMode = AttendanceMode.ONLINE,
    account_ids: Iterable[int] = (),
) -> list[Attendance]:
    """The actor checks itself in; an endpoint also checks in members of its unit in the room.

    Raises ``InvalidInput`` for an account that is not a member of the meeting from the
    endpoint's own unit (an account can only check in itself).
    """
    _check_open(meeting)
    wanted = sorted(set(account_ids))
    if actor.kind is ActorKind.ACCOUNT and wanted not in ([], [actor.id]):
        raise InvalidInput("an account can only check in itself")
    if actor.kind is ActorKind.ENDPOINT and wanted:
        members = await member_ids(session, meeting)
        rows = await session.exec(select(Account).where(col(Account.id).in_(wanted)))
        found = {a.id: a for a in rows.all()}
        for account_id in wanted:
            account = found.get(account_id)
            if account is None or account.id not in members or account.unit_id != actor.unit_id:
                raise InvalidInput(
                    "an endpoint can only check in members of the meeting from its own unit",
                    account_id=account_id,
                )
    records = [
        await _upsert(
            session,
            actor,
            meeting,
            actor.key,
            AttendanceState.PRESENT,
            mode,
            "",
            "attendance.check_in",
        )
    ]
    for account_id in wanted if actor.kind is ActorKind.ENDPOINT else []:
        records.append(
            await _upsert(
                session,
                actor,
                meeting,
                f"{ActorKind.ACCOUNT.value}:{account_id}",
                AttendanceState.PRESENT,
                mode,
                "",
                "attendance.check_in",
            )
        )
    return records


async def record(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    account_id: int,
    state: AttendanceState,
    mode: AttendanceMode | None = None,
    reason: str = "",
) -> Attendance:
    """A host records an account's attendance (present in person, absent, excused...).

    The account must be a participant of the meeting (invited or hosting); "excused" needs a
    reason; "present" defaults to in person (the hosts record those in the hall).
    """
    _check_open(meeting)
    account = await session.get(Account, account_id)
    if account is None:
        raise InvalidInput("account does not exist", account_id=account_id)
    subject = Actor(
        ActorKind.ACCOUNT, account_id, account.unit_id, account.full_name, Role(account.role)
    )
    if not await relations_to(session, subject, meeting):
        raise InvalidInput("that account does not take part in this meeting", account_id=account_id)
    reason = reason.strip()
    if state is AttendanceState.EXCUSED and not reason:
        raise InvalidInput("an excused absence needs a reason")
    if state is AttendanceState.PRESENT and mode is None:
        mode = AttendanceMode.IN_PERSON
    return await _upsert(
        session, actor, meeting, subject.key, state, mode, reason, "attendance.recorded"
    )


async def quorum_rule(session: AsyncSession, meeting_id: int) -> QuorumRule:
    """The meeting's quorum rule (the default unless the hosts chose one)."""
    row = await session.get(MeetingQuorum, meeting_id)
    return QuorumRule(row.rule) if row is not None else DEFAULT_QUORUM


async def set_quorum_rule(
    session: AsyncSession, actor: Actor, meeting: Meeting, rule: QuorumRule
) -> QuorumRule:
    """Choose the meeting's quorum rule (before or during the meeting)."""
    _check_open(meeting)
    before = await quorum_rule(session, meeting.id or 0)
    row = await session.get(MeetingQuorum, meeting.id)
    if row is None:
        row = MeetingQuorum(meeting_id=meeting.id or 0, rule=rule.value)
    row.rule = rule.value
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    await audit.append(
        session,
        actor,
        "quorum.rule_set",
        "meeting",
        meeting.id,
        meeting_id=meeting.id,
        before={"rule": before.value},
        after={"rule": rule.value},
    )
    return rule


async def _records(session: AsyncSession, meeting_id: int) -> list[Attendance]:
    query = select(Attendance).where(Attendance.meeting_id == meeting_id).order_by(Attendance.id)
    return list((await session.exec(query)).all())


async def present_members(session: AsyncSession, meeting: Meeting) -> tuple[set[int], set[int]]:
    """(members, members present now): what quorum and a poll's voter list are built from."""
    members = await member_ids(session, meeting)
    present = {
        r.account_id
        for r in await _records(session, meeting.id or 0)
        if r.account_id in members and r.state == AttendanceState.PRESENT.value
    }
    return members, {a for a in present if a is not None}


def _status(rule: QuorumRule, members: set[int], records: list[Attendance]) -> QuorumStatus:
    present = sum(
        1 for r in records if r.account_id in members and r.state == AttendanceState.PRESENT.value
    )
    excused = sum(
        1 for r in records if r.account_id in members and r.state == AttendanceState.EXCUSED.value
    )
    required = quorum_required_count(rule, len(members))
    return QuorumStatus(
        rule, len(members), present, excused, required, bool(members) and present >= required
    )


async def quorum(session: AsyncSession, meeting: Meeting) -> QuorumStatus:
    """The quorum now: members present against the meeting's rule."""
    members = await member_ids(session, meeting)
    return _status(
        await quorum_rule(session, meeting.id or 0),
        members,
        await _records(session, meeting.id or 0),
    )


async def sheet(session: AsyncSession, meeting: Meeting) -> AttendanceSheet:
    """The attendance sheet: every member (absent until checked in), then other attendees."""
    members = await member_ids(session, meeting)
    records = await _records(session, meeting.id or 0)
    by_key = {r.attendee_key: r for r in records}
    account_ids = members | {r.account_id for r in records if r.account_id is not None}
    endpoint_ids = {r.endpoint_id for r in records if r.endpoint_id is not None}
    accounts = {
        a.id: a
        for a in (await session.exec(select(Account).where(col(Account.id).in_(account_ids)))).all()
    }
    endpoints = {
        e.id: e
        for e in (
            await session.exec(select(Endpoint).where(col(Endpoint.id).in_(endpoint_ids)))
        ).all()
    }
    rows: list[AttendeeRow] = []
    keys = [f"account:{a}" for a in sorted(members)] + [
        r.attendee_key for r in records if r.account_id not in members
    ]
    for key in keys:
        rec = by_key.get(key)
        kind, _, raw = key.partition(":")
        ident = int(raw)
        who: Account | Endpoint | None = (accounts if kind == "account" else endpoints).get(ident)
        rows.append(
            AttendeeRow(
                attendee_key=key,
                account_id=ident if kind == "account" else None,
                endpoint_id=ident if kind == "endpoint" else None,
                name=(who.full_name if isinstance(who, Account) else who.name) if who else "",
                unit_id=who.unit_id if who else 0,
                member=kind == "account" and ident in members,
                state=AttendanceState(rec.state) if rec else AttendanceState.ABSENT,
                mode=AttendanceMode(rec.mode) if rec and rec.mode else None,
                reason=rec.reason if rec else "",
                checked_in_at=rec.checked_in_at if rec else None,
                recorded_by=rec.recorded_by if rec else "",
            )
        )
    rule = await quorum_rule(session, meeting.id or 0)
    return AttendanceSheet(rows, _status(rule, members, records))
