"""Recordings of a meeting: start, stop, failure, who may watch, retention, and the timeline.

Plain async functions over an ``AsyncSession``. Unlike the other services these own their
unit of work: each writer commits before it returns (the recorder acts on a committed row,
and crash recovery runs outside any request), and on a refusal it rolls back, so nothing of
a refused call is left in the session. Every change is appended to the meeting's audit chain
as the last step before the commit.

The services touch no file: ``begin`` names the file the recorder writes, ``delete`` returns
the name for the caller to remove (``remove_file``) once the row is committed as deleted, so
a failed commit never loses the file of a recording that still exists.

There are no recording actions in the permission table yet: starting and stopping follow
``meeting.start`` (the meeting's chair), watching follows ``meeting.view`` (members and
administrators), deleting is for administrators (or the system's retention).
"""

import json
import math
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import access, audit
from meetings.actor import Actor
from meetings.agenda import ensure_live, lock_meeting
from meetings.clock import as_utc, utcnow
from meetings.errors import Conflict, Forbidden, InvalidInput, NotFound
from meetings.minutes.prefill import agenda_numbers
from meetings.models import AgendaItem
from meetings.permissions import Action
from meetings.proceedings_models import SpeakerRequest
from meetings.recording_models import Recording, RecordingState
from meetings.voting.models import Poll

CONTROL_ACTION = Action.MEETING_START  # start and stop: whoever may run the meeting
VIEW_ACTION = Action.MEETING_VIEW  # list, watch, download: members and administrators
CONTAINERS = frozenset({"webm", "mp4"})
REASON_ADMIN = "admin"
REASON_RETENTION = "retention"
# What a finished recording can end as, and what the retention may delete.
FINISHED_STATES = frozenset({RecordingState.READY.value, RecordingState.INTERRUPTED.value})
_DELETABLE = FINISHED_STATES | {RecordingState.FAILED.value}
# "video/webm", also with parameters ("video/webm; codecs=vp8,opus"); the column holds 100.
_MEDIA_TYPE = re.compile(r"(audio|video)/[a-z0-9.+-]+(;[ -~]*)?")
_MEDIA_TYPE_MAX = 100
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TRACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,100}\.(webm|mp4)")
RECORDINGS_DIR = "recordings"
TRACKS_SUFFIX = "-tracks"


# ---- files --------------------------------------------------------------------------------


def file_name_for(meeting_id: int, recording_id: int, container: str) -> str:
    """The file's name relative to the data dir: ``recordings/meeting-3/5.webm``."""
    return f"{RECORDINGS_DIR}/meeting-{meeting_id}/{recording_id}.{container}"


def recording_path(data_dir: Path, file_name: str) -> Path:
    """The absolute path of a recording's file; ``ValueError`` for a name outside the
    recordings directory (a row is data: it must not point the server at another file)."""
    root = (data_dir / RECORDINGS_DIR).resolve()
    path = (data_dir / file_name).resolve()
    if not path.is_relative_to(root) or path == root:
        raise ValueError(f"not a recording file name: {file_name!r}")
    return path


def tracks_dir_name(file_name: str) -> str:
    """Where a recording's per-producer track files go: ``recordings/meeting-3/5-tracks``."""
    return f"{file_name.rsplit('.', 1)[0]}{TRACKS_SUFFIX}"


def track_path(data_dir: Path, file_name: str, track_name: str) -> Path:
    """The absolute path of one of a recording's track files (``ValueError`` for a bad name)."""
    if not _TRACK_NAME.fullmatch(track_name):
        raise ValueError(f"not a track file name: {track_name!r}")
    return recording_path(data_dir, f"{tracks_dir_name(file_name)}/{track_name}")


def remove_file(data_dir: Path, file_name: str) -> bool:
    """Delete a recording's file and its track files (blocking: call it in a thread); False if
    the file was not there."""
    path = recording_path(data_dir, file_name)
    shutil.rmtree(recording_path(data_dir, tracks_dir_name(file_name)), ignore_errors=True)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


# ---- reading ------------------------------------------------------------------------------


def snapshot(recording: Recording) -> dict[str, Any]:
    """What the audit log records of a recording (the timeline is left out: it is derived)."""
    return {
        **recording.model_dump(mode="json", exclude={"timeline_json", "tracks_json"}),
        "tracks": saved_tracks(recording),
    }


def saved_tracks(recording: Recording) -> list[dict[str, Any]]:
    """The per-producer track files of a finished recording (empty if none were written)."""
    return json.loads(recording.tracks_json) if recording.tracks_json else []


def _checked_tracks(tracks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Track entries as stored: known fields only, names that cannot leave the directory."""
    out = []
    for track in tracks:
        name, sha256 = str(track.get("name", "")), str(track.get("sha256", ""))
        if not _TRACK_NAME.fullmatch(name) or not _SHA256.fullmatch(sha256):
            raise InvalidInput("a track file needs a plain name and a SHA-256", name=name)
        size, duration = int(track.get("size", -1)), float(track.get("duration_s", -1))
        if size < 0 or not math.isfinite(duration) or duration < 0:
            raise InvalidInput("a track's size and duration must be non-negative", name=name)
        offset = track.get("offset_s")
        out.append(
            {
                "name": name,
                "participant": track.get("participant"),
                "source": track.get("source"),
                "kind": track.get("kind"),
                "offset_s": None if offset is None else round(float(offset), 3),
                "size": size,
                "duration_s": round(duration, 3),
                "sha256": sha256,
            }
        )
    return sorted(out, key=lambda t: (t["offset_s"] is None, t["offset_s"] or 0, t["name"]))


def saved_timeline(recording: Recording) -> list[dict[str, Any]] | None:
    """The timeline stored when the recording finished (None before)."""
    return json.loads(recording.timeline_json) if recording.timeline_json else None


async def active(session: AsyncSession, meeting_id: int) -> Recording | None:
    """The meeting's recording in progress, if any."""
    query = select(Recording).where(
        Recording.meeting_id == meeting_id, Recording.state == RecordingState.RECORDING.value
    )
    return (await session.exec(query.execution_options(populate_existing=True))).first()


async def unfinished(session: AsyncSession) -> list[Recording]:
    """Every recording still marked as in progress: what a restart must recover."""
    query = select(Recording).where(Recording.state == RecordingState.RECORDING.value)
    return list((await session.exec(query.order_by(col(Recording.id)))).all())


async def list_for_meeting(
    session: AsyncSession, meeting_id: int, viewer: Actor
) -> list[Recording]:
    """The meeting's recordings, oldest first, deleted ones left out.

    ``NotFound`` for a missing meeting, ``Forbidden`` for someone who is neither a member
    nor an administrator (as every meeting-scoped route answers).
    """
    await access.check(session, viewer, VIEW_ACTION, meeting_id)
    query = (
        select(Recording)
        .where(Recording.meeting_id == meeting_id, Recording.state != RecordingState.DELETED.value)
        .order_by(col(Recording.started_at), col(Recording.id))
    )
    return list((await session.exec(query)).all())


async def get_for_viewer(
    session: AsyncSession, recording_id: int, viewer: Actor, meeting_id: int | None = None
) -> Recording:
    """One recording the viewer may watch.

    With ``meeting_id`` (a route under ``/meetings/{id}``) the meeting is checked first, as
    everywhere, and a recording of another meeting is ``NotFound``. A deleted recording is
    ``NotFound``; an existing one the viewer may not watch is ``Forbidden``.
    """
    if meeting_id is not None:
        await access.check(session, viewer, VIEW_ACTION, meeting_id)
    recording = await _get(session, recording_id)
    if meeting_id is not None and recording.meeting_id != meeting_id:
        raise NotFound("recording not found", recording_id=recording_id)
    if meeting_id is None:
        await access.check(session, viewer, VIEW_ACTION, recording.meeting_id)
    return recording


async def expired(session: AsyncSession, now: datetime, retention_days: int) -> list[Recording]:
    """Finished (or failed) recordings older than the retention; none when it is 0 (forever).

    Age counts from the end of the recording (its start when it never ended).
    """
    if retention_days <= 0:
        return []
    cutoff = as_utc(now) - timedelta(days=retention_days)
    ended = func.coalesce(col(Recording.ended_at), col(Recording.started_at))
    query = (
        select(Recording)
        .where(col(Recording.state).in_(_DELETABLE), ended < cutoff)
        .order_by(col(Recording.id))
    )
    return list((await session.exec(query)).all())


async def _get(session: AsyncSession, recording_id: int) -> Recording:
    recording = await session.get(Recording, recording_id, populate_existing=True)
    if recording is None or recording.state == RecordingState.DELETED.value:
        raise NotFound("recording not found", recording_id=recording_id)
    return recording


# ---- writing ------------------------------------------------------------------------------


@asynccontextmanager
async def _unit_of_work(session: AsyncSession) -> AsyncIterator[None]:
    """Commit what the block did, or roll it back on any exception (a refusal included)."""
    try:
        yield
    except BaseException:
        await session.rollback()
        raise
    await session.commit()


async def _move(
    session: AsyncSession,
    recording: Recording,
    from_states: frozenset[str],
    what: str,
    **values: Any,
) -> Recording:
    """Change the row only if it is still in ``from_states``: one statement, so two callers
    (a stop and crash recovery, two deletes) cannot both apply; ``Conflict`` for the loser."""
    result = await session.exec(  # type: ignore[call-overload]
        update(Recording)
        .where(col(Recording.id) == recording.id, col(Recording.state).in_(from_states))
        .values(**values)
    )
    fresh = await session.get(Recording, recording.id, populate_existing=True)
    assert fresh is not None  # the caller has just read it in this transaction
    if result.rowcount != 1:
        now = "in progress" if fresh.state == RecordingState.RECORDING.value else fresh.state
        raise Conflict(
            f"the recording is {now}: it cannot be {what}",
            recording_id=recording.id,
            state=fresh.state,
        )
    return fresh


def _check_media(container: str, media_type: str) -> None:
    if container not in CONTAINERS:
        raise InvalidInput(f"the container must be one of {sorted(CONTAINERS)}")
    if len(media_type) > _MEDIA_TYPE_MAX or not _MEDIA_TYPE.fullmatch(media_type):
        raise InvalidInput("the media type must look like video/webm or audio/mp4")


async def begin(
    session: AsyncSession, meeting_id: int, actor: Actor, container: str, media_type: str
) -> Recording:
    """Start recording a live meeting (its chair); names the file the recorder will write.

    ``Conflict`` when the meeting is not live or a recording of it is already in progress.
    """
    async with _unit_of_work(session):
        meeting = await access.check(session, actor, CONTROL_ACTION, meeting_id)
        assert meeting is not None  # meeting-scoped action
        _check_media(container, media_type)
        # Serialises this with another ``begin`` or the meeting's end until commit; the row is
        # read again under that lock.
        await lock_meeting(session, meeting_id)
        await session.refresh(meeting)
        ensure_live(meeting, "recording")
        running = await active(session, meeting_id)
        if running is not None:
            raise Conflict("the meeting is already being recorded", recording_id=running.id)
        recording = Recording(
            meeting_id=meeting_id,
            started_by=actor.key,
            file_name="",  # needs the id: set just below
            container=container,
            media_type=media_type,
        )
        try:
            async with session.begin_nested():
                session.add(recording)
                await session.flush()
        except IntegrityError as exc:  # the partial unique index, should the lock be bypassed
            raise Conflict("the meeting is already being recorded") from exc
        recording.file_name = file_name_for(meeting_id, recording.id or 0, container)
        session.add(recording)
        await session.flush()
        await audit.append(
            session,
            actor,
            "recording.started",
            "recording",
            recording.id,
            meeting_id=meeting_id,
            after=snapshot(recording),
        )
    return recording


async def finish(
    session: AsyncSession,
    recording_id: int,
    actor: Actor | None,
    *,
    size: int,
    duration_s: float,
    sha256: str,
    state: RecordingState = RecordingState.READY,
    ended_at: datetime | None = None,
    container: str | None = None,
    media_type: str | None = None,
    tracks: list[dict[str, Any]] | None = None,
) -> Recording:
    """Record the finished file's figures and the meeting's timeline during the recording.

    ``tracks``: the per-producer track files written beside it (name, participant, source,
    kind, offset_s, size, duration_s, sha256), if the server writes them.

    ``actor`` None is the system (crash recovery, which passes ``state=INTERRUPTED`` and the
    time the file ends); a person must be allowed to run the meeting. ``container`` and
    ``media_type`` correct what ``begin`` assumed when the recorder settled on another one
    (the file name's suffix follows).
    """
    if state not in (RecordingState.READY, RecordingState.INTERRUPTED):
        raise InvalidInput("a recording finishes as ready or interrupted", state=str(state))
    if size < 0 or not math.isfinite(duration_s) or duration_s < 0:
        raise InvalidInput("size and duration must be non-negative numbers")
    if not _SHA256.fullmatch(sha256):
        raise InvalidInput("sha256 must be 64 lowercase hexadecimal digits")
    checked_tracks = _checked_tracks(tracks or [])
    async with _unit_of_work(session):
        recording = await _get(session, recording_id)
        if actor is not None:
            await access.check(session, actor, CONTROL_ACTION, recording.meeting_id)
        end = as_utc(ended_at) if ended_at is not None else utcnow()
        if end < recording.started_at:
            raise InvalidInput("a recording cannot end before it started")
        new_container = container or recording.container
        new_media_type = media_type or recording.media_type
        _check_media(new_container, new_media_type)
        before = snapshot(recording)
        recording = await _move(
            session,
            recording,
            frozenset({RecordingState.RECORDING.value}),
            "stopped",
            state=state.value,
        )
        recording.ended_at = end
        recording.stopped_by = audit.actor_key(actor)
        recording.size = size
        recording.duration_s = duration_s
        recording.sha256 = sha256
        recording.container = new_container
        recording.media_type = new_media_type
        recording.file_name = file_name_for(recording.meeting_id, recording_id, new_container)
        recording.timeline_json = audit.canonical_json(await timeline(session, recording))
        recording.tracks_json = audit.canonical_json(checked_tracks) if checked_tracks else None
        session.add(recording)
        await session.flush()
        interrupted = state is RecordingState.INTERRUPTED
        await audit.append(
            session,
            actor,
            "recording.interrupted" if interrupted else "recording.stopped",
            "recording",
            recording_id,
            meeting_id=recording.meeting_id,
            before=before,
            after=snapshot(recording),
        )
    return recording


async def fail(session: AsyncSession, recording_id: int, reason: str) -> Recording:
    """A recording in progress that produced nothing usable (the system says so, with why)."""
    async with _unit_of_work(session):
        recording = await _get(session, recording_id)
        before = snapshot(recording)
        recording = await _move(
            session,
            recording,
            frozenset({RecordingState.RECORDING.value}),
            "marked failed",
            state=RecordingState.FAILED.value,
            ended_at=utcnow(),
            stopped_by=audit.actor_key(None),
        )
        await audit.append(
            session,
            None,
            "recording.failed",
            "recording",
            recording_id,
            meeting_id=recording.meeting_id,
            before=before,
            after={**snapshot(recording), "reason": reason.strip()[:500]},
        )
    return recording


async def delete(session: AsyncSession, recording_id: int, actor: Actor | None, reason: str) -> str:
    """Mark a finished (or failed) recording deleted; returns its file name to remove.

    Administrators only, or the system (``actor`` None) for the retention. A recording in
    progress must be stopped first (``Conflict``).
    """
    if actor is not None and not actor.is_admin:
        raise Forbidden("only an administrator may delete a recording")
    reason = reason.strip()[:500]
    if not reason:
        raise InvalidInput("say why the recording is deleted")
    async with _unit_of_work(session):
        recording = await _get(session, recording_id)
        before = snapshot(recording)
        recording = await _move(
            session,
            recording,
            _DELETABLE,
            "deleted (stop it first)",
            state=RecordingState.DELETED.value,
            deleted_at=utcnow(),
        )
        await audit.append(
            session,
            actor,
            "recording.deleted",
            "recording",
            recording_id,
            meeting_id=recording.meeting_id,
            before=before,
            after={"state": recording.state, "deleted_at": recording.deleted_at, "reason": reason},
        )
    return recording.file_name


# ---- the timeline -------------------------------------------------------------------------

# Order of events at the same instant: the item, then who speaks, then the votes.
_RANK = {"agenda": 0, "speaker": 1, "poll_opened": 2, "poll_closed": 3}


async def timeline(session: AsyncSession, recording: Recording) -> list[dict[str, Any]]:
    """The meeting's events while it was recorded, for playback to jump to.

    Each event is ``{"at": seconds from the start (1 decimal), "kind": ..., ...data}``:
    ``agenda`` (``agenda_item_id``, ``number`` such as "2.1", ``title``) when an item became
    current, ``speaker`` (``speaker`` key, ``name``, ``request_id``, ``agenda_item_id``) when
    the floor was given, ``poll_opened`` / ``poll_closed`` (``poll_id``, ``title``,
    ``agenda_item_id``; ``outcome`` when closed). What was going on when the recording started
    (the current item, the speaker, an open poll) is given at 0.0. Read from the domain
    tables' own timestamps, written in the same transactions as their audit entries.
    """
    start = recording.started_at
    end = recording.ended_at or utcnow()
    meeting_id = recording.meeting_id
    found: list[tuple[datetime, int, int, dict[str, Any]]] = []

    def add(when: datetime, kind: str, ident: int, data: dict[str, Any]) -> None:
        found.append((max(when, start), _RANK[kind], ident, {"kind": kind, **data}))

    def during(when: datetime | None) -> bool:
        return when is not None and start <= when <= end

    def ongoing(began: datetime | None, ended: datetime | None) -> bool:
        return began is not None and began < start and (ended is None or ended > start)

    items = list(
        (await session.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id))).all()
    )
    numbers = agenda_numbers(items)
    for item in items:
        if during(item.started_at) or ongoing(item.started_at, item.ended_at):
            assert item.started_at is not None and item.id is not None
            data = {"agenda_item_id": item.id, "number": numbers[item.id], "title": item.title}
            add(item.started_at, "agenda", item.id, data)
    speakers = await session.exec(
        select(SpeakerRequest).where(
            SpeakerRequest.meeting_id == meeting_id, col(SpeakerRequest.granted_at).is_not(None)
        )
    )
    for speech in speakers.all():
        if during(speech.granted_at) or ongoing(speech.granted_at, speech.ended_at):
            assert speech.granted_at is not None and speech.id is not None
            data = {
                "speaker": speech.speaker_key,
                "name": speech.speaker_name,
                "request_id": speech.id,
                "agenda_item_id": speech.agenda_item_id,
            }
            add(speech.granted_at, "speaker", speech.id, data)
    polls = await session.exec(
        select(Poll).where(Poll.meeting_id == meeting_id, col(Poll.opened_at).is_not(None))
    )
    for poll in polls.all():
        assert poll.opened_at is not None and poll.id is not None
        data = {"poll_id": poll.id, "title": poll.title, "agenda_item_id": poll.agenda_item_id}
        if during(poll.opened_at) or ongoing(poll.opened_at, poll.closed_at):
            add(poll.opened_at, "poll_opened", poll.id, data)
        if poll.closed_at is not None and during(poll.closed_at):
            add(poll.closed_at, "poll_closed", poll.id, {**data, "outcome": poll.outcome})
    found.sort(key=lambda event: event[:3])
    return [{"at": round((when - start).total_seconds(), 1), **data} for when, _, _, data in found]
