"""Recording a meeting: the chair starts and stops it; the room is told; a restart files it.

Client → server events (``meeting.start``: the meeting's chair, as for REST):

* ``recording.start`` ``{meeting_id}`` → ack ``{recording}``.
* ``recording.stop`` ``{meeting_id}`` → ack ``{recording}`` (with its size, duration, SHA-256).

The same is ``POST``/``DELETE /api/v1/meetings/{id}/recording``. Either way the room gets
``recording.state`` ``{meeting_id, recording}`` (``recording`` null once stopped), and the
join ack carries the meeting's current ``recording``, so everyone shows the indicator.

Order of commitments: the row is committed (``recordings.begin``) before the recorder
starts, and marked failed if the media plane cannot start it; stopping closes the file first
(trailer written, hashed) and commits its figures before the acknowledgement. A row still
"recording" when the server starts belongs to a process that died: its partial file (written
cluster by cluster, playable up to its last seconds) is filed as "interrupted".

The recorder runs in the process holding the meeting's media router, which is the one
holding the room's sockets (see ``gateway.py``); a stop that reaches a process without the
recorder (after a restart) files what the file holds, as recovery does.
"""

import asyncio
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meetings import recordings
from meetings.actor import Actor
from meetings.errors import Conflict
from meetings.models import Meeting
from meetings.permissions import Action
from meetings.recording_models import Recording, RecordingState
from recordings.probe import file_figures, probe
from signaling.logs import get_logger
from signaling.realtime.conference import MediaRefused, parse_track_file_stem
from signaling.realtime.events import Connection, EventSpec
from signaling.realtime.payloads import MeetingId, Payload

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from signaling.realtime.gateway import SignalingGateway

log = get_logger("phonghop.recordings")
MEDIA_TYPES = {"webm": "video/webm", "mp4": "video/mp4"}


class RecordingUnavailable(Conflict):
    """The media plane could not start the recorder (the row is marked failed)."""

    code = "recording_unavailable"


class RecordingPayload(Payload):
    """``recording.start`` / ``recording.stop``."""

    meeting_id: MeetingId


def recording_state(recording: Recording | None) -> dict[str, Any] | None:
    """What clients get about the meeting's current recording (None: not recording)."""
    if recording is None:
        return None
    return {
        "id": recording.id,
        "state": recording.state,
        "started_at": recording.started_at.isoformat(),
        "started_by": recording.started_by,
    }


@dataclass
class RecordingDesk:
    """Starts and stops the recorder of each meeting and files what it wrote."""

    gateway: "SignalingGateway"
    data_dir: Path | None = None
    tracks: bool = False  # also write each producer to its own file

    def _base(self, recording: Recording) -> Path:
        assert self.data_dir is not None
        return recordings.recording_path(self.data_dir, recording.file_name).with_suffix("")

    def _tracks_dir(self, recording: Recording) -> Path:
        assert self.data_dir is not None
        name = recordings.tracks_dir_name(recording.file_name)
        return recordings.recording_path(self.data_dir, name)

    async def start(self, session: "AsyncSession", actor: Actor, meeting: Meeting) -> Recording:
        """Commit a new recording of ``meeting``, then start its recorder; announced."""
        if self.data_dir is None:
            raise RecordingUnavailable("this server has no data directory for recordings")
        meeting_id = meeting.id or 0
        recording = await recordings.begin(session, meeting_id, actor, "webm", MEDIA_TYPES["webm"])
        try:
            await self.gateway.media.start_recording(
                meeting_id,
                f"recording-{recording.id}",
                str(self._base(recording)),
                str(self._tracks_dir(recording)) if self.tracks else None,
            )
        except MediaRefused as exc:
            await recordings.fail(session, recording.id or 0, exc.message)
            log.warning("recording.start_failed", meeting_id=meeting_id, reason=exc.message)
            raise RecordingUnavailable("the recorder could not start", reason=exc.code) from exc
        log.info("recording.started", meeting_id=meeting_id, recording_id=recording.id)
        await self.announce(meeting_id, recording)
        return recording

    async def stop(
        self, session: "AsyncSession", actor: Actor | None, meeting_id: int
    ) -> Recording:
        """Finish the meeting's recording: close the file, commit its figures; announced."""
        recording = await recordings.active(session, meeting_id)
        if recording is None:
            raise Conflict("the meeting is not being recorded", meeting_id=meeting_id)
        summary = await self.gateway.media.stop_recording(meeting_id)
        if summary is None or not summary.get("path"):
            # No recorder here (this process restarted): file what the file holds.
            return await self._file_partial(session, recording, actor)
        path = Path(str(summary["path"]))
        container = path.suffix.lstrip(".")
        recording = await recordings.finish(
            session,
            recording.id or 0,
            actor,
            size=int(summary["size"]),
            duration_s=float(summary["duration"]),
            sha256=str(summary["sha256"]),
            container=container,
            media_type=MEDIA_TYPES.get(container, "application/octet-stream"),
            tracks=[track_entry(t) for t in summary.get("tracks", [])],
        )
        log.info(
            "recording.stopped",
            meeting_id=meeting_id,
            recording_id=recording.id,
            size=recording.size,
            duration_s=recording.duration_s,
            video_frames=summary.get("video_frames"),
            audio_frames=summary.get("audio_frames"),
            tracks=len(summary.get("tracks", [])),
        )
        await self.announce(meeting_id, None)
        return recording

    async def _partial_tracks(self, recording: Recording) -> list[dict[str, Any]]:
        """The track files a dead recorder left, read back from the files themselves."""
        directory = self._tracks_dir(recording)
        if not directory.is_dir():
            return []
        found = []
        for path in sorted(directory.iterdir()):
            if path.suffix not in (".webm", ".mp4"):
                continue
            try:
                duration, size, sha256 = await _read_back(path)
            except Exception as exc:  # one unreadable track does not lose the others
                log.warning("recording.track_unreadable", file=path.name, error=str(exc))
                continue
            who = parse_track_file_stem(path.stem)
            found.append(
                {
                    "name": path.name,
                    "participant": who[0] if who else None,
                    "source": who[1] if who else None,
                    "kind": "audio" if who and who[1] == "microphone" else "video",
                    "offset_s": None,  # known only to the recorder that died
                    "size": size,
                    "duration_s": duration,
                    "sha256": sha256,
                }
            )
        return found

    async def _file_partial(
        self, session: "AsyncSession", recording: Recording, actor: Actor | None
    ) -> Recording:
        """File a recording whose recorder is gone: interrupted if its file plays, else failed."""
        base = self._base(recording)
        found = [p for p in (base.with_suffix(".webm"), base.with_suffix(".mp4")) if p.exists()]
        meeting_id = recording.meeting_id
        if not found:
            failed = await recordings.fail(session, recording.id or 0, "no file was written")
            await self.announce(meeting_id, None)
            return failed
        path = found[0]
        try:
            duration, size, sha256 = await _read_back(path)
        except Exception as exc:  # an unreadable file is a failed recording, not a crash
            log.warning("recording.unreadable", recording_id=recording.id, error=str(exc))
            failed = await recordings.fail(session, recording.id or 0, "the file is unreadable")
            await self.announce(meeting_id, None)
            return failed
        container = path.suffix.lstrip(".")
        filed = await recordings.finish(
            session,
            recording.id or 0,
            actor,
            size=size,
            duration_s=duration,
            sha256=sha256,
            state=RecordingState.INTERRUPTED,
            ended_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
            container=container,
            media_type=MEDIA_TYPES.get(container, "application/octet-stream"),
            tracks=await self._partial_tracks(recording),
        )
        log.info("recording.filed_partial", recording_id=recording.id, duration_s=duration)
        await self.announce(meeting_id, None)
        return filed

    async def recover(self) -> None:
        """At start-up: file every recording a dead process left "recording"."""
        if self.data_dir is None:
            return
        async with self.gateway.transaction() as session:
            left = await recordings.unfinished(session)
        for recording in left:
            if self.gateway.media.recording(recording.meeting_id):
                continue  # running here (a desk created twice in one process)
            try:
                async with self.gateway.transaction() as session:
                    fresh = await session.get(Recording, recording.id)
                    if fresh is not None and fresh.state == RecordingState.RECORDING:
                        await self._file_partial(session, fresh, None)
            except Exception:
                log.exception("recording.recover_failed", recording_id=recording.id)

    async def meeting_closed(self, meeting_id: int) -> None:
        """The meeting ended or was cancelled: stop its recording (by the system)."""
        if not self.gateway.media.recording(meeting_id):
            return
        try:
            async with self.gateway.transaction() as session:
                await self.stop(session, None, meeting_id)
        except Exception:
            log.exception("recording.stop_at_end_failed", meeting_id=meeting_id)

    async def stop_all(self) -> None:
        """The server is shutting down: stop every recording this process runs."""
        for meeting_id in list(self.gateway.media.conferences):
            await self.meeting_closed(meeting_id)

    async def announce(self, meeting_id: int, recording: Recording | None) -> None:
        """Tell the room what is being recorded now."""
        await self.gateway.meeting_event(
            meeting_id,
            "recording.state",
            {"meeting_id": meeting_id, "recording": recording_state(recording)},
        )

    async def current(self, session: "AsyncSession", meeting_id: int) -> dict[str, Any] | None:
        """The meeting's recording in progress, as the join ack gives it."""
        return recording_state(await recordings.active(session, meeting_id))

    # ---- socket.io events ------------------------------------------------------------------

    async def on_start(self, conn: Connection, payload: RecordingPayload) -> dict[str, Any]:
        """``recording.start``."""
        async with self.gateway.transaction() as session:
            meeting = await session.get(Meeting, payload.meeting_id)
            if meeting is None:
                raise Conflict("no such meeting")
            recording = await self.start(session, conn.principal.actor, meeting)
            return {"recording": recording_state(recording)}

    async def on_stop(self, conn: Connection, payload: RecordingPayload) -> dict[str, Any]:
        """``recording.stop``."""
        async with self.gateway.transaction() as session:
            recording = await self.stop(session, conn.principal.actor, payload.meeting_id)
            return {"recording": recordings.snapshot(recording)}


async def _read_back(path: Path) -> tuple[float, int, str]:
    """Duration, size and SHA-256 of a file a dead recorder left (demuxed, never decoded)."""
    probed = await asyncio.to_thread(probe, path)
    size, sha256 = await asyncio.to_thread(file_figures, path)
    return probed.duration, size, sha256


def track_entry(summary: dict[str, Any]) -> dict[str, Any]:
    """A closed track tap's summary → the track as the recording's row keeps it."""
    return {
        "name": Path(str(summary["path"])).name,
        "participant": summary.get("participant"),
        "source": summary.get("source"),
        "kind": summary.get("kind"),
        "offset_s": summary.get("offset_s"),
        "size": int(summary["size"]),
        "duration_s": float(summary["duration"]),
        "sha256": str(summary["sha256"]),
    }


_DESKS: "weakref.WeakKeyDictionary[SignalingGateway, RecordingDesk]" = weakref.WeakKeyDictionary()


def desk_of(gateway: "SignalingGateway") -> RecordingDesk:
    """The recording desk of ``gateway`` (made by ``install``; made here for one built without)."""
    desk = _DESKS.get(gateway)
    if desk is None:
        desk = _DESKS[gateway] = RecordingDesk(gateway, gateway.data_dir, gateway.recording_tracks)
    return desk


def install(gateway: "SignalingGateway") -> None:
    """Register ``recording.start`` and ``recording.stop`` on the gateway."""
    desk = desk_of(gateway)
    gateway.events.add(
        EventSpec("recording.start", RecordingPayload, Action.MEETING_START, desk.on_start)
    )
    gateway.events.add(
        EventSpec("recording.stop", RecordingPayload, Action.MEETING_START, desk.on_stop)
    )
