"""The audit log: every state change, appended to a hash chain so tampering shows.

Each meeting has its own chain (``meeting:<id>``) and installation-wide changes (units,
accounts, endpoints) go to ``global``. An entry's hash covers its fields and the previous
entry's hash; ``verify`` recomputes every chain and compares it with the stored heads.

Appends to one chain are serialised by the database itself: the first write of ``append`` is
an ``UPDATE`` of the chain's head row, which takes PostgreSQL's row lock (held to commit) and
SQLite's write lock, so two transactions can never both extend the same predecessor.
Callers append as the last step of a transaction, which keeps the lock short.

Hand-written because no maintained library chains rows of our own database; it is a few
dozen lines of hashing over SQLModel.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, UniqueConstraint, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Column, Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.actor import Actor
from meetings.clock import utcnow
from meetings.models import UTCDateTime

GENESIS = "0" * 64
GLOBAL_CHAIN = "global"


class AuditEntry(SQLModel, table=True):
    """One appended state change."""

    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_audit_chain_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=40, index=True)
    seq: int
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(max_length=40)  # "account:7", "endpoint:3" or "system"
    action: str = Field(max_length=64)  # e.g. "poll.closed"
    object_type: str = Field(max_length=40)
    object_id: str = Field(max_length=64)
    # Stored exactly as hashed: canonical JSON text, never re-serialised.
    before_json: str = Field(sa_column=Column(Text, nullable=False))
    after_json: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The last entry of each chain; the row whose lock serialises appends."""

    __tablename__ = "audit_head"

    chain: str = Field(primary_key=True, max_length=40)
    seq: int = 0
    hash: str = Field(default=GENESIS, max_length=64)


def chain_for(meeting_id: int | None) -> str:
    """The chain a change belongs to."""
    return GLOBAL_CHAIN if meeting_id is None else f"meeting:{meeting_id}"


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces, UTF-8 kept) for hashing and storage."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _timestamp(at: datetime) -> str:
    # Microseconds are kept by both backends; ``isoformat`` drops them when zero, so be explicit.
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the entry's fields and its predecessor's hash."""
    material = canonical_json(
        [
            entry.chain,
            entry.seq,
            _timestamp(entry.at),
            entry.actor,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.before_json,
            entry.after_json,
            entry.prev_hash,
        ]
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def actor_key(actor: Actor | None) -> str:
    """How an actor is written in the log."""
    return actor.key if actor is not None else "system"


async def append(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: object,
    *,
    meeting_id: int | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Append one entry to the meeting's chain (or the global one) in the caller's transaction.

    ``before``/``after`` are JSON-able snapshots of what changed (``None`` for creation and
    deletion). Secret-ballot code must never pass a choice together with a voter here.
    """
    chain = chain_for(meeting_id)
    # The lock and the predecessor in one statement; a chain's first append creates its head.
    # Core statements rather than ORM objects: appends sit in every write path (one per ballot
    # transaction), and the unit of work's flush costs more than the statements themselves.
    bump = (
        update(AuditHead)
        .where(col(AuditHead.chain) == chain)
        .values(seq=AuditHead.seq + 1)
        .returning(col(AuditHead.seq), col(AuditHead.hash))
    )
    head = (await session.exec(bump)).first()  # type: ignore[call-overload]
    if head is None:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        await session.exec(  # type: ignore[call-overload]
            insert(AuditHead).values(chain=chain, seq=0, hash=GENESIS).on_conflict_do_nothing()
        )
        head = (await session.exec(bump)).one()  # type: ignore[call-overload]
    seq, prev_hash = head
    entry = AuditEntry(
        chain=chain,
        seq=seq,
        at=utcnow(),
        actor=actor_key(actor),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before_json=canonical_json(before),
        after_json=canonical_json(after),
        prev_hash=prev_hash,
        hash="",
    )
    entry.hash = entry_hash(entry)
    row = entry.model_dump(exclude={"id"})
    entry.id = (
        await session.exec(  # type: ignore[call-overload]
            sa_insert(AuditEntry).values(**row).returning(col(AuditEntry.id))
        )
    ).scalar_one()
    await session.exec(  # type: ignore[call-overload]
        update(AuditHead).where(col(AuditHead.chain) == chain).values(hash=entry.hash)
    )
    return entry


@dataclass
class ChainReport:
    """What ``verify`` found in one chain."""

    chain: str
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No broken link, hash, gap or head mismatch."""
        return not self.problems


async def verify(session: AsyncSession, chain: str | None = None) -> list[ChainReport]:
    """Recompute every chain (or one); each report lists what does not add up."""
    heads_query = select(AuditHead).order_by(AuditHead.chain)
    if chain is not None:
        heads_query = heads_query.where(AuditHead.chain == chain)
    heads = {h.chain: h for h in (await session.exec(heads_query)).all()}
    entries_query = select(AuditEntry).order_by(AuditEntry.chain, AuditEntry.seq)
    if chain is not None:
        entries_query = entries_query.where(AuditEntry.chain == chain)
    reports: dict[str, ChainReport] = {}
    prev: dict[str, tuple[int, str]] = {}
    for entry in (await session.exec(entries_query)).all():
        report = reports.setdefault(entry.chain, ChainReport(entry.chain))
        report.entries += 1
        last_seq, last_hash = prev.get(entry.chain, (0, GENESIS))
        if entry.seq != last_seq + 1:
            report.problems.append(f"seq {entry.seq}: expected {last_seq + 1} (entry missing)")
        if entry.prev_hash != last_hash:
            report.problems.append(f"seq {entry.seq}: does not link to the previous entry")
        if entry_hash(entry) != entry.hash:
            report.problems.append(f"seq {entry.seq}: content does not match its hash")
        prev[entry.chain] = (entry.seq, entry.hash)
    for name, head in heads.items():
        report = reports.setdefault(name, ChainReport(name))
        last_seq, last_hash = prev.get(name, (0, GENESIS))
        if (head.seq, head.hash) != (last_seq, last_hash):
            report.problems.append(
                f"head says seq {head.seq}, log ends at seq {last_seq} (entries removed or added)"
            )
    for name in reports.keys() - heads.keys():
        reports[name].problems.append("entries without a head row")
    return [reports[name] for name in sorted(reports)]


async def entries(
    session: AsyncSession, meeting_id: int | None, limit: int = 500
) -> list[AuditEntry]:
    """The newest entries of one chain, newest first."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.chain == chain_for(meeting_id))
        .order_by(col(AuditEntry.seq).desc())
        .limit(limit)
    )
    return list((await session.exec(query)).all())
