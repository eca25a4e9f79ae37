"""A meeting's archive bundle (ZIP), streamed: the approved minutes PDF, every published
document version, the poll results as CSV and JSON, and a manifest with the SHA-256 of every
file (also as ``SHA256SUMS``, for ``sha256sum -c``). The meeting's recordings are listed in
the manifest with their hashes but not put in the bundle: a briefing's video weighs gigabytes.

The ZIP is written by the standard library's ``zipfile`` into an unseekable sink (so it uses
data descriptors) and handed out chunk by chunk as it is made: memory stays at about one read
chunk whatever the documents weigh, and files are read off the event loop.
"""

import asyncio
import csv
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import recordings
from meetings.documents.storage import BlobStore
from meetings.errors import Conflict
from meetings.minutes import service
from meetings.minutes.prefill import agenda_numbers, load_record
from meetings.minutes.render import VIETNAM
from meetings.models import Meeting
from meetings.recording_models import Recording, RecordingState

READ_CHUNK = 1 << 20  # 1 MiB per read from disk
FLUSH_AT = 256 * 1024  # hand out what the ZIP writer produced once it is this big


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the bundle: bytes made here, or a stored file read while streaming."""

    name: str
    data: bytes | None = None
    path: Path | None = None
    compress: bool = False  # PDFs are compressed already; JSON and CSV are not


@dataclass(frozen=True, slots=True)
class Listed:
    """A file the manifest names with its hash, kept out of the bundle (a recording)."""

    section: str  # the manifest's key, e.g. "recordings"
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ManifestLine:
    """A file that went into the bundle."""

    name: str
    sha256: str
    size: int


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name part from a title: letters and digits kept (Vietnamese too), others ``-``."""
    text = unicodedata.normalize("NFC", text)
    cleaned = re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-._")
    return cleaned[:limit].rstrip("-._") or "tai-lieu"


def _poll_results(record: Any) -> tuple[bytes, bytes]:
    """(CSV, JSON) of every closed poll: one CSV line per option."""
    numbers = agenda_numbers(record.agenda)
    items = {item.id: item for item in record.agenda}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "poll_id",
            "poll",
            "agenda_item",
            "kind",
            "secret",
            "majority",
            "outcome",
            "decided_by",
            "option",
            "votes",
            "ballots",
            "eligible",
            "members",
            "quorum_met",
            "closed_at",
        ]
    )
    polls = []
    for poll, options in record.polls:
        item = items.get(poll.agenda_item_id)
        label = f"{numbers.get(item.id, '')}. {item.title}" if item is not None else ""
        result = json.loads(poll.result_json) if poll.result_json else None
        for option in options:
            writer.writerow(
                [
                    poll.id,
                    poll.title,
                    label,
                    poll.kind,
                    poll.secret,
                    poll.majority,
                    poll.outcome or "",
                    poll.decided_by,
                    option.label,
                    option.votes,
                    poll.ballot_count,
                    poll.present_count,
                    poll.members_count,
                    poll.quorum_met,
                    poll.closed_at.isoformat() if poll.closed_at else "",
                ]
            )
        polls.append(
            {
                "id": poll.id,
                "title": poll.title,
                "agenda_item": label,
                "kind": poll.kind,
                "secret": poll.secret,
                "majority": poll.majority,
                "outcome": poll.outcome,
                "decided_by": poll.decided_by,
                "closed_at": poll.closed_at.isoformat() if poll.closed_at else None,
                "options": [{"label": o.label, "votes": o.votes} for o in options],
                "result": result,
            }
        )
    # UTF-8 with a BOM: spreadsheet programs then read the Vietnamese letters correctly.
    csv_bytes = out.getvalue().encode("utf-8-sig")
    json_bytes = json.dumps({"polls": polls}, ensure_ascii=False, indent=2).encode("utf-8")
    return csv_bytes, json_bytes


async def entries(
    session: AsyncSession,
    meeting: Meeting,
    config: service.MinutesConfig,
    documents: BlobStore | None,
) -> list[Entry | Listed]:
    """What goes into the bundle (and what its manifest only lists); ``Conflict`` unless the
    minutes are approved and on disk."""
    minutes = await service.approved(session, meeting)
    pdf = service.pdf_path(minutes, config)
    record = await load_record(session, meeting.id or 0)
    view = service.view_of(minutes)
    found: list[Entry] = [
        Entry(f"bien-ban/bien-ban-hop-{meeting.id}.pdf", path=pdf),
        Entry(
            f"bien-ban/bien-ban-hop-{meeting.id}.json",
            data=json.dumps(
                {
                    "meeting_id": meeting.id,
                    "state": view.state,
                    "version": view.version,
                    "approved_at": view.approved_at.isoformat() if view.approved_at else None,
                    "approved_by": view.approved_by,
                    "pdf_sha256": view.pdf_sha256,
                    "signed": view.signed,
                    "sections": view.sections.model_dump(mode="json"),
                    "free_text": view.free_text,
                },
                ensure_ascii=False,
                indent=2,
            ).encode("utf-8"),
            compress=True,
        ),
    ]
    for document, version in record.documents:
        if documents is None:
            raise Conflict("the documents store is not configured")
        path = documents.path(version.sha256)
        if not path.is_file():
            raise Conflict(
                "a published document's file is missing from the store", sha256=version.sha256
            )
        name = f"tai-lieu/{document.id}-{safe_name(document.title)}/v{version.number}.pdf"
        found.append(Entry(name, path=path))
    csv_bytes, json_bytes = _poll_results(record)
    found.append(Entry("bieu-quyet/ket-qua.csv", data=csv_bytes, compress=True))
    found.append(Entry("bieu-quyet/ket-qua.json", data=json_bytes, compress=True))
    return [*found, *await _recordings(session, meeting.id or 0)]


async def _recordings(session: AsyncSession, meeting_id: int) -> list[Listed]:
    """The meeting's finished recordings (deleted ones are gone), oldest first."""
    finished = (RecordingState.READY.value, RecordingState.INTERRUPTED.value)
    query = (
        select(Recording)
        .where(Recording.meeting_id == meeting_id, col(Recording.state).in_(finished))
        .order_by(col(Recording.started_at), col(Recording.id))
    )
    return [
        Listed(
            "recordings",
            {
                "id": r.id,
                "file_name": r.file_name,
                "media_type": r.media_type,
                "state": r.state,
                "started_at": r.started_at.isoformat(),
                "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                "duration_s": r.duration_s,
                "size": r.size,
                "sha256": r.sha256,
                "tracks": [
                    {
                        "file_name": f"{recordings.tracks_dir_name(r.file_name)}/{t['name']}",
                        **{k: t[k] for k in ("participant", "source", "size", "sha256")},
                    }
                    for t in recordings.saved_tracks(r)
                ],
            },
        )
        for r in (await session.exec(query)).all()
    ]


class _Sink(io.RawIOBase):
    """An unseekable, in-memory write target that is emptied as the ZIP is streamed."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self.pending = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self.pending += len(chunk)
        return len(chunk)

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.pending = 0
        return data


def _zip_time(when: datetime) -> tuple[int, int, int, int, int, int]:
    local = when.astimezone(VIETNAM)
    return (local.year, local.month, local.day, local.hour, local.minute, local.second)


async def stream(
    files: Sequence[Entry | Listed], meeting_id: int, now: datetime, read_chunk: int = READ_CHUNK
) -> AsyncIterator[bytes]:
    """The ZIP, chunk by chunk; the manifest (and ``SHA256SUMS``) come last.

    ``Listed`` files go to their section of the manifest only (not to ``SHA256SUMS``, whose
    every line ``sha256sum -c`` expects to find in the bundle).
    """
    sink = _Sink()
    lines: list[ManifestLine] = []
    listed: dict[str, list[dict[str, Any]]] = {"recordings": []}
    stamp = _zip_time(now)
    with zipfile.ZipFile(sink, "w", allowZip64=True) as bundle:
        for entry in files:
            if isinstance(entry, Listed):
                listed.setdefault(entry.section, []).append(entry.details)
                continue
            info = zipfile.ZipInfo(entry.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED if entry.compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            digest = hashlib.sha256()
            size = 0
            large = entry.path is not None and entry.path.stat().st_size > zipfile.ZIP64_LIMIT
            with bundle.open(info, "w", force_zip64=large) as dest:
                if entry.data is not None:
                    digest.update(entry.data)
                    dest.write(entry.data)
                    size = len(entry.data)
                else:
                    assert entry.path is not None
                    with entry.path.open("rb") as source:
                        while chunk := await asyncio.to_thread(source.read, read_chunk):
                            digest.update(chunk)
                            dest.write(chunk)
                            size += len(chunk)
                            if sink.pending >= FLUSH_AT:
                                yield sink.drain()
            lines.append(ManifestLine(entry.name, digest.hexdigest(), size))
            if sink.pending:
                yield sink.drain()
        manifest = {
            "meeting_id": meeting_id,
            "generated_at": now.isoformat(),
            "files": [{"name": x.name, "sha256": x.sha256, "size": x.size} for x in lines],
            **listed,
        }
        for name, data in (
            ("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode()),
            ("SHA256SUMS", "".join(f"{x.sha256}  {x.name}\n" for x in lines).encode()),
        ):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            bundle.writestr(info, data)
    yield sink.drain()
