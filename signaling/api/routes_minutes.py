"""Minutes (biên bản): the pre-filled draft, edits, submission, approval (PDF, SHA-256, PAdES
signature), the PDF itself, its verification and the meeting's archive bundle."""

import base64
from pathlib import Path
from typing import Any

from aiohttp import web

from meetings.clock import utcnow
from meetings.documents.storage import BlobStore
from meetings.errors import DomainError
from meetings.minutes import archive, service
from meetings.minutes.models import Minutes
from meetings.minutes.render import FontSet, RenderUnavailable
from meetings.minutes.signing import SigningUnavailable, load_signer
from meetings.minutes.store import MinutesStore
from meetings.models import Meeting
from meetings.permissions import Action
from signaling.api.content import Produces, file_response
from signaling.api.registry import RequestContext
from signaling.api.schemas_minutes import (
    MinutesDraftIn,
    MinutesOut,
    MinutesVersionIn,
    SignatureOut,
    VerifyOut,
)
from signaling.api.table import API
from signaling.errors import ApiError
from signaling.fonts import DEFAULT_BOLD, DEFAULT_REGULAR
from signaling.logs import get_logger
from signaling.settings import Settings

log = get_logger("phonghop.minutes")
TAGS = ("minutes",)
CONFIG_KEY = "minutes_config"  # the MinutesConfig in AppState.extras, made on first use


def fonts_of(settings: Settings) -> FontSet:
    """The configured fonts, or DejaVu Sans from the web client's npm packages."""
    if settings.minutes_font is not None:
        return FontSet(settings.minutes_font, settings.minutes_font_bold)
    return FontSet(DEFAULT_REGULAR, DEFAULT_BOLD)


def setup_problems(settings: Settings) -> list[DomainError]:
    """What stops minutes from being approved on this server (empty when all is well).

    Logged in full at startup; ``/healthz`` (public) reports only the codes, not the paths.
    """
    problems: list[DomainError] = []
    try:
        fonts_of(settings).check()
    except RenderUnavailable as exc:
        problems.append(exc)
    if settings.minutes_signing_p12 is not None:
        try:
            load_signer(settings.minutes_signing_p12, settings.minutes_signing_passphrase)
        except SigningUnavailable as exc:
            problems.append(exc)
    return problems


def _config(ctx: RequestContext) -> service.MinutesConfig:
    """Made once per application; an unusable font or certificate is a 503, never cached."""
    cached = ctx.state.extras.get(CONFIG_KEY)
    if cached is not None:
        return cached
    settings: Settings = ctx.state.settings
    try:
        signer = (
            load_signer(settings.minutes_signing_p12, settings.minutes_signing_passphrase)
            if settings.minutes_signing_p12 is not None
            else None
        )
    except SigningUnavailable as exc:
        raise ApiError(503, exc.code, exc.message) from exc
    config = service.MinutesConfig(
        store=MinutesStore(settings.data_dir / "minutes"),
        fonts=fonts_of(settings),
        signer=signer,
        location=settings.minutes_location,
    )
    ctx.state.extras[CONFIG_KEY] = config
    return config


def _meeting(ctx: RequestContext) -> Meeting:
    assert ctx.meeting is not None  # the registry loads it for meeting-scoped actions
    return ctx.meeting


def _announce(ctx: RequestContext, minutes: Minutes) -> None:
    """``minutes.changed`` to the meeting's room once committed (no content: drafts are private)."""
    data = {
        "meeting_id": minutes.meeting_id,
        "state": minutes.state,
        "version": minutes.version,
        "pdf_sha256": minutes.pdf_sha256,
        "signed": minutes.signed,
    }
    ctx.after_commit.append(
        lambda: ctx.state.signaling.meeting_event(minutes.meeting_id, "minutes.changed", data)
    )


@API.route(
    "GET",
    "/meetings/{meeting_id}/minutes",
    action=Action.MINUTES_EDIT,
    response=MinutesOut,
    summary="The minutes, or a draft pre-filled from the meeting (version 0) before the first save",
    tags=TAGS,
)
async def get_minutes(ctx: RequestContext) -> object:
    """Chair and secretary; nothing is stored by reading."""
    return await service.current(ctx.session, _meeting(ctx))


@API.route(
    "PUT",
    "/meetings/{meeting_id}/minutes",
    action=Action.MINUTES_EDIT,
    body=MinutesDraftIn,
    response=MinutesOut,
    summary="Save the draft (optimistic concurrency: name the version it was based on)",
    tags=TAGS,
)
async def save_minutes(ctx: RequestContext) -> object:
    """409 if someone saved in between (reload) or the minutes are approved (immutable)."""
    b: MinutesDraftIn = ctx.body
    minutes = await service.save_draft(
        ctx.session,
        ctx.actor,
        _meeting(ctx),
        version=b.version,
        sections=b.sections,
        free_text=b.free_text,
    )
    _announce(ctx, minutes)
    log.info("minutes.saved", meeting_id=minutes.meeting_id, version=minutes.version)
    return service.view_of(minutes)


@API.route(
    "POST",
    "/meetings/{meeting_id}/minutes/submit",
    action=Action.MINUTES_EDIT,
    body=MinutesVersionIn,
    response=MinutesOut,
    summary="Submit the draft to the chair for approval",
    tags=TAGS,
)
async def submit_minutes(ctx: RequestContext) -> object:
    """draft → submitted."""
    minutes = await service.submit(ctx.session, ctx.actor, _meeting(ctx), version=ctx.body.version)
    _announce(ctx, minutes)
    log.info("minutes.submitted", meeting_id=minutes.meeting_id, version=minutes.version)
    return service.view_of(minutes)


@API.route(
    "POST",
    "/meetings/{meeting_id}/minutes/approve",
    action=Action.MINUTES_APPROVE,
    body=MinutesVersionIn,
    response=MinutesOut,
    summary="Approve the submitted minutes (chair): PDF, SHA-256, signature; immutable after",
    tags=TAGS,
)
async def approve_minutes(ctx: RequestContext) -> object:
    """submitted → approved; 503 when the PDF font or the signing certificate is unusable."""
    config = _config(ctx)
    try:
        minutes = await service.approve(
            ctx.session, ctx.actor, _meeting(ctx), version=ctx.body.version, config=config
        )
    except (RenderUnavailable, SigningUnavailable) as exc:
        raise ApiError(503, exc.code, exc.message) from exc
    _announce(ctx, minutes)
    log.info(
        "minutes.approved",
        meeting_id=minutes.meeting_id,
        sha256=minutes.pdf_sha256,
        signed=minutes.signed,
    )
    return service.view_of(minutes)


@API.route(
    "GET",
    "/meetings/{meeting_id}/minutes/pdf",
    action=Action.MINUTES_READ,
    summary="The approved minutes PDF (Range and ETag supported)",
    produces=file_response(
        "application/pdf",
        "The approved minutes, as rendered (and signed) at approval",
        {
            "Content-Disposition": '`inline; filename="bien-ban-hop-{meeting_id}.pdf"`',
            "Repr-Digest": "SHA-256 of the whole file (RFC 9530), as recorded at approval",
        },
    ),
    tags=TAGS,
)
async def minutes_pdf(ctx: RequestContext) -> web.FileResponse:
    """Members and administrators; 409 before approval."""
    minutes = await service.approved(ctx.session, _meeting(ctx))
    path: Path = service.pdf_path(minutes, _config(ctx))
    digest = base64.b64encode(bytes.fromhex(minutes.pdf_sha256 or "")).decode()
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="bien-ban-hop-{minutes.meeting_id}.pdf"',
            "Repr-Digest": f"sha-256=:{digest}:",  # RFC 9530
        },
    )


@API.route(
    "GET",
    "/meetings/{meeting_id}/minutes/verify",
    action=Action.MINUTES_READ,
    response=VerifyOut,
    summary="Check the stored PDF against its SHA-256 and validate its signature",
    tags=TAGS,
)
async def verify_minutes(ctx: RequestContext) -> dict[str, Any]:
    """Trust is anchored on the configured certificate's chain; 409 before approval."""
    result = await service.verify(ctx.session, _meeting(ctx), _config(ctx))
    return VerifyOut(
        sha256=result.sha256,
        file_present=result.file_present,
        file_sha256=result.file_sha256,
        hash_matches=result.hash_matches,
        signed=result.signed,
        signatures=[
            SignatureOut(
                intact=s.intact,
                valid=s.valid,
                trusted=s.trusted,
                covers_whole_file=s.covers_whole_file,
                signer=s.signer,
                signing_time=s.signing_time,
                summary=s.summary,
                ok=s.ok,
            )
            for s in result.signatures
        ],
        error=result.error,
        ok=result.ok,
    ).model_dump(mode="json")


@API.route(
    "GET",
    "/meetings/{meeting_id}/archive.zip",
    action=Action.MINUTES_ARCHIVE,
    summary="The meeting's archive (ZIP, streamed): minutes, documents, poll results, manifest",
    produces=Produces(
        "application/zip",
        "The archive, streamed as it is built (no Content-Length)",
        {"Content-Disposition": '`attachment; filename="luu-tru-hop-{meeting_id}.zip"`'},
    ),
    tags=TAGS,
)
async def archive_zip(ctx: RequestContext) -> web.StreamResponse:
    """Hosts and administrators, once the minutes are approved (409 before)."""
    meeting = _meeting(ctx)
    files = await archive.entries(
        ctx.session, meeting, _config(ctx), BlobStore(ctx.state.settings.data_dir / "documents")
    )
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="luu-tru-hop-{meeting.id}.zip"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
    )

    async def send() -> None:
        # After the commit: a long download must not hold a database connection.
        await response.prepare(ctx.request)
        sent = 0
        try:
            async for chunk in archive.stream(files, meeting.id or 0, utcnow()):
                await response.write(chunk)
                sent += len(chunk)
        except ConnectionResetError as exc:
            # The client went away (a commune link dropped): nobody is left to answer.
            log.warning(
                "minutes.archive_aborted", meeting_id=meeting.id, sent=sent, reason=str(exc)
            )
            return
        await response.write_eof()
        log.info("minutes.archive_sent", meeting_id=meeting.id, bytes=sent, files=len(files))

    ctx.after_commit.append(send)
    return response
