"""Recordings: start and stop (the chair), list, the timeline, download with Range, delete.

Start and stop are the same as the socket.io events ``recording.start`` / ``recording.stop``
(see ``signaling/realtime/recording_events.py``, which does the work for both).
"""

import asyncio
from pathlib import Path

from aiohttp import web

from meetings import recordings
from meetings.models import Meeting
from meetings.permissions import Action
from meetings.recording_models import Recording, RecordingState
from signaling.api.content import content_disposition, file_response
from signaling.api.registry import RequestContext
from signaling.api.schemas_recordings import (
    RecordingDeleteIn,
    RecordingDetailOut,
    RecordingOut,
    RecordingTrackOut,
)
from signaling.api.table import API
from signaling.errors import ApiError
from signaling.logs import get_logger
from signaling.realtime.recording_events import desk_of

log = get_logger("phonghop.recordings")
TAGS = ("recordings",)
PLAYABLE = {RecordingState.READY.value, RecordingState.INTERRUPTED.value}


def _meeting(ctx: RequestContext) -> Meeting:
    assert ctx.meeting is not None  # the registry loads it for meeting-scoped actions
    return ctx.meeting


async def _recording(ctx: RequestContext) -> Recording:
    return await recordings.get_for_viewer(
        ctx.session, ctx.params["recording_id"], ctx.actor, _meeting(ctx).id
    )


@API.route(
    "POST",
    "/meetings/{meeting_id}/recording",
    action=Action.MEETING_START,
    response=RecordingOut,
    status=201,
    summary="Start recording the live meeting (chair)",
    tags=TAGS,
)
async def start_recording(ctx: RequestContext) -> object:
    """The spotlight video and the active speaker's audio, remuxed without re-encoding.

    409 when the meeting is not live or already recorded; 409 ``recording_unavailable`` when
    the recorder cannot start (the recording is then kept as failed). Announced to the room as
    ``recording.state``.
    """
    return await desk_of(ctx.state.signaling).start(ctx.session, ctx.actor, _meeting(ctx))


@API.route(
    "DELETE",
    "/meetings/{meeting_id}/recording",
    action=Action.MEETING_START,
    response=RecordingOut,
    summary="Stop recording (chair); the file's size, duration and SHA-256 are stored",
    tags=TAGS,
)
async def stop_recording(ctx: RequestContext) -> object:
    """409 when the meeting is not being recorded."""
    return await desk_of(ctx.state.signaling).stop(ctx.session, ctx.actor, _meeting(ctx).id or 0)


@API.route(
    "GET",
    "/meetings/{meeting_id}/recordings",
    action=Action.MEETING_VIEW,
    response=list[RecordingOut],
    summary="The meeting's recordings (members and administrators)",
    tags=TAGS,
)
async def list_recordings(ctx: RequestContext) -> list:
    """Oldest first, with the one in progress; deleted ones are left out."""
    return await recordings.list_for_meeting(ctx.session, _meeting(ctx).id or 0, ctx.actor)


@API.route(
    "GET",
    "/meetings/{meeting_id}/recordings/{recording_id}",
    action=Action.MEETING_VIEW,
    response=RecordingDetailOut,
    summary="One recording with its timeline (agenda items, speakers, polls)",
    tags=TAGS,
)
async def get_recording(ctx: RequestContext) -> object:
    """The timeline is the one stored when it finished, or the events so far while recording."""
    recording = await _recording(ctx)
    timeline = recordings.saved_timeline(recording)
    if timeline is None:
        timeline = await recordings.timeline(ctx.session, recording)
    out = RecordingOut.model_validate(recording).model_dump()
    tracks = [
        RecordingTrackOut(number=n, **track)
        for n, track in enumerate(recordings.saved_tracks(recording), start=1)
    ]
    return RecordingDetailOut(**out, timeline=timeline, tracks=tracks)


@API.route(
    "GET",
    "/meetings/{meeting_id}/recordings/{recording_id}/file",
    action=Action.MEETING_VIEW,
    summary="Play or download a finished recording (Range supported)",
    produces=file_response(
        "video/webm",
        "The recording: WebM (VP8 + Opus) or MP4 (H.264 + Opus) as its media_type says",
        {"Content-Disposition": "`inline` with a file name of the meeting and recording"},
    ),
    tags=TAGS,
)
async def download_recording(ctx: RequestContext) -> web.FileResponse:
    """409 while it is being recorded (or if it failed): only a finished file is served."""
    recording = await _finished(ctx)
    path = recordings.recording_path(ctx.state.settings.data_dir, recording.file_name)
    name = f"phien-hop-{recording.meeting_id}-ghi-hinh-{recording.id}.{recording.container}"
    return _serve(recording, path, recording.media_type, content_disposition(name))


async def _finished(ctx: RequestContext) -> Recording:
    """The recording asked for, if its files may be served (409 while recording or failed)."""
    recording = await _recording(ctx)
    if recording.state not in PLAYABLE:
        raise ApiError(409, "conflict", f"the recording is {recording.state}, not playable")
    return recording


def _serve(recording: Recording, path: Path, media_type: str, disposition: str) -> web.FileResponse:
    """One of a recording's files, with Range (aiohttp's FileResponse); 500 if it is gone."""
    if not path.is_file():
        log.error("recording.file_missing", recording_id=recording.id, file=path.name)
        raise ApiError(500, "file_missing", "the recording's file is missing")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": media_type,
            "Content-Disposition": disposition,
            "Cache-Control": "private, max-age=0, must-revalidate",
        },
    )


@API.route(
    "GET",
    "/meetings/{meeting_id}/recordings/{recording_id}/tracks/{track_number}",
    action=Action.MEETING_VIEW,
    summary="Download one producer's own track file of a finished recording (Range supported)",
    produces=file_response(
        "video/webm",
        "The track: WebM (VP8 and/or Opus) or MP4 (H.264)",
        {"Content-Disposition": "`attachment` with a file name of the recording and track"},
    ),
    tags=TAGS,
)
async def download_track(ctx: RequestContext) -> web.FileResponse:
    """404 for a number the recording's ``tracks`` does not list; 409 unless it is finished."""
    recording = await _finished(ctx)
    tracks = recordings.saved_tracks(recording)
    number = ctx.params["track_number"]
    if not 1 <= number <= len(tracks):
        raise ApiError(404, "not_found", "the recording has no such track")
    track = tracks[number - 1]
    data_dir = ctx.state.settings.data_dir
    path = recordings.track_path(data_dir, recording.file_name, track["name"])
    name = f"phien-hop-{recording.meeting_id}-ghi-hinh-{recording.id}-{track['name']}"
    media_type = "video/mp4" if path.suffix == ".mp4" else "video/webm"  # as the main file's
    return _serve(recording, path, media_type, content_disposition(name, "attachment"))


@API.route(
    "DELETE",
    "/meetings/{meeting_id}/recordings/{recording_id}",
    action=Action.MEETING_VIEW,
    body=RecordingDeleteIn,
    status=204,
    summary="Delete a recording (administrators), with a reason kept in the audit log",
    tags=TAGS,
)
async def delete_recording(ctx: RequestContext) -> None:
    """403 for anyone but an administrator; 409 while it is being recorded."""
    recording = await _recording(ctx)
    file_name = await recordings.delete(ctx.session, recording.id or 0, ctx.actor, ctx.body.reason)
    data_dir = ctx.state.settings.data_dir
    removed = await asyncio.to_thread(recordings.remove_file, data_dir, file_name)
    log.info("recording.deleted", recording_id=recording.id, file_removed=removed)
