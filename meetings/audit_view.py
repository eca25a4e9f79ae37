"""Reading the audit log a page at a time (the API's view of ``meetings.audit``)."""

import json
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.audit import AuditEntry, chain_for


async def page(
    session: AsyncSession, meeting_id: int | None, limit: int, before: int | None = None
) -> list[AuditEntry]:
    """Up to ``limit`` entries of a chain, newest first, older than sequence ``before``."""
    query = select(AuditEntry).where(AuditEntry.chain == chain_for(meeting_id))
    if before is not None:
        query = query.where(col(AuditEntry.seq) < before)
    query = query.order_by(col(AuditEntry.seq).desc()).limit(limit)
    return list((await session.exec(query)).all())


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry with its before/after snapshots decoded (they are stored as hashed JSON)."""
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": json.loads(entry.before_json),
        "after": json.loads(entry.after_json),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }
