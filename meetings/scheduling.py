"""Meetings: create, invite, list, and the scheduled → live → ended life cycle."""

from datetime import datetime

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.actor import Actor, ActorKind
from meetings.clock import as_utc, utcnow
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import (
    Account,
    Endpoint,
    Invitation,
    InviteeKind,
    Meeting,
    MeetingState,
    Role,
    Unit,
)
from meetings.units import ancestor_ids

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
) -> Meeting:
    """Schedule a meeting with a chair (host) and optionally a secretary."""
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
    )
    session.add(meeting)
    await session.flush()
    return meeting


async def update_meeting(
    session: AsyncSession,
    meeting: Meeting,
    *,
    title: str | None = None,
    description: str | None = None,
    starts_at: datetime | None = None,
    chair_id: int | None = None,
    secretary_id: int | None = None,
) -> Meeting:
    """Change the details of a meeting that has not ended."""
    if meeting.state == MeetingState.ENDED.value:
        raise Conflict("an ended meeting cannot be changed")
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
    session.add(meeting)
    await session.flush()
    return meeting


_INVITEE_MODEL: dict[InviteeKind, type[Unit] | type[Account] | type[Endpoint]] = {
    InviteeKind.UNIT: Unit,
    InviteeKind.ACCOUNT: Account,
    InviteeKind.ENDPOINT: Endpoint,
}


async def invite(
    session: AsyncSession, meeting: Meeting, invitees: list[tuple[InviteeKind, int]]
) -> list[Invitation]:
    """Invite units, accounts or endpoints; inviting twice is harmless (idempotent)."""
    if meeting.state == MeetingState.ENDED.value:
        raise Conflict("an ended meeting cannot take invitations")
    existing = {
        inv.invitee_key: inv
        for inv in (
            await session.exec(select(Invitation).where(Invitation.meeting_id == meeting.id))
        ).all()
    }
    result: list[Invitation] = []
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
    await session.flush()
    return result


async def list_invitations(session: AsyncSession, meeting_id: int) -> list[Invitation]:
    """A meeting's invitations in the order they were made."""
    query = select(Invitation).where(Invitation.meeting_id == meeting_id).order_by(Invitation.id)
    return list((await session.exec(query)).all())


async def remove_invitation(session: AsyncSession, meeting: Meeting, invitation_id: int) -> None:
    """Withdraw one invitation of this meeting."""
    inv = await session.get(Invitation, invitation_id)
    if inv is None or inv.meeting_id != meeting.id:
        raise NotFound("invitation not found", invitation_id=invitation_id)
    await session.delete(inv)
    await session.flush()


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


async def start_meeting(session: AsyncSession, meeting: Meeting) -> Meeting:
    """scheduled → live."""
    if meeting.state != MeetingState.SCHEDULED.value:
        raise Conflict(f"a {meeting.state} meeting cannot be started", state=meeting.state)
    meeting.state = MeetingState.LIVE.value
    meeting.started_at = utcnow()
    session.add(meeting)
    await session.flush()
    return meeting


async def end_meeting(session: AsyncSession, meeting: Meeting) -> Meeting:
    """live → ended."""
    if meeting.state != MeetingState.LIVE.value:
        raise Conflict(f"a {meeting.state} meeting cannot be ended", state=meeting.state)
    meeting.state = MeetingState.ENDED.value
    meeting.ended_at = utcnow()
    session.add(meeting)
    await session.flush()
    return meeting


async def count_live(session: AsyncSession) -> int:
    """Number of meetings now live (for the metrics gauge)."""
    rows = await session.exec(select(Meeting.id).where(Meeting.state == MeetingState.LIVE.value))
    return len(rows.all())
