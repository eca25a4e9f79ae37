"""Documents of a meeting: upload, versions, distribution, receipts, copies, search, comments.

Plain async functions over an ``AsyncSession``, like ``meetings.scheduling``. Each state
change appends to the meeting's audit chain as its last step. Files are handled through
``storage.BlobStore``; the PDF checks (``validation``) and stamping run in worker threads.

``privileged`` (from the permission table's ``document.manage``) decides whether a caller sees
drafts and receives originals of confidential documents; everyone else sees published
documents only, and a confidential one only as a copy stamped with their own name.
"""

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit
from meetings.actor import Actor
from meetings.clock import as_utc, utcnow
from meetings.documents.audience import Reader, invited_readers
from meetings.documents.models import (
    Document,
    DocumentComment,
    DocumentCopy,
    DocumentPage,
    DocumentReceipt,
    DocumentState,
    DocumentVersion,
)
from meetings.documents.search import like_pattern, normalise, snippet, terms
from meetings.documents.stamping import stamp_pdf, stamp_text_for
from meetings.documents.storage import BlobStore, Incoming
from meetings.documents.validation import PdfInfo
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import Account, AgendaItem, Endpoint, Meeting, Unit


@dataclass(frozen=True, slots=True)
class Upload:
    """A received, validated file, ready to become a version."""

    filename: str
    incoming: Incoming
    info: PdfInfo


async def _audit_change(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    document: Document,
    before: dict[str, Any],
) -> None:
    """Audit a change of a document's own fields (state, title, ...): before and after."""
    await audit.append(
        session,
        actor,
        action,
        "document",
        document.id,
        meeting_id=document.meeting_id,
        before=before,
        after=snapshot(document),
    )


def snapshot(document: Document) -> dict[str, Any]:
    """What the audit log records of a document's state."""
    return {
        "title": document.title,
        "agenda_item_id": document.agenda_item_id,
        "confidential": document.confidential,
        "state": document.state,
        "publish_at": document.publish_at.isoformat() if document.publish_at else None,
        "published_at": document.published_at.isoformat() if document.published_at else None,
        "current_version": document.current_version,
    }


def _version_snapshot(version: DocumentVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "sha256": version.sha256,
        "size": version.size,
        "pages": version.pages,
        "filename": version.filename,
    }


def _insert(session: AsyncSession):  # -> the dialect's insert, for ON CONFLICT DO NOTHING
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def _check_agenda_item(session: AsyncSession, meeting_id: int, item_id: int | None) -> None:
    if item_id is None:
        return
    item = await session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting_id:
        raise InvalidInput("the agenda item is not part of this meeting", agenda_item_id=item_id)


def _clean_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise InvalidInput("a document needs a title")
    return title


async def _add_version(
    session: AsyncSession,
    actor: Actor,
    document: Document,
    number: int,
    upload: Upload,
    store: BlobStore,
) -> DocumentVersion:
    """Store the file (once per content) and its version row with the text of each page."""
    store.put(upload.incoming)
    version = DocumentVersion(
        document_id=document.id or 0,
        number=number,
        sha256=upload.incoming.sha256,
        size=upload.incoming.size,
        pages=upload.info.pages,
        filename=upload.filename,
        uploaded_by=actor.key,
    )
    session.add(version)
    await session.flush()
    session.add_all(
        DocumentPage(version_id=version.id or 0, page=i, text=text, norm=normalise(text))
        for i, text in enumerate(upload.info.texts, start=1)
    )
    await session.flush()
    return version


async def create_document(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    *,
    title: str,
    confidential: bool,
    agenda_item_id: int | None,
    upload: Upload,
    store: BlobStore,
) -> tuple[Document, DocumentVersion]:
    """A new draft document with its first version."""
    meeting_id = meeting.id or 0
    await _check_agenda_item(session, meeting_id, agenda_item_id)
    document = Document(
        meeting_id=meeting_id,
        agenda_item_id=agenda_item_id,
        title=_clean_title(title),
        confidential=confidential,
        created_by=actor.key,
    )
    session.add(document)
    await session.flush()
    version = await _add_version(session, actor, document, 1, upload, store)
    await audit.append(
        session,
        actor,
        "document.created",
        "document",
        document.id,
        meeting_id=meeting_id,
        after={**snapshot(document), "version": _version_snapshot(version)},
    )
    return document, version


async def add_version(
    session: AsyncSession, actor: Actor, document: Document, upload: Upload, store: BlobStore
) -> DocumentVersion:
    """Replace the document's content; earlier versions (and their receipts) are kept."""
    # Lock the document row (PostgreSQL) so two replacements cannot take the same number.
    locked = (
        await session.exec(
            select(Document)
            .where(Document.id == document.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    before = snapshot(locked)
    number = locked.current_version + 1
    version = await _add_version(session, actor, locked, number, upload, store)
    locked.current_version = number
    locked.updated_at = utcnow()
    session.add(locked)
    await session.flush()
    await audit.append(
        session,
        actor,
        "document.version_added",
        "document",
        locked.id,
        meeting_id=locked.meeting_id,
        before=before,
        after={**snapshot(locked), "version": _version_snapshot(version)},
    )
    return version


_UNSET: Any = object()


async def update_document(
    session: AsyncSession,
    actor: Actor,
    document: Document,
    *,
    title: str | None = None,
    confidential: bool | None = None,
    agenda_item_id: int | None = _UNSET,
) -> Document:
    """Title, confidentiality or agenda item (``None`` moves it to the meeting as a whole)."""
    before = snapshot(document)
    if title is not None:
        document.title = _clean_title(title)
    if confidential is not None:
        document.confidential = confidential
    if agenda_item_id is not _UNSET:
        await _check_agenda_item(session, document.meeting_id, agenda_item_id)
        document.agenda_item_id = agenda_item_id
    if snapshot(document) == before:
        return document
    document.updated_at = utcnow()
    session.add(document)
    await session.flush()
    await _audit_change(session, actor, "document.updated", document, before)
    return document


async def publish(
    session: AsyncSession,
    actor: Actor,
    document: Document,
    publish_at: datetime | None = None,
    now: datetime | None = None,
) -> Document:
    """Publish to the invitees now, or schedule it (``publish_at`` in the future)."""
    if document.state == DocumentState.PUBLISHED.value:
        raise Conflict("the document is already published")
    now = now or utcnow()
    before = snapshot(document)
    if publish_at is not None and as_utc(publish_at) > now:
        document.state = DocumentState.SCHEDULED.value
        document.publish_at = as_utc(publish_at)
        action = "document.publish_scheduled"
    else:
        document.state = DocumentState.PUBLISHED.value
        document.published_at = now
        document.publish_at = None
        action = "document.published"
    document.updated_at = now
    session.add(document)
    await session.flush()
    await audit.append(
        session,
        actor,
        action,
        "document",
        document.id,
        meeting_id=document.meeting_id,
        before=before,
        after=snapshot(document),
    )
    return document


async def cancel_schedule(session: AsyncSession, actor: Actor, document: Document) -> Document:
    """A scheduled publication goes back to draft."""
    if document.state != DocumentState.SCHEDULED.value:
        raise Conflict(f"a {document.state} document has no scheduled publication")
    before = snapshot(document)
    document.state = DocumentState.DRAFT.value
    document.publish_at = None
    document.updated_at = utcnow()
    session.add(document)
    await session.flush()
    await _audit_change(session, actor, "document.publish_cancelled", document, before)
    return document


async def publish_due(session: AsyncSession, now: datetime | None = None) -> list[Document]:
    """Publish every scheduled document whose time has come (the background task's step).

    Safe with several server processes: each document is claimed by a conditional UPDATE,
    so exactly one process publishes it (and announces it).
    """
    now = now or utcnow()
    due = await session.exec(
        select(Document.id)
        .where(Document.state == DocumentState.SCHEDULED.value)
        .where(col(Document.publish_at) <= now)
        .order_by(Document.id)
    )
    published: list[Document] = []
    for document_id in due.all():
        claimed = await session.exec(  # type: ignore[call-overload]
            update(Document)
            .where(col(Document.id) == document_id)
            .where(col(Document.state) == DocumentState.SCHEDULED.value)
            .values(state=DocumentState.PUBLISHED.value, published_at=now, updated_at=now)
        )
        if claimed.rowcount != 1:
            continue
        document = (
            await session.exec(
                select(Document)
                .where(Document.id == document_id)
                .execution_options(populate_existing=True)
            )
        ).one()
        before = {
            **snapshot(document),
            "state": DocumentState.SCHEDULED.value,
            "published_at": None,
        }
        await _audit_change(session, None, "document.published", document, before)
        published.append(document)
    return published


# ---- reading ------------------------------------------------------------------------------


def _visible(query, privileged: bool):  # -> Select
    return query if privileged else query.where(Document.state == DocumentState.PUBLISHED.value)


async def list_documents(
    session: AsyncSession, meeting_id: int, privileged: bool
) -> list[tuple[Document, DocumentVersion]]:
    """The meeting's documents the caller may see, each with its current version."""
    query = (
        select(Document, DocumentVersion)
        .join(
            DocumentVersion,
            and_(
                col(DocumentVersion.document_id) == Document.id,
                col(DocumentVersion.number) == Document.current_version,
            ),
        )
        .where(Document.meeting_id == meeting_id)
        .order_by(col(Document.agenda_item_id).nullsfirst(), Document.id)
    )
    return list((await session.exec(_visible(query, privileged))).all())


async def get_document(
    session: AsyncSession, meeting_id: int, document_id: int, privileged: bool
) -> Document:
    """One document of this meeting; a draft is ``NotFound`` for those who may not see it."""
    document = await session.get(Document, document_id)
    if document is None or document.meeting_id != meeting_id:
        raise NotFound("document not found", document_id=document_id)
    if not privileged and document.state != DocumentState.PUBLISHED.value:
        raise NotFound("document not found", document_id=document_id)
    return document


async def list_versions(session: AsyncSession, document: Document) -> list[DocumentVersion]:
    """Every version, oldest first."""
    query = (
        select(DocumentVersion)
        .where(DocumentVersion.document_id == document.id)
        .order_by(DocumentVersion.number)
    )
    return list((await session.exec(query)).all())


async def get_version(
    session: AsyncSession, document: Document, number: int | None = None
) -> DocumentVersion:
    """A version by number (the current one by default)."""
    wanted = document.current_version if number is None else number
    version = (
        await session.exec(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == document.id)
            .where(DocumentVersion.number == wanted)
        )
    ).first()
    if version is None:
        raise NotFound("version not found", version=wanted)
    return version


# ---- receipts -----------------------------------------------------------------------------


async def record_open(
    session: AsyncSession, actor: Actor, document: Document, version: DocumentVersion
) -> bool:
    """Note that ``actor`` opened ``version`` (first time only); True if this was the first."""
    existing = await session.exec(
        select(DocumentReceipt.id)
        .where(DocumentReceipt.version_id == version.id)
        .where(DocumentReceipt.reader == actor.key)
    )
    if existing.first() is not None:
        return False
    opened_at = utcnow()
    # Two downloads at once by the same reader: the unique constraint keeps one row.
    result = await session.exec(  # type: ignore[call-overload]
        _insert(session)(DocumentReceipt)
        .values(
            document_id=document.id,
            version_id=version.id,
            reader=actor.key,
            opened_at=opened_at,
        )
        .on_conflict_do_nothing(index_elements=["version_id", "reader"])
    )
    if result.rowcount != 1:
        return False
    await audit.append(
        session,
        actor,
        "document.opened",
        "document",
        document.id,
        meeting_id=document.meeting_id,
        after={"version": version.number, "reader": actor.key},
    )
    return True


@dataclass(frozen=True, slots=True)
class Opened:
    """One receipt: who opened which version, first when."""

    reader: str
    name: str
    version: int
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class ReceiptReport:
    """Receipts of every version, and the invitees who have not opened the current one."""

    current_version: int
    opened: list[Opened]
    not_opened: list[Reader]


async def _names(session: AsyncSession, keys: set[str]) -> dict[str, str]:
    account_ids = [int(k.split(":")[1]) for k in keys if k.startswith("account:")]
    endpoint_ids = [int(k.split(":")[1]) for k in keys if k.startswith("endpoint:")]
    names: dict[str, str] = {}
    if account_ids:
        rows = await session.exec(
            select(Account.id, Account.full_name).where(col(Account.id).in_(account_ids))
        )
        names.update({f"account:{i}": n for i, n in rows.all()})
    if endpoint_ids:
        rows = await session.exec(
            select(Endpoint.id, Endpoint.name).where(col(Endpoint.id).in_(endpoint_ids))
        )
        names.update({f"endpoint:{i}": n for i, n in rows.all()})
    return names


async def receipts(session: AsyncSession, document: Document) -> ReceiptReport:
    """Who opened which version and when; who among the invitees has not opened the current."""
    rows = (
        await session.exec(
            select(DocumentReceipt, DocumentVersion.number)
            .join(DocumentVersion, col(DocumentVersion.id) == DocumentReceipt.version_id)
            .where(DocumentReceipt.document_id == document.id)
            .order_by(DocumentReceipt.opened_at, DocumentReceipt.id)
        )
    ).all()
    names = await _names(session, {r.reader for r, _ in rows})
    opened = [
        Opened(r.reader, names.get(r.reader, r.reader), number, r.opened_at) for r, number in rows
    ]
    current = {o.reader for o in opened if o.version == document.current_version}
    invited = await invited_readers(session, document.meeting_id)
    return ReceiptReport(
        document.current_version, opened, [r for r in invited if r.key not in current]
    )


# ---- confidential copies ------------------------------------------------------------------


def _hash_file(path: Path) -> Incoming:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return Incoming(path, digest.hexdigest(), size)


async def _unit_name(session: AsyncSession, unit_id: int) -> str:
    unit = await session.get(Unit, unit_id)
    return unit.name if unit is not None else ""


async def confidential_copy(
    session: AsyncSession,
    actor: Actor,
    document: Document,
    version: DocumentVersion,
    store: BlobStore,
    font: Path,
) -> DocumentCopy:
    """The caller's stamped copy of ``version``: made on first request, then served from disk."""
    query = (
        select(DocumentCopy)
        .where(DocumentCopy.version_id == version.id)
        .where(DocumentCopy.recipient == actor.key)
    )
    existing = (await session.exec(query)).first()
    if existing is not None and store.has(existing.sha256):
        return existing
    # Made anew, or remade with its original stamp time if the file was lost from the disk.
    stamped_at = existing.stamped_at if existing is not None else utcnow()
    unit_name = existing.unit_name if existing else await _unit_name(session, actor.unit_id)
    text = stamp_text_for(actor.name, unit_name, stamped_at)
    with store.temp_file() as tmp:
        await asyncio.to_thread(stamp_pdf, store.path(version.sha256), tmp, text, font)
        incoming = await asyncio.to_thread(_hash_file, tmp)
        store.put(incoming)
    if existing is not None:
        existing.sha256, existing.size = incoming.sha256, incoming.size
        session.add(existing)
        await session.flush()
        return existing
    result = await session.exec(  # type: ignore[call-overload]
        _insert(session)(DocumentCopy)
        .values(
            version_id=version.id,
            recipient=actor.key,
            recipient_name=actor.name[:200],
            unit_name=unit_name[:200],
            sha256=incoming.sha256,
            size=incoming.size,
            stamped_at=stamped_at,
        )
        .on_conflict_do_nothing(index_elements=["version_id", "recipient"])
    )
    copy = (await session.exec(query.execution_options(populate_existing=True))).one()
    if result.rowcount == 1:
        await audit.append(
            session,
            actor,
            "document.copy_issued",
            "document",
            document.id,
            meeting_id=document.meeting_id,
            after={"version": version.number, "recipient": actor.key, "sha256": copy.sha256},
        )
    return copy


# ---- search -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A page of a document's current version that contains every word of the query."""

    document_id: int
    title: str
    version: int
    page: int
    snippet: str


async def search(
    session: AsyncSession, meeting_id: int, privileged: bool, query: str, limit: int = 20
) -> list[SearchHit]:
    """Pages of the meeting's (visible, current) documents containing all the query's words."""
    words = terms(query)
    if not words:
        raise InvalidInput("the search needs at least one word")
    statement = (
        select(DocumentPage, Document.id, Document.title, DocumentVersion.number)
        .join(DocumentVersion, col(DocumentVersion.id) == DocumentPage.version_id)
        .join(
            Document,
            and_(
                col(Document.id) == DocumentVersion.document_id,
                col(Document.current_version) == DocumentVersion.number,
            ),
        )
        .where(Document.meeting_id == meeting_id)
    )
    for word in words:
        statement = statement.where(col(DocumentPage.norm).like(like_pattern(word), escape="\\"))
    statement = (
        _visible(statement, privileged).order_by(Document.id, DocumentPage.page).limit(limit)
    )
    rows = (await session.exec(statement)).all()
    return [
        SearchHit(document_id, title, number, page.page, snippet(page.text, words))
        for page, document_id, title, number in rows
    ]


# ---- comments -----------------------------------------------------------------------------


async def add_comment(
    session: AsyncSession,
    actor: Actor,
    document: Document,
    page: int,
    body: str,
    version_number: int | None = None,
) -> DocumentComment:
    """A comment on one page of a version (the current one by default)."""
    version = await get_version(session, document, version_number)
    if not 1 <= page <= version.pages:
        raise InvalidInput(f"page must be between 1 and {version.pages}", page=page)
    body = body.strip()
    if not body:
        raise InvalidInput("a comment cannot be empty")
    comment = DocumentComment(
        document_id=document.id or 0,
        version_id=version.id or 0,
        page=page,
        body=body,
        author=actor.key,
        author_name=actor.name[:200],
    )
    session.add(comment)
    await session.flush()
    await audit.append(
        session,
        actor,
        "document.commented",
        "document_comment",
        comment.id,
        meeting_id=document.meeting_id,
        after={"document_id": document.id, "version": version.number, "page": page, "body": body},
    )
    return comment


async def list_comments(
    session: AsyncSession, document: Document
) -> list[tuple[DocumentComment, int]]:
    """Every comment on the document with its version number, oldest first."""
    rows = await session.exec(
        select(DocumentComment, DocumentVersion.number)
        .join(DocumentVersion, col(DocumentVersion.id) == DocumentComment.version_id)
        .where(DocumentComment.document_id == document.id)
        .order_by(DocumentComment.id)
    )
    return list(rows.all())


# ---- upkeep -------------------------------------------------------------------------------


async def referenced_files(session: AsyncSession) -> set[str]:
    """Hashes of every stored file some row refers to (originals and stamped copies)."""
    originals = await session.exec(select(DocumentVersion.sha256).distinct())
    copies = await session.exec(select(DocumentCopy.sha256).distinct())
    return set(originals.all()) | set(copies.all())
