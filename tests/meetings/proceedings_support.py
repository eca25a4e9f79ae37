"""Seed helpers for the agenda, speakers and conclusions tests.

Meetings are inserted as rows (scheduling is tested on its own), hosted by the seeded chair
and secretary, with the Thanh Sơn delegate and the Ba Chẽ district (hence the endpoints of
its communes) invited.
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel, col
from sqlmodel import select as select_model
from sqlmodel.ext.asyncio.session import AsyncSession

import meetings.schema  # noqa: F401 (registers every table on SQLModel.metadata)
from meetings import db
from meetings.audit import AuditEntry
from meetings.clock import utcnow
from meetings.models import Invitation, InviteeKind, Meeting, MeetingState
from tests.meetings.support import Org


async def add_meeting(
    sessions: async_sessionmaker[AsyncSession], org: Org, state: MeetingState = MeetingState.LIVE
) -> Meeting:
    """A committed meeting of the seeded chair and secretary, in ``state``."""
    async with db.transaction(sessions) as s:
        meeting = Meeting(
            title="Họp Ủy ban nhân dân tỉnh tháng 11",
            starts_at=utcnow(),
            chair_id=org.accounts["chair"].id or 0,
            secretary_id=org.accounts["secretary"].id,
            created_by_id=org.accounts["secretary"].id or 0,
            state=state.value,
            started_at=utcnow() if state is not MeetingState.SCHEDULED else None,
        )
        s.add(meeting)
        await s.flush()
        for kind, target in (
            (InviteeKind.ACCOUNT, org.accounts["delegate"].id),
            (InviteeKind.UNIT, org.district),
        ):
            s.add(
                Invitation(
                    meeting_id=meeting.id or 0,
                    invitee_kind=kind.value,
                    invitee_key=f"{kind.value}:{target}",
                    account_id=target if kind is InviteeKind.ACCOUNT else None,
                    unit_id=target if kind is InviteeKind.UNIT else None,
                )
            )
    return meeting


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show a refused request changed nothing."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    async with sessions() as s:
        for table in SQLModel.metadata.sorted_tables:
            rows = (await s.exec(select(table).order_by(*table.primary_key.columns))).all()  # type: ignore[call-overload]
            result[table.name] = [tuple(row) for row in rows]
    return result


async def audit_actions(sessions: async_sessionmaker[AsyncSession], meeting_id: int) -> list[str]:
    """The actions in a meeting's audit chain, oldest first."""
    async with sessions() as s:
        query = (
            select_model(AuditEntry.action)
            .where(AuditEntry.chain == f"meeting:{meeting_id}")
            .order_by(col(AuditEntry.seq))
        )
        return list((await s.exec(query)).all())
