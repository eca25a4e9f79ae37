"""Periodic upkeep: delete expired browser sessions; publish scheduled documents when due and
sweep document files nothing refers to any more; delete recordings past their retention."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import recordings as recording_service
from meetings.clock import utcnow
from meetings.documents import service as document_service
from meetings.documents.storage import BlobStore
from meetings.errors import Conflict, NotFound
from signaling.api.schemas_documents import document_out
from signaling.auth.sessions import purge_expired
from signaling.logs import get_logger

log = get_logger("phonghop.housekeeping")
Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Announce = Callable[[int, str, dict[str, Any]], Awaitable[None]]
# A stored file younger than this is kept even if unreferenced: its row may not be committed yet.
ORPHAN_GRACE_SECONDS = 3600.0


@dataclass(frozen=True)
class DocumentUpkeep:
    """What the documents' upkeep needs: their files, a way to tell a room, how often to look."""

    store: BlobStore
    announce: Announce  # e.g. SignalingGateway.meeting_event
    poll_seconds: float


@dataclass(frozen=True)
class RecordingUpkeep:
    """What the recordings' retention needs: where their files are, how long to keep them."""

    data_dir: Path
    retention_days: int  # 0: keep forever


async def purge_recordings(
    transaction: Transaction, upkeep: RecordingUpkeep, now: datetime | None = None
) -> list[str]:
    """Delete the recordings past their retention; returns the names of the files removed.

    Each is marked deleted (audited, by the system, reason "retention") and committed before
    its file is removed, so a failure never leaves a listed recording without its file.
    """
    async with transaction() as session:
        due = await recording_service.expired(session, now or utcnow(), upkeep.retention_days)
    removed: list[str] = []
    for recording_id in [r.id or 0 for r in due]:
        try:
            async with transaction() as session:
                file_name = await recording_service.delete(
                    session, recording_id, None, recording_service.REASON_RETENTION
                )
        except (Conflict, NotFound):  # deleted meanwhile (another process, an administrator)
            continue
        try:
            found = await asyncio.to_thread(
                recording_service.remove_file, upkeep.data_dir, file_name
            )
        except (OSError, ValueError):  # the row is deleted; the file is left for an operator
            log.exception("recording.file_not_removed", recording_id=recording_id)
            continue
        log.info("recording.deleted", recording_id=recording_id, reason="retention", file=found)
        if found:
            removed.append(file_name)
    return removed


async def publish_due(transaction: Transaction, announce: Announce) -> int:
    """Publish the scheduled documents whose time has come; announce them after the commit."""
    async with transaction() as session:
        published = await document_service.publish_due(session)
        payloads = []
        for document in published:
            version = await document_service.get_version(session, document)
            payloads.append((document.meeting_id, document_out(document, version)))
    for meeting_id, out in payloads:
        log.info("document.published", document_id=out.id, scheduled=True)
        await announce(meeting_id, "document.published", out.model_dump(mode="json"))
    return len(payloads)


async def sweep_documents(transaction: Transaction, store: BlobStore) -> list[str]:
    """Remove stored files no version or copy refers to (left by a failed transaction)."""
    async with transaction() as session:
        referenced = await document_service.referenced_files(session)
    removed = await asyncio.to_thread(store.sweep, referenced, ORPHAN_GRACE_SECONDS)
    if removed:
        log.info("documents.swept", files=len(removed))
    return removed


async def _loop(
    transaction: Transaction,
    every: float,
    upkeep: DocumentUpkeep | None,
    kept: RecordingUpkeep | None,
) -> None:
    while True:
        try:
            async with transaction() as session:
                await purge_expired(session)
            if kept is not None and kept.retention_days > 0:
                await purge_recordings(transaction, kept)
            if upkeep is not None:
                await sweep_documents(transaction, upkeep.store)
        except Exception:  # a database hiccup must not end upkeep for good
            log.exception("housekeeping.failed")
        await asyncio.sleep(every)


async def _publish_loop(transaction: Transaction, upkeep: DocumentUpkeep) -> None:
    while True:
        try:
            await publish_due(transaction, upkeep.announce)
        except Exception:  # retried at the next poll; nothing was committed
            log.exception("housekeeping.publish_failed")
        await asyncio.sleep(upkeep.poll_seconds)


@contextlib.asynccontextmanager
async def running(
    transaction: Transaction,
    every: float = 900.0,
    documents: DocumentUpkeep | None = None,
    recordings: RecordingUpkeep | None = None,
) -> AsyncIterator[None]:
    """Run upkeep in the background for the lifetime of the block."""
    tasks = [
        asyncio.create_task(_loop(transaction, every, documents, recordings), name="housekeeping")
    ]
    if documents is not None:
        tasks.append(
            asyncio.create_task(_publish_loop(transaction, documents), name="scheduled-documents")
        )
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
