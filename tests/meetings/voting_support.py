"""Seed helpers for the attendance and voting tests: a live meeting with members present."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import attendance, db
from meetings.actor import Actor
from meetings.attendance_models import AttendanceMode
from meetings.models import Account, Invitation, InviteeKind, Meeting, MeetingState, Role
from tests.meetings.support import Org, account_actor, add_account

MORNING = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


async def add_meeting(
    session: AsyncSession,
    org: Org,
    invitees: list[tuple[InviteeKind, int]],
    state: MeetingState = MeetingState.LIVE,
    title: str = "Kỳ họp thứ 12 HĐND tỉnh",
) -> Meeting:
    """A meeting chaired by ``chair`` with ``secretary``, inviting ``invitees`` (seed rows)."""
    meeting = Meeting(
        title=title,
        starts_at=MORNING,
        chair_id=org.accounts["chair"].id or 0,
        secretary_id=org.accounts["secretary"].id,
        created_by_id=org.accounts["secretary"].id or 0,
        state=state.value,
    )
    session.add(meeting)
    await session.flush()
    for kind, target in invitees:
        session.add(
            Invitation(
                meeting_id=meeting.id or 0,
                invitee_kind=kind.value,
                invitee_key=f"{kind.value}:{target}",
                unit_id=target if kind is InviteeKind.UNIT else None,
                account_id=target if kind is InviteeKind.ACCOUNT else None,
                endpoint_id=target if kind is InviteeKind.ENDPOINT else None,
            )
        )
    await session.flush()
    return meeting


def standard_invitees(org: Org) -> list[tuple[InviteeKind, int]]:
    """The district (reaching Thanh Sơn and Đồn Đạc) and the observer by name.

    Members: chair, ``delegate`` (Thanh Sơn) and ``district_delegate``.
    """
    return [
        (InviteeKind.UNIT, org.district),
        (InviteeKind.ACCOUNT, org.accounts["observer"].id or 0),
    ]


async def add_delegates(
    session: AsyncSession, unit_id: int, count: int, prefix: str
) -> list[Account]:
    """``count`` delegate accounts in one unit."""
    return [
        await add_account(session, f"{prefix}{n:04d}", unit_id, Role.DELEGATE) for n in range(count)
    ]


async def check_in_all(
    sessions: async_sessionmaker[AsyncSession], meeting: Meeting, accounts: list[Account]
) -> list[Actor]:
    """Each account checks itself in (the service, in one transaction to keep seeding fast)."""
    actors = [account_actor(a) for a in accounts]
    async with db.transaction(sessions) as s:
        for actor in actors:
            await attendance.check_in(s, actor, meeting, AttendanceMode.ONLINE)
    return actors
