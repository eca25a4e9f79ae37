"""Who the *members* of a meeting are: the people counted for quorum and allowed to vote.

The one definition, used by attendance (quorum) and by voting (eligible voters):

* the meeting's chair, and
* every active account with the role ``delegate`` or ``chair`` that is invited directly, or
  through an invited unit or any unit below it (a district's invitation reaches its communes),
* except the meeting's secretary (who keeps the minutes) unless the secretary is the chair.

Observers, secretaries, administrators and endpoint devices are never members: they may
attend (and check in), but they neither count towards quorum nor vote.
"""

from sqlalchemy import literal
from sqlalchemy.orm import aliased
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.models import Account, Invitation, Meeting, Role, Unit
from meetings.units import MAX_DEPTH

MEMBER_ROLES = frozenset({Role.DELEGATE.value, Role.CHAIR.value})


def _invited_unit_tree(meeting_id: int):  # -> CTE of (id, depth)
    """The units invited to the meeting and every unit below them (recursive CTE)."""
    base = select(col(Invitation.unit_id).label("id"), literal(1).label("depth")).where(
        Invitation.meeting_id == meeting_id, col(Invitation.unit_id).is_not(None)
    )
    tree = base.cte("invited_units", recursive=True)
    below = aliased(Unit)
    return tree.union_all(
        select(below.id, tree.c.depth + 1)
        .where(below.parent_id == tree.c.id)
        .where(tree.c.depth < MAX_DEPTH)
    )


async def member_ids(session: AsyncSession, meeting: Meeting) -> set[int]:
    """Account ids of the meeting's members (see the module docstring), in one query."""
    meeting_id = meeting.id or 0
    tree = _invited_unit_tree(meeting_id)
    direct = select(Invitation.account_id).where(
        Invitation.meeting_id == meeting_id, col(Invitation.account_id).is_not(None)
    )
    query = select(Account.id).where(
        col(Account.active).is_(True),
        col(Account.role).in_(MEMBER_ROLES),
        or_(col(Account.id).in_(direct), col(Account.unit_id).in_(select(tree.c.id))),
    )
    found = {account_id for account_id in (await session.exec(query)).all() if account_id}
    if meeting.secretary_id is not None and meeting.secretary_id != meeting.chair_id:
        found.discard(meeting.secretary_id)
    chair = await session.get(Account, meeting.chair_id)
    if chair is not None and chair.active:
        found.add(meeting.chair_id)
    return found
