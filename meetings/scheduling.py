"""Meetings: create, invite, list, the life cycle, and the invitation mails each change queues.

Life cycle: scheduled → live → ended, or scheduled → cancelled. Every change is appended to
the meeting's audit chain; changes invitees must hear about (invited, moved or otherwise
changed, cancelled, invitation withdrawn) queue e-mails in ``meetings.notifications`` in the
same transaction.
"""

from datetime import datetime

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit, notifications
from meetings.actor import Actor, ActorKind
from meetings.clock import as_utc, utcnow
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import (
    DEFAULT_MEETING_MINUTES,
    Account,
    Endpoint,
    Invitation,
    InviteeKind,
    Meeting,
    MeetingState,
    Role,
    Unit,
)
from meetings.notifications import MailKind
from meetings.units import ancestor_ids

MIN_MINUTES, MAX_MINUTES = 5, 24 * 60
# What an invitation shows: a change to any of these raises the iCalendar SEQUENCE and mails
# the invitees an update.
_CALENDAR_FIELDS = ("title", "description", "starts_at", "duration_minutes", "chair_id")
_CLOSED = {MeetingState.ENDED.value, MeetingState.CANCELLED.value}
_SNAPSHOT_FIELDS = {
    "id",
    "title",
    "description",
    "starts_at",
    "duration_minutes",
    "chair_id",
    "secretary_id",
    "state",
    "calendar_sequence",
    "started_at",
    "ended_at",
    "cancelled_at",
    "cancel_reason",
}


def snapshot(meeting: Meeting) -> dict[str, object]:
    """What the audit log records of a meeting."""
    return meeting.model_dump(mode="json", include=_SNAPSHOT_FIELDS)


def _invitation_snapshot(inv: Invitation) -> dict[str, object]:
    return inv.model_dump(mode="json", include={"id", "invitee_key"})


def _check_duration(minutes: int) -> None:
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise InvalidInput(f"duration must be {MIN_MINUTES}-{MAX_MINUTES} minutes")


def _check_open(meeting: Meeting, what: str) -> None:
    if meeting.state in _CLOSED:
        raise Conflict(f"a {meeting.state} meeting cannot {what}", state=meeting.state)


_CHAIR_ROLES = {Role.ADMIN.value, Role.CHAIR.value}
_SECRETARY_ROLES = {Role.ADMIN.value, Role.CHAIR.value, Role.SECRETARY.value}


async def _check_host(session: AsyncSession, account_id: int, allowed: set[str], what: str) -> None:
    account = await session.get(Account, account_id)
    if account is None or not account.active:
        raise InvalidInput(f"{what} must be an active account", account_id=account_id)
    if account.role not in allowed:
        raise InvalidInput(f"{what} must have one of the roles {sorted(allowed)}")


async def create_meeting(
    session: AsyncSession,
    actor: Actor,
    title: str,
    starts_at: datetime,
    chair_id: int,
    secretary_id: int | None,
    description: str = "",
    duration_minutes: int = DEFAULT_MEETING_MINUTES,
) -> Meeting:
    """Schedule a meeting with a chair (host), optionally a secretary, and a planned length.

    Nobody is mailed yet: invitations are mailed as they are added (``invite``).
    """
    _check_duration(duration_minutes)
    await _check_host(session, chair_id, _CHAIR_ROLES, "chair")
    if secretary_id is not None:
        await _check_host(session, secretary_id, _SECRETARY_ROLES, "secretary")
    meeting = Meeting(
        title=title.strip(),
        description=description,
        starts_at=as_utc(starts_at),
        chair_id=chair_id,
        secretary_id=secretary_id,
        created_by_id=actor.id,
        duration_minutes=duration_minutes,
    )
    session.add(meeting)
    await session.flush()
    await audit.append(
        session,
        actor,
        "meeting.created",
        "meeting",
        meeting.id,
        meeting_id=meeting.id,
        after=snapshot(meeting),
    )
    return meeting


async def update_meeting(
    session: AsyncSession,
    actor: Actor | None,
    meeting: Meeting,
    *,
    title: str | None = None,
    description: str | None = None,
    starts_at: datetime | None = None,
    duration_minutes: int | None = None,
    chair_id: int | None = None,
    secretary_id: int | None = None,
) -> Meeting:
    """Change the details of a meeting that has neither ended nor been cancelled.

    A change invitees see in their calendar (time, length, title, description, chair) raises
    the calendar SEQUENCE and mails every invitee with an address an updated invitation.
    """
    _check_open(meeting, "be changed")
    if duration_minutes is not None:
        _check_duration(duration_minutes)
    before = snapshot(meeting)
    calendar_before = [getattr(meeting, name) for name in _CALENDAR_FIELDS]
    if chair_id is not None:
        await _check_host(session, chair_id, _CHAIR_ROLES, "chair")
        meeting.chair_id = chair_id
    if secretary_id is not None:
        await _check_host(session, secretary_id, _SECRETARY_ROLES, "secretary")
        meeting.secretary_id = secretary_id
    if title is not None:
        meeting.title = title.strip()
    if description is not None:
        meeting.description = description
    if starts_at is not None:
        meeting.starts_at = as_utc(starts_at)
    if duration_minutes is not None:
        meeting.duration_minutes = duration_minutes
    calendar_changed = calendar_before != [getattr(meeting, name) for name in _CALENDAR_FIELDS]
    if calendar_changed:
        meeting.calendar_sequence += 1
    session.add(meeting)
    await session.flush()
    if calendar_changed:
        invitees = await notifications.recipients(session, meeting.id or 0)
        await notifications.queue(session, meeting, MailKind.UPDATE, invitees)
    after = snapshot(meeting)
    if after != before:
        await audit.append(
            session,
            actor,
            "meeting.updated",
            "meeting",
            meeting.id,
            meeting_id=meeting.id,
            before=before,
            after=after,
        )
    return meeting


_INVITEE_MODEL: dict[InviteeKind, type[Unit] | type[Account] | type[Endpoint]] = {
    InviteeKind.UNIT: Unit,
    InviteeKind.ACCOUNT: Account,
    InviteeKind.ENDPOINT: Endpoint,
}


async def invite(
    session: AsyncSession,
    actor: Actor | None,
    meeting: Meeting,
    invitees: list[tuple[InviteeKind, int]],
) -> list[Invitation]:
    """Invite units, accounts or endpoints; inviting twice is harmless (idempotent).

    Accounts this call newly invites (directly, or through a unit above theirs) get the
    invitation by e-mail; those invited already are not mailed again.
    """
    _check_open(meeting, "take invitations")
    already = {a.id for a in await notifications.recipients(session, meeting.id or 0)}
    existing = {
        inv.invitee_key: inv
        for inv in (
            await session.exec(select(Invitation).where(Invitation.meeting_id == meeting.id))
        ).all()
    }
    result: list[Invitation] = []
    added: list[Invitation] = []
    for kind, target_id in invitees:
        if await session.get(_INVITEE_MODEL[kind], target_id) is None:
            raise InvalidInput(f"{kind.value} {target_id} does not exist")
        key = f"{kind.value}:{target_id}"
        if key in existing:
            result.append(existing[key])
            continue
        inv = Invitation(
            meeting_id=meeting.id or 0,
            invitee_kind=kind.value,
            invitee_key=key,
            unit_id=target_id if kind is InviteeKind.UNIT else None,
            account_id=target_id if kind is InviteeKind.ACCOUNT else None,
            endpoint_id=target_id if kind is InviteeKind.ENDPOINT else None,
        )
        session.add(inv)
        existing[key] = inv
        result.append(inv)
        added.append(inv)
    await session.flush()
    if added:
        newly = [
            a
            for a in await notifications.recipients(session, meeting.id or 0)
            if a.id not in already
        ]
        await notifications.queue(session, meeting, MailKind.INVITATION, newly)
        await audit.append(
            session,
            actor,
            "meeting.invited",
            "meeting",
            meeting.id,
            meeting_id=meeting.id,
            after={"invitations": [_invitation_snapshot(inv) for inv in added]},
        )
    return result


async def list_invitations(session: AsyncSession, meeting_id: int) -> list[Invitation]:
    """A meeting's invitations in the order they were made."""
    query = select(Invitation).where(Invitation.meeting_id == meeting_id).order_by(Invitation.id)
    return list((await session.exec(query)).all())


async def remove_invitation(
    session: AsyncSession, actor: Actor | None, meeting: Meeting, invitation_id: int
) -> None:
    """Withdraw one invitation of this meeting.

    Accounts no longer invited by any other invitation get a cancellation for their calendar.
    """
    inv = await session.get(Invitation, invitation_id)
    if inv is None or inv.meeting_id != meeting.id:
        raise NotFound("invitation not found", invitation_id=invitation_id)
    before = await notifications.recipients(session, meeting.id or 0)
    removed = _invitation_snapshot(inv)
    await session.delete(inv)
    await session.flush()
    if meeting.state not in _CLOSED:
        still = {a.id for a in await notifications.recipients(session, meeting.id or 0)}
        dropped = [a for a in before if a.id not in still]
        await notifications.queue(session, meeting, MailKind.WITHDRAWAL, dropped)
    await audit.append(
        session,
        actor,
        "meeting.uninvited",
        "invitation",
        invitation_id,
        meeting_id=meeting.id,
        before=removed,
    )


async def list_meetings_for(session: AsyncSession, actor: Actor) -> list[Meeting]:
    """ "My meetings": hosted or invited (directly or through a unit); admins see all."""
    query = select(Meeting).order_by(col(Meeting.starts_at).desc(), col(Meeting.id).desc())
    if not actor.is_admin:
        units = await ancestor_ids(session, actor.unit_id)
        own = (
            Invitation.account_id == actor.id
            if actor.kind is ActorKind.ACCOUNT
            else Invitation.endpoint_id == actor.id
        )
        invited = select(Invitation.meeting_id).where(or_(own, col(Invitation.unit_id).in_(units)))
        conditions = [col(Meeting.id).in_(invited)]
        if actor.kind is ActorKind.ACCOUNT:
            conditions += [
                Meeting.chair_id == actor.id,
                Meeting.secretary_id == actor.id,
                Meeting.created_by_id == actor.id,
            ]
        query = query.where(or_(*conditions))
    return list((await session.exec(query)).all())


async def _transition(
    session: AsyncSession, actor: Actor | None, meeting: Meeting, action: str, before: dict
) -> Meeting:
    session.add(meeting)
    await session.flush()
    await audit.append(
        session,
        actor,
        action,
        "meeting",
        meeting.id,
        meeting_id=meeting.id,
        before=before,
        after=snapshot(meeting),
    )
    return meeting


async def start_meeting(session: AsyncSession, actor: Actor | None, meeting: Meeting) -> Meeting:
    """scheduled → live (a cancelled meeting cannot start)."""
    if meeting.state != MeetingState.SCHEDULED.value:
        raise Conflict(f"a {meeting.state} meeting cannot be started", state=meeting.state)
    before = snapshot(meeting)
    meeting.state = MeetingState.LIVE.value
    meeting.started_at = utcnow()
    return await _transition(session, actor, meeting, "meeting.started", before)


async def end_meeting(session: AsyncSession, actor: Actor | None, meeting: Meeting) -> Meeting:
    """live → ended."""
    if meeting.state != MeetingState.LIVE.value:
        raise Conflict(f"a {meeting.state} meeting cannot be ended", state=meeting.state)
    before = snapshot(meeting)
    meeting.state = MeetingState.ENDED.value
    meeting.ended_at = utcnow()
    return await _transition(session, actor, meeting, "meeting.ended", before)


async def cancel_meeting(
    session: AsyncSession, actor: Actor | None, meeting: Meeting, reason: str = ""
) -> Meeting:
    """scheduled → cancelled; every invitee with an address gets a cancellation (METHOD:CANCEL).

    Only a scheduled meeting can be cancelled: a live one is ended instead, an ended one is
    history.
    """
    if meeting.state != MeetingState.SCHEDULED.value:
        raise Conflict(f"a {meeting.state} meeting cannot be cancelled", state=meeting.state)
    before = snapshot(meeting)
    meeting.state = MeetingState.CANCELLED.value
    meeting.cancelled_at = utcnow()
    meeting.cancel_reason = reason.strip()
    meeting.calendar_sequence += 1
    session.add(meeting)
    await session.flush()
    invitees = await notifications.recipients(session, meeting.id or 0)
    await notifications.queue(session, meeting, MailKind.CANCELLATION, invitees)
    return await _transition(session, actor, meeting, "meeting.cancelled", before)


async def count_live(session: AsyncSession) -> int:
    """Number of meetings now live (for the metrics gauge)."""
    rows = await session.exec(select(Meeting.id).where(Meeting.state == MeetingState.LIVE.value))
    return len(rows.all())


async def set_locked(session: AsyncSession, actor: Actor, meeting: Meeting, locked: bool) -> bool:
    """Lock or unlock the room, audited; False when it already was so (nothing written)."""
    if meeting.state in _CLOSED:
        raise Conflict(f"a {meeting.state} meeting cannot be locked", state=meeting.state)
    if meeting.locked == locked:
        return False
    meeting.locked = locked
    session.add(meeting)
    await session.flush()
    await audit.append(
        session,
        actor,
        "meeting.locked" if locked else "meeting.unlocked",
        "meeting",
        meeting.id,
        meeting_id=meeting.id,
        before={"locked": not locked},
        after={"locked": locked},
    )
    return True
