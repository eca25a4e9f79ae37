"""How an actor stands to a meeting, and the single permission check built on it."""

from sqlalchemy import bindparam
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.actor import Actor, ActorKind
from meetings.errors import NotFound
from meetings.models import Invitation, Meeting
from meetings.permissions import PERMISSIONS, Action, Relation, authorize
from meetings.units import ANCESTOR_CHAIN


def _invited_query(own_column):  # -> Select
    """An invitation to ``meeting_id`` naming ``actor_id``, ``unit_id`` or a unit above it."""
    return (
        select(Invitation.id)
        .where(Invitation.meeting_id == bindparam("meeting_id"))
        .where(
            or_(
                own_column == bindparam("actor_id"),
                col(Invitation.unit_id).in_(select(ANCESTOR_CHAIN.c.id)),
            )
        )
        .limit(1)
    )


# Built once, one query each: this runs on every socket.io ``join``.
_INVITED = {
    ActorKind.ACCOUNT: _invited_query(Invitation.account_id),
    ActorKind.ENDPOINT: _invited_query(Invitation.endpoint_id),
}


async def relations_to(
    session: AsyncSession, actor: Actor, meeting: Meeting
) -> frozenset[Relation]:
    """Chair, secretary and/or invitee. Inviting a unit invites everything under it."""
    found: set[Relation] = set()
    if actor.kind is ActorKind.ACCOUNT:
        if meeting.chair_id == actor.id:
            found.add(Relation.CHAIR)
        if meeting.secretary_id == actor.id:
            found.add(Relation.SECRETARY)
        if meeting.created_by_id == actor.id:
            found.add(Relation.ORGANISER)
    params = {"meeting_id": meeting.id, "actor_id": actor.id, "unit_id": actor.unit_id}
    if (await session.exec(_INVITED[actor.kind], params=params)).first() is not None:
        found.add(Relation.INVITED)
    return frozenset(found)


async def check(
    session: AsyncSession, actor: Actor, action: Action, meeting_id: int | None = None
) -> Meeting | None:
    """Authorize ``action``; for meeting-scoped actions load and return the meeting.

    A missing meeting is ``NotFound``; an existing one the actor may not touch is ``Forbidden``.
    """
    if not PERMISSIONS[action].meeting_scoped:
        authorize(actor, action)
        return None
    meeting, _ = await check_meeting(session, actor, action, meeting_id)
    return meeting


async def check_meeting(
    session: AsyncSession, actor: Actor, action: Action, meeting_id: int | None
) -> tuple[Meeting, frozenset[Relation]]:
    """``check`` for a meeting-scoped action, also returning the relations it was granted on.

    For callers that keep the relations (socket.io ``join``), so they need not query them again.
    """
    if meeting_id is None:
        raise NotFound("meeting not found")
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("meeting not found", meeting_id=meeting_id)
    relations = await relations_to(session, actor, meeting)
    authorize(actor, action, relations)
    return meeting, relations
