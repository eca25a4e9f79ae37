"""Administrative units: province → district → commune."""

from sqlalchemy import bindparam, literal
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit
from meetings.actor import Actor
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import Unit, UnitKind

# Which kind of parent each kind accepts. A commune may hang directly under a province:
# since the 2025 reform, many provinces have no district level.
_PARENT_KINDS: dict[UnitKind, set[UnitKind | None]] = {
    UnitKind.PROVINCE: {None},
    UnitKind.DISTRICT: {UnitKind.PROVINCE},
    UnitKind.COMMUNE: {UnitKind.DISTRICT, UnitKind.PROVINCE},
}
MAX_DEPTH = 8


async def get_unit(session: AsyncSession, unit_id: int) -> Unit:
    """Load a unit or raise ``NotFound``."""
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("unit not found", unit_id=unit_id)
    return unit


async def list_units(session: AsyncSession) -> list[Unit]:
    """All units, parents before children within each level order."""
    rows = await session.exec(select(Unit).order_by(col(Unit.parent_id).nullsfirst(), Unit.id))
    return list(rows.all())


def snapshot(unit: Unit) -> dict[str, object]:
    """What the audit log records of a unit."""
    return unit.model_dump(mode="json", include={"id", "name", "kind", "code", "parent_id"})


async def create_unit(
    session: AsyncSession,
    actor: Actor | None,
    name: str,
    kind: UnitKind,
    parent_id: int | None,
    code: str | None,
) -> Unit:
    """Create a unit under a parent of a fitting kind (``actor`` None: the system itself)."""
    parent_kind: UnitKind | None = None
    if parent_id is not None:
        parent = await session.get(Unit, parent_id)
        if parent is None:
            raise InvalidInput("parent unit does not exist", parent_id=parent_id)
        parent_kind = UnitKind(parent.kind)
    if parent_kind not in _PARENT_KINDS[kind]:
        under = parent_kind.value if parent_kind else "nothing"
        raise InvalidInput(f"a {kind.value} cannot be placed under {under}")
    if code is not None:
        existing = await session.exec(select(Unit).where(Unit.code == code))
        if existing.first() is not None:
            raise Conflict("unit code already used", code=code)
    unit = Unit(name=name.strip(), kind=kind.value, parent_id=parent_id, code=code)
    session.add(unit)
    await session.flush()
    await audit.append(session, actor, "unit.created", "unit", unit.id, after=snapshot(unit))
    return unit


def _ancestor_chain():  # -> CTE of (id, parent_id, depth)
    base = select(Unit.id, Unit.parent_id, literal(1).label("depth")).where(
        Unit.id == bindparam("unit_id")
    )
    chain = base.cte("unit_chain", recursive=True)
    up = aliased(Unit)
    return chain.union_all(
        select(up.id, up.parent_id, chain.c.depth + 1)
        .where(up.id == chain.c.parent_id)
        .where(chain.c.depth < MAX_DEPTH)
    )


# Built once: this runs on every socket.io ``join``, and building and cache-keying the
# statement on each call costs more than running it.
ANCESTOR_CHAIN = _ancestor_chain()
"""Recursive CTE: the unit bound as ``unit_id`` and its ancestors, with their ``depth``."""
_ANCESTOR_IDS = select(ANCESTOR_CHAIN.c.id).order_by(ANCESTOR_CHAIN.c.depth)


async def ancestor_ids(session: AsyncSession, unit_id: int) -> list[int]:
    """The unit itself followed by its ancestors up to the root (one recursive query)."""
    rows = await session.exec(_ANCESTOR_IDS, params={"unit_id": unit_id})
    return list(rows.all()) or [unit_id]
