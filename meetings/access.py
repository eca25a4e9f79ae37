"""How an actor stands to a meeting, and the single permission check built on it."""

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.actor import Actor, ActorKind
from meetings.errors import NotFound
from meetings.models import Invitation, Meeting
from meetings.permissions import PERMISSIONS, Action, Relation, authorize
from meetings.units import ancestor_ids


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
    units = await ancestor_ids(session, actor.unit_id)
    own = (
        Invitation.account_id == actor.id
        if actor.kind is ActorKind.ACCOUNT
        else Invitation.endpoint_id == actor.id
    )
    query = (
        select(Invitation.id)
        .where(Invitation.meeting_id == meeting.id)
        .where(or_(own, col(Invitation.unit_id).in_(units)))
        .limit(1)
    )
    if (await session.exec(query)).first() is not None:
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
    if meeting_id is None:
        raise NotFound("meeting not found")
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("meeting not found", meeting_id=meeting_id)
    authorize(actor, action, await relations_to(session, actor, meeting))
    return meeting
