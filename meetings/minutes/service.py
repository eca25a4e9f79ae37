"""The minutes' life cycle: a pre-filled draft, edits, submission, approval (PDF, hash, signature),
and verification of what was approved.

Plain async functions over an ``AsyncSession``, like the rest of the domain: permissions are
checked by the caller (``meetings.permissions``), the rules of the minutes themselves here.
Every change is audited as the last step before the caller commits.
"""

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit
from meetings.actor import Actor
from meetings.agenda import lock_meeting
from meetings.clock import utcnow
from meetings.errors import Conflict
from meetings.minutes import render, signing
from meetings.minutes.content import MinutesContent, normalise_free_text
from meetings.minutes.models import Minutes, MinutesLocked, MinutesState
from meetings.minutes.prefill import prefill
from meetings.minutes.store import MinutesStore, sha256_file
from meetings.models import Meeting

OBJECT = "minutes"


@dataclass(frozen=True)
class MinutesConfig:
    """What approval and verification need from the installation."""

    store: MinutesStore
    fonts: render.FontSet
    signer: signing.MinutesSigner | None = None
    location: str = ""  # printed in the signature ("Quảng Ninh")


@dataclass
class MinutesView:
    """The minutes as an editor sees them; ``version`` 0 is a pre-filled draft not yet saved."""

    meeting_id: int
    state: str
    version: int
    sections: MinutesContent
    free_text: str
    updated_at: datetime | None = None
    updated_by: str | None = None
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    approved_at: datetime | None = None
    approved_by: str | None = None
    pdf_sha256: str | None = None
    pdf_size: int | None = None
    signed: bool = False
    signer_subject: str | None = None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def snapshot(minutes: Minutes) -> dict[str, Any]:
    """What the audit log and the ``minutes.changed`` event say about the minutes."""
    return {
        "meeting_id": minutes.meeting_id,
        "state": minutes.state,
        "version": minutes.version,
        "sections_sha256": _digest(minutes.sections_json),
        "free_text_sha256": _digest(minutes.free_text),
        "pdf_sha256": minutes.pdf_sha256,
        "signed": minutes.signed,
    }


def view_of(minutes: Minutes) -> MinutesView:
    """The stored minutes as a view."""
    return MinutesView(
        meeting_id=minutes.meeting_id,
        state=minutes.state,
        version=minutes.version,
        sections=MinutesContent.model_validate_json(minutes.sections_json),
        free_text=minutes.free_text,
        updated_at=minutes.updated_at,
        updated_by=minutes.updated_by,
        submitted_at=minutes.submitted_at,
        submitted_by=minutes.submitted_by,
        approved_at=minutes.approved_at,
        approved_by=minutes.approved_by,
        pdf_sha256=minutes.pdf_sha256,
        pdf_size=minutes.pdf_size,
        signed=minutes.signed,
        signer_subject=minutes.signer_subject,
    )


async def find(session: AsyncSession, meeting_id: int) -> Minutes | None:
    """The stored minutes of a meeting, if any were saved."""
    query = select(Minutes).where(Minutes.meeting_id == meeting_id)
    return (await session.exec(query)).first()


async def current(session: AsyncSession, meeting: Meeting) -> MinutesView:
    """The stored minutes, or (before the first save) a draft pre-filled from the meeting."""
    minutes = await find(session, meeting.id or 0)
    if minutes is not None:
        return view_of(minutes)
    return MinutesView(
        meeting_id=meeting.id or 0,
        state=MinutesState.DRAFT.value,
        version=0,
        sections=await prefill(session, meeting.id or 0),
        free_text="",
    )


def _check_version(minutes: Minutes, version: int) -> None:
    if minutes.version != version:
        raise Conflict(
            f"the minutes were changed since version {version}: reload them",
            current_version=minutes.version,
        )


def _check_not_approved(minutes: Minutes) -> None:
    if minutes.state == MinutesState.APPROVED.value:
        raise MinutesLocked("approved minutes cannot be changed", meeting_id=minutes.meeting_id)


async def _flush(session: AsyncSession, minutes: Minutes) -> None:
    """Write the change; a concurrent writer's lost race becomes a ``Conflict``."""
    session.add(minutes)
    try:
        await session.flush()
    except StaleDataError as exc:
        raise Conflict("the minutes were changed by someone else: reload them") from exc
    except IntegrityError as exc:  # two first saves of the same meeting's minutes
        raise Conflict("the minutes were created by someone else: reload them") from exc


async def save_draft(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    *,
    version: int,
    sections: MinutesContent,
    free_text: str,
) -> Minutes:
    """Save the editor's sections and free text, based on ``version`` (0: the first save).

    Editing submitted minutes takes them back to draft: the chair approves only what was
    submitted after the last change.
    """
    meeting_id = meeting.id or 0
    sections_json = sections.model_dump_json()
    text = normalise_free_text(free_text)
    minutes = await find(session, meeting_id)
    now = utcnow()
    if minutes is None:
        if version != 0:
            raise Conflict(
                f"the minutes were changed since version {version}: reload them",
                current_version=0,
            )
        minutes = Minutes(
            meeting_id=meeting_id,
            sections_json=sections_json,
            free_text=text,
            updated_by=actor.key,
            created_at=now,
            updated_at=now,
        )
        await _flush(session, minutes)
        await audit.append(
            session,
            actor,
            "minutes.created",
            OBJECT,
            minutes.id,
            meeting_id=meeting_id,
            after=snapshot(minutes),
        )
        return minutes
    _check_not_approved(minutes)
    _check_version(minutes, version)
    before = snapshot(minutes)
    if minutes.state == MinutesState.SUBMITTED.value:
        minutes.state = MinutesState.DRAFT.value
        minutes.submitted_at = None
        minutes.submitted_by = None
    minutes.sections_json = sections_json
    minutes.free_text = text
    minutes.updated_at = now
    minutes.updated_by = actor.key
    await _flush(session, minutes)
    await audit.append(
        session,
        actor,
        "minutes.edited",
        OBJECT,
        minutes.id,
        meeting_id=meeting_id,
        before=before,
        after=snapshot(minutes),
    )
    return minutes


async def _stored(session: AsyncSession, meeting: Meeting) -> Minutes:
    minutes = await find(session, meeting.id or 0)
    if minutes is None:
        raise Conflict("the minutes have not been saved yet", meeting_id=meeting.id)
    return minutes


async def submit(session: AsyncSession, actor: Actor, meeting: Meeting, *, version: int) -> Minutes:
    """draft → submitted, for the chair's approval of exactly this ``version``."""
    minutes = await _stored(session, meeting)
    _check_not_approved(minutes)
    _check_version(minutes, version)
    if minutes.state != MinutesState.DRAFT.value:
        raise Conflict(f"{minutes.state} minutes cannot be submitted", state=minutes.state)
    before = snapshot(minutes)
    minutes.state = MinutesState.SUBMITTED.value
    minutes.submitted_at = utcnow()
    minutes.submitted_by = actor.key
    await _flush(session, minutes)
    await audit.append(
        session,
        actor,
        "minutes.submitted",
        OBJECT,
        minutes.id,
        meeting_id=meeting.id,
        before=before,
        after=snapshot(minutes),
    )
    return minutes


def _make_pdf(
    config: MinutesConfig, content: MinutesContent, free_text: str, approval: render.Approval
) -> tuple[bytes, str]:
    """Render, sign if configured, store; returns the final bytes and their SHA-256."""
    pdf = render.render(content, free_text, approval, config.fonts)
    if config.signer is not None:
        pdf = signing.sign(
            pdf,
            config.signer,
            reason=f"Phê duyệt biên bản: {content.meeting.title}"[:300],
            location=config.location,
        )
    return pdf, config.store.put(pdf)


async def approve(
    session: AsyncSession, actor: Actor, meeting: Meeting, *, version: int, config: MinutesConfig
) -> Minutes:
    """submitted → approved: render the PDF, sign it if configured, store it by SHA-256.

    From then on the minutes are immutable. The file is on disk before the caller commits.
    """
    minutes = await _stored(session, meeting)
    _check_not_approved(minutes)
    _check_version(minutes, version)
    if minutes.state != MinutesState.SUBMITTED.value:
        raise Conflict("the minutes must be submitted before approval", state=minutes.state)
    config.fonts.check()
    content = MinutesContent.model_validate_json(minutes.sections_json)
    now = utcnow()
    approval = render.Approval(at=now, chair=actor.name, secretary=content.meeting.secretary)
    # fpdf2, pyHanko and the disk write are CPU/IO-bound: keep them off the event loop.
    pdf, digest = await asyncio.to_thread(_make_pdf, config, content, minutes.free_text, approval)
    # Serialised with conclusion changes (meetings.conclusions locks the meeting too): none
    # can commit between this approval and its commit. Taken after rendering, which is slow.
    await lock_meeting(session, meeting.id or 0)
    before = snapshot(minutes)
    minutes.state = MinutesState.APPROVED.value
    minutes.approved_at = now
    minutes.approved_by = actor.key
    minutes.pdf_sha256 = digest
    minutes.pdf_size = len(pdf)
    minutes.signed = config.signer is not None
    minutes.signer_subject = config.signer.subject[:500] if config.signer is not None else None
    await _flush(session, minutes)
    await audit.append(
        session,
        actor,
        "minutes.approved",
        OBJECT,
        minutes.id,
        meeting_id=meeting.id,
        before=before,
        after=snapshot(minutes),
    )
    return minutes


async def approved(session: AsyncSession, meeting: Meeting) -> Minutes:
    """The approved minutes, or ``Conflict`` while they are not."""
    minutes = await find(session, meeting.id or 0)
    if minutes is None or minutes.state != MinutesState.APPROVED.value:
        raise Conflict("the minutes have not been approved yet", meeting_id=meeting.id)
    return minutes


def pdf_path(minutes: Minutes, config: MinutesConfig) -> Path:
    """Where the approved PDF is stored; ``Conflict`` if the file has gone."""
    assert minutes.pdf_sha256 is not None
    path = config.store.path_for(minutes.pdf_sha256)
    if not path.is_file():
        raise Conflict("the stored minutes PDF is missing", sha256=minutes.pdf_sha256)
    return path


@dataclass(frozen=True)
class Verification:
    """The stored hash against the file, and every signature in it."""

    sha256: str
    file_present: bool
    file_sha256: str | None
    hash_matches: bool
    signed: bool
    signatures: list[signing.SignatureReport]
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The file is the one approved and every signature it should carry checks out."""
        if not self.hash_matches:
            return False
        if self.signed:
            return bool(self.signatures) and all(s.ok for s in self.signatures)
        return True


def _verify_file(path: Path, sha256: str, signed: bool, config: MinutesConfig) -> Verification:
    if not path.is_file():
        return Verification(sha256, False, None, False, signed, [], "the stored file is missing")
    actual = sha256_file(path)
    roots = config.signer.trust_roots if config.signer is not None else ()
    try:
        reports = signing.verify(path.read_bytes(), roots)
        error = None
    except ValueError as exc:
        reports, error = [], str(exc)
    return Verification(sha256, True, actual, actual == sha256, signed, reports, error)


async def verify(session: AsyncSession, meeting: Meeting, config: MinutesConfig) -> Verification:
    """Re-hash the stored PDF and validate its signatures (trusting the configured chain)."""
    minutes = await approved(session, meeting)
    assert minutes.pdf_sha256 is not None
    path = config.store.path_for(minutes.pdf_sha256)
    return await asyncio.to_thread(_verify_file, path, minutes.pdf_sha256, minutes.signed, config)
