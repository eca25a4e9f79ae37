"""Periodic upkeep: delete expired browser sessions; publish scheduled documents when due and
sweep document files nothing refers to any more."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.documents import service as document_service
from meetings.documents.storage import BlobStore
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


async def _loop(transaction: Transaction, every: float, upkeep: DocumentUpkeep | None) -> None:
    while True:
        try:
            async with transaction() as session:
                await purge_expired(session)
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
    transaction: Transaction, every: float = 900.0, documents: DocumentUpkeep | None = None
) -> AsyncIterator[None]:
    """Run upkeep in the background for the lifetime of the block."""
    tasks = [asyncio.create_task(_loop(transaction, every, documents), name="housekeeping")]
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
