"""Documents of a meeting: upload (multipart, streamed), versions, publication, downloads with
Range/ETag, read receipts, confidential stamped copies, search and comments."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError

from meetings import access
from meetings.documents import service
from meetings.documents.models import Document, DocumentState
from meetings.documents.service import Upload
from meetings.documents.storage import BlobStore, TooLarge
from meetings.documents.validation import check_filename, inspect_pdf
from meetings.errors import InvalidInput
from meetings.models import Meeting
from meetings.permissions import Action, is_allowed
from signaling.api.content import Form, content_disposition, file_response
from signaling.api.registry import RequestContext
from signaling.api.schemas_documents import (
    CommentIn,
    CommentOut,
    DocumentDetailOut,
    DocumentForm,
    DocumentOut,
    DocumentPatch,
    PublishIn,
    ReceiptsOut,
    SearchHitOut,
    SearchQuery,
    VersionOut,
    document_out,
)
from signaling.api.table import API
from signaling.errors import ApiError, validation_details
from signaling.fonts import DEFAULT_REGULAR
from signaling.logs import get_logger

log = get_logger("phonghop.documents")
TAGS = ("documents",)
_CHUNK = 256 * 1024
_FORM_FIELD_MAX = 4096  # bytes of one text field of the upload form
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and text fields, on top of the file


def _meeting(ctx: RequestContext) -> Meeting:
    assert ctx.meeting is not None  # the registry loads it for meeting-scoped actions
    return ctx.meeting


def _store(ctx: RequestContext) -> BlobStore:
    return BlobStore(ctx.state.settings.data_dir / "documents")


async def _privileged(ctx: RequestContext) -> bool:
    """Hosts and administrators see drafts and get originals (the table's document.manage)."""
    relations = await access.relations_to(ctx.session, ctx.actor, _meeting(ctx))
    return is_allowed(ctx.actor, Action.DOCUMENT_MANAGE, relations)


async def _document(ctx: RequestContext, privileged: bool) -> Document:
    return await service.get_document(
        ctx.session, _meeting(ctx).id or 0, ctx.params["document_id"], privileged
    )


def _announce(ctx: RequestContext, document: Document, event: str, data: dict[str, Any]) -> None:
    """After commit, tell the meeting's room, but only about what every member may see."""
    if document.state != DocumentState.PUBLISHED.value:
        return
    meeting_id = document.meeting_id
    ctx.after_commit.append(lambda: ctx.state.signaling.meeting_event(meeting_id, event, data))


# ---- multipart upload ---------------------------------------------------------------------


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(_CHUNK):
        yield chunk


async def _read_field(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(_FORM_FIELD_MAX):
        data += chunk
        if len(data) > _FORM_FIELD_MAX:
            raise ApiError(422, "validation_error", f"form field {part.name!r} is too long")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "validation_error", f"form field {part.name!r} is not UTF-8") from None


def _client_filename(name: str | None) -> str | None:
    """The file name as the user saw it: some clients (aiohttp, curl) percent-encode it.

    Decoded before it is checked, so an encoded ``..%2F`` is refused like a plain ``../``.
    """
    if name is None or "%" not in name:
        return name
    try:
        return unquote(name, errors="strict")
    except UnicodeDecodeError:
        return name


async def _receive(
    ctx: RequestContext, tmp: Path, fields: set[str]
) -> tuple[dict[str, str], Upload]:
    """Stream the multipart body: the ``file`` part to ``tmp`` (hashed on the way), the named
    text fields into a dict; then validate the PDF in a worker thread."""
    request, settings = ctx.request, ctx.state.settings
    limit = settings.document_max_bytes
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "upload the file as multipart/form-data")
    if request.content_length is not None and request.content_length > limit + _FORM_OVERHEAD:
        raise ApiError(413, "payload_too_large", f"the file exceeds the limit of {limit} bytes")
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError) as exc:
        raise ApiError(400, "malformed_multipart", f"malformed multipart body: {exc}") from exc
    values: dict[str, str] = {}
    received = None
    filename = ""
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "malformed_multipart", "nested multipart bodies are refused")
            if part.name == "file":
                if received is not None:
                    raise ApiError(422, "validation_error", "one file per upload")
                filename = check_filename(_client_filename(part.filename))
                received = await _store(ctx).receive(_part_chunks(part), tmp, limit)
            elif part.name in fields and part.name not in values:
                values[part.name] = await _read_field(part)
            else:
                raise ApiError(422, "validation_error", f"unexpected form field {part.name!r}")
    except TooLarge as exc:
        raise ApiError(413, "payload_too_large", exc.message, limit=limit) from exc
    except (ValueError, HttpProcessingError) as exc:  # aiohttp's parser on a broken body
        message = getattr(exc, "message", None) or str(exc)
        raise ApiError(400, "malformed_multipart", f"malformed multipart body: {message}") from exc
    if received is None:
        raise InvalidInput("the upload has no 'file' part", field="file")
    info = await asyncio.to_thread(
        inspect_pdf, tmp, settings.document_max_pages, settings.document_check_seconds
    )
    return values, Upload(filename, received, info)


def _form(values: dict[str, str]) -> DocumentForm:
    data: dict[str, Any] = {k: v for k, v in values.items() if v != ""}
    try:
        return DocumentForm.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            422, "validation_error", "invalid form", errors=validation_details(exc.errors())
        ) from exc


@API.route(
    "POST",
    "/meetings/{meeting_id}/documents",
    action=Action.DOCUMENT_MANAGE,
    response=DocumentOut,
    status=201,
    summary="Upload a PDF as a new draft document (multipart: file, title, confidential,"
    " agenda_item_id)",
    form=Form({"file": "application/pdf"}, DocumentForm),
    tags=TAGS,
    streams_body=True,
)
async def upload_document(ctx: RequestContext) -> DocumentOut:
    """Streamed to disk and hashed; refused (nothing kept) unless it is a sound, open PDF."""
    store = _store(ctx)
    with store.temp_file() as tmp:
        # No transaction is open while the body arrives: a commune link may take minutes.
        values, upload = await _receive(ctx, tmp, {"title", "confidential", "agenda_item_id"})
        form = _form(values)
        title = form.title or upload.filename[: -len(".pdf")] or upload.filename
        async with ctx.transaction():  # the meeting and the actor's right checked again
            document, version = await service.create_document(
                ctx.session,
                ctx.actor,
                _meeting(ctx),
                title=title,
                confidential=form.confidential,
                agenda_item_id=form.agenda_item_id,
                upload=upload,
                store=store,
            )
    log.info(
        "document.created",
        document_id=document.id,
        sha256=version.sha256,
        size=version.size,
        pages=version.pages,
    )
    return document_out(document, version)


@API.route(
    "POST",
    "/meetings/{meeting_id}/documents/{document_id}/versions",
    action=Action.DOCUMENT_MANAGE,
    response=DocumentOut,
    status=201,
    summary="Replace a document's file (multipart: file); earlier versions are kept",
    form=Form({"file": "application/pdf"}),
    tags=TAGS,
    streams_body=True,
)
async def upload_document_version(ctx: RequestContext) -> DocumentOut:
    """Published documents announce ``document.updated`` to the meeting's room."""
    async with ctx.transaction():  # an unknown document is refused before its body is read
        await _document(ctx, privileged=True)
    store = _store(ctx)
    with store.temp_file() as tmp:
        _, upload = await _receive(ctx, tmp, set())  # outside any transaction
        async with ctx.transaction():  # the meeting, the right and the document checked again
            document = await _document(ctx, privileged=True)
            version = await service.add_version(ctx.session, ctx.actor, document, upload, store)
            document = await _document(ctx, privileged=True)
    out = document_out(document, version)
    _announce(ctx, document, "document.updated", out.model_dump(mode="json"))
    log.info("document.version_added", document_id=document.id, version=version.number)
    return out


# ---- reading ------------------------------------------------------------------------------


@API.route(
    "GET",
    "/meetings/{meeting_id}/documents",
    action=Action.DOCUMENT_VIEW,
    response=list[DocumentOut],
    summary="The meeting's documents (drafts only for hosts and administrators)",
    tags=TAGS,
)
async def list_documents(ctx: RequestContext) -> list[DocumentOut]:
    """Each with its current version."""
    rows = await service.list_documents(ctx.session, _meeting(ctx).id or 0, await _privileged(ctx))
    return [document_out(document, version) for document, version in rows]


@API.route(
    "GET",
    "/meetings/{meeting_id}/documents/search",
    action=Action.DOCUMENT_VIEW,
    query=SearchQuery,
    response=list[SearchHitOut],
    summary="Full-text search in the meeting's documents (diacritics optional)",
    tags=TAGS,
)
async def search_documents(ctx: RequestContext) -> list:
    """Pages of current versions containing every word of ``q``, with a snippet."""
    q: SearchQuery = ctx.query
    return await service.search(
        ctx.session, _meeting(ctx).id or 0, await _privileged(ctx), q.q, q.limit
    )


@API.route(
    "GET",
    "/meetings/{meeting_id}/documents/{document_id}",
    action=Action.DOCUMENT_VIEW,
    response=DocumentDetailOut,
    summary="One document with all its versions",
    tags=TAGS,
)
async def get_document(ctx: RequestContext) -> DocumentDetailOut:
    """A draft is 404 for those who may not see it."""
    document = await _document(ctx, await _privileged(ctx))
    versions = await service.list_versions(ctx.session, document)
    current = next(v for v in versions if v.number == document.current_version)
    out = document_out(document, current)
    return DocumentDetailOut(
        **out.model_dump(), versions=[VersionOut.model_validate(v) for v in versions]
    )


@API.route(
    "PATCH",
    "/meetings/{meeting_id}/documents/{document_id}",
    action=Action.DOCUMENT_MANAGE,
    body=DocumentPatch,
    response=DocumentOut,
    summary="Change the title, confidentiality or agenda item",
    tags=TAGS,
)
async def update_document(ctx: RequestContext) -> DocumentOut:
    """Published documents announce ``document.updated``."""
    b: DocumentPatch = ctx.body
    document = await _document(ctx, privileged=True)
    changes: dict[str, Any] = {"title": b.title, "confidential": b.confidential}
    if "agenda_item_id" in b.model_fields_set:
        changes["agenda_item_id"] = b.agenda_item_id
    document = await service.update_document(ctx.session, ctx.actor, document, **changes)
    out = document_out(document, await service.get_version(ctx.session, document))
    _announce(ctx, document, "document.updated", out.model_dump(mode="json"))
    return out


@API.route(
    "POST",
    "/meetings/{meeting_id}/documents/{document_id}/publish",
    action=Action.DOCUMENT_MANAGE,
    body=PublishIn,
    response=DocumentOut,
    summary="Publish to the invitees now, or at publish_at",
    tags=TAGS,
)
async def publish_document(ctx: RequestContext) -> DocumentOut:
    """Now: ``document.published`` to the room after commit; later: the background task does."""
    b: PublishIn = ctx.body
    document = await _document(ctx, privileged=True)
    document = await service.publish(ctx.session, ctx.actor, document, b.publish_at)
    out = document_out(document, await service.get_version(ctx.session, document))
    _announce(ctx, document, "document.published", out.model_dump(mode="json"))
    log.info("document.publish", document_id=document.id, state=document.state)
    return out


@API.route(
    "DELETE",
    "/meetings/{meeting_id}/documents/{document_id}/publish",
    action=Action.DOCUMENT_MANAGE,
    response=DocumentOut,
    summary="Cancel a scheduled publication (back to draft)",
    tags=TAGS,
)
async def cancel_publication(ctx: RequestContext) -> DocumentOut:
    """Only a scheduled document can be taken back; a published one stays published."""
    document = await _document(ctx, privileged=True)
    document = await service.cancel_schedule(ctx.session, ctx.actor, document)
    return document_out(document, await service.get_version(ctx.session, document))


# ---- downloads ----------------------------------------------------------------------------


async def _serve(ctx: RequestContext, number: int | None) -> web.FileResponse:
    """The file, recorded as opened; a confidential one as the caller's stamped copy."""
    privileged = await _privileged(ctx)
    document = await _document(ctx, privileged)
    version = await service.get_version(ctx.session, document, number)
    store = _store(ctx)
    if document.confidential and not privileged:
        copy = await service.confidential_copy(
            ctx.session,
            ctx.actor,
            document,
            version,
            store,
            ctx.state.settings.document_stamp_font or DEFAULT_REGULAR,
        )
        path = store.path(copy.sha256)
    else:
        path = store.path(version.sha256)
    if not path.is_file():
        log.error("document.file_missing", document_id=document.id, sha256=version.sha256)
        raise ApiError(500, "file_missing", "the document's file is missing from the store")
    await service.record_open(ctx.session, ctx.actor, document, version)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": content_disposition(version.filename),
            # Revalidate with the ETag each time: a confidential copy is personal.
            "Cache-Control": "private, no-cache",
            "X-Document-Version": str(version.number),
        },
    )


@API.route(
    "GET",
    "/meetings/{meeting_id}/documents/{document_id}/file",
    action=Action.DOCUMENT_VIEW,
    summary="Download the current version (Range and ETag supported)",
    produces=file_response(
        "application/pdf",
        "The current version's PDF; a confidential one stamped with the caller's name"
        " unless the caller manages the documents",
        {
            "Content-Disposition": "`inline` with the uploaded file name",
            "X-Document-Version": "The version number served",
        },
    ),
    tags=TAGS,
)
async def download_document(ctx: RequestContext) -> web.FileResponse:
    """Records a read receipt; confidential documents come stamped for non-hosts."""
    return await _serve(ctx, None)


@API.route(
    "GET",
    "/meetings/{meeting_id}/documents/{document_id}/versions/{version}/file",
    action=Action.DOCUMENT_VIEW,
    summary="Download one version (Range and ETag supported)",
    produces=file_response(
        "application/pdf",
        "That version's PDF; a confidential one stamped with the caller's name"
        " unless the caller manages the documents",
        {
            "Content-Disposition": "`inline` with the uploaded file name",
            "X-Document-Version": "The version number served",
        },
    ),
    tags=TAGS,
)
async def download_document_version(ctx: RequestContext) -> web.FileResponse:
    """As the current-version download, for an earlier version."""
    return await _serve(ctx, ctx.params["version"])


@API.route(
    "GET",
    "/meetings/{meeting_id}/documents/{document_id}/receipts",
    action=Action.DOCUMENT_MANAGE,
    response=ReceiptsOut,
    summary="Who opened which version, and which invitees have not opened the current one",
    tags=TAGS,
)
async def document_receipts(ctx: RequestContext) -> object:
    """Invitees are expanded through invited units (accounts and endpoints)."""
    document = await _document(ctx, privileged=True)
    return await service.receipts(ctx.session, document)


# ---- comments -----------------------------------------------------------------------------


def _comment_out(comment: object, version: int) -> CommentOut:
    fields = {name: getattr(comment, name) for name in CommentOut.model_fields if name != "version"}
    return CommentOut(**fields, version=version)


@API.route(
    "GET",
    "/meetings/{meeting_id}/documents/{document_id}/comments",
    action=Action.DOCUMENT_VIEW,
    response=list[CommentOut],
    summary="Comments on a document, oldest first",
    tags=TAGS,
)
async def list_document_comments(ctx: RequestContext) -> list[CommentOut]:
    """Everyone who sees the document sees its comments."""
    document = await _document(ctx, await _privileged(ctx))
    rows = await service.list_comments(ctx.session, document)
    return [_comment_out(comment, number) for comment, number in rows]


@API.route(
    "POST",
    "/meetings/{meeting_id}/documents/{document_id}/comments",
    action=Action.DOCUMENT_COMMENT,
    body=CommentIn,
    response=CommentOut,
    status=201,
    summary="Comment on one page of a document",
    tags=TAGS,
)
async def add_document_comment(ctx: RequestContext) -> CommentOut:
    """Announced to the room as ``document.commented`` (published documents)."""
    b: CommentIn = ctx.body
    document = await _document(ctx, await _privileged(ctx))
    comment = await service.add_comment(ctx.session, ctx.actor, document, b.page, b.body, b.version)
    version = b.version or document.current_version
    out = _comment_out(comment, version)
    _announce(ctx, document, "document.commented", out.model_dump(mode="json"))
    return out
