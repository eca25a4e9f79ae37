"""Who a meeting's documents are distributed to: its invitees, expanded through invited units."""

from dataclasses import dataclass

from sqlalchemy import literal
from sqlalchemy.orm import aliased
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.actor import ActorKind
from meetings.models import Account, Endpoint, Invitation, Unit
from meetings.units import MAX_DEPTH


@dataclass(frozen=True, slots=True)
class Reader:
    """An invited account or endpoint, as the secretary sees it in a receipts list."""

    key: str  # "account:7" / "endpoint:3"
    kind: ActorKind
    id: int
    name: str
    unit_id: int
    unit_name: str


def _descendants(unit_ids: list[int]):  # -> CTE of (id, depth)
    """The invited units and every unit below them (an invitation reaches the whole subtree)."""
    base = select(Unit.id, literal(1).label("depth")).where(col(Unit.id).in_(unit_ids))
    tree = base.cte("invited_units", recursive=True)
    child = aliased(Unit)
    return tree.union_all(
        select(child.id, tree.c.depth + 1)
        .where(child.parent_id == tree.c.id)
        .where(tree.c.depth < MAX_DEPTH)
    )


async def invited_readers(session: AsyncSession, meeting_id: int) -> list[Reader]:
    """Active accounts and non-revoked endpoints invited directly or through a unit."""
    invitations = (
        await session.exec(select(Invitation).where(Invitation.meeting_id == meeting_id))
    ).all()
    account_ids = [i.account_id for i in invitations if i.account_id is not None]
    endpoint_ids = [i.endpoint_id for i in invitations if i.endpoint_id is not None]
    unit_ids = [i.unit_id for i in invitations if i.unit_id is not None]
    units_below = select(_descendants(unit_ids).c.id) if unit_ids else None

    def reached(id_column, ids: list[int], unit_column):  # -> SQL condition
        conditions = [col(id_column).in_(ids)] if ids else []
        if units_below is not None:
            conditions.append(col(unit_column).in_(units_below))
        return or_(*conditions) if conditions else literal(False)

    readers: list[Reader] = []
    accounts = await session.exec(
        select(Account, Unit.name)
        .join(Unit, col(Unit.id) == Account.unit_id)
        .where(col(Account.active).is_(True))
        .where(reached(Account.id, account_ids, Account.unit_id))
        .order_by(Account.id)
    )
    for account, unit_name in accounts.all():
        readers.append(
            Reader(
                f"account:{account.id}",
                ActorKind.ACCOUNT,
                account.id or 0,
                account.full_name,
                account.unit_id,
                unit_name,
            )
        )
    endpoints = await session.exec(
        select(Endpoint, Unit.name)
        .join(Unit, col(Unit.id) == Endpoint.unit_id)
        .where(col(Endpoint.revoked_at).is_(None))
        .where(reached(Endpoint.id, endpoint_ids, Endpoint.unit_id))
        .order_by(Endpoint.id)
    )
    for endpoint, unit_name in endpoints.all():
        readers.append(
            Reader(
                f"endpoint:{endpoint.id}",
                ActorKind.ENDPOINT,
                endpoint.id or 0,
                endpoint.name,
                endpoint.unit_id,
                unit_name,
            )
        )
    return readers
