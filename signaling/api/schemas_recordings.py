"""Request and response bodies of the recordings routes."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class RecordingOut(BaseModel):
    """A recording of a meeting; ``size``, ``duration_s``, ``sha256`` once it is finished."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    meeting_id: int
    state: str = Field(description="recording, ready, interrupted (filed after a crash), failed")
    started_at: datetime
    ended_at: datetime | None
    started_by: str
    stopped_by: str | None
    container: str = Field(description="webm (VP8 + Opus) or mp4 (H.264 + Opus)")
    media_type: str
    size: int | None
    duration_s: float | None
    sha256: str | None


class RecordingTrackOut(BaseModel):
    """One producer's own track file (written when the server sets PHONGHOP_RECORDING_TRACKS)."""

    number: int = Field(description="its number in the download URL .../tracks/{number}")
    name: str
    participant: str | None = Field(description="whose it is, e.g. endpoint:3")
    source: str | None = Field(description="camera, microphone or screen")
    kind: str | None = Field(description="audio or video")
    offset_s: float | None = Field(
        description="where it starts on the recording's timeline (null if filed after a crash)"
    )
    size: int
    duration_s: float
    sha256: str


class RecordingDetailOut(RecordingOut):
    """A recording with its timeline: the meeting's events, in seconds from its start."""

    timeline: list[dict[str, Any]] = Field(
        description="{at, kind: agenda|speaker|poll_opened|poll_closed, ...} for playback to jump"
    )
    tracks: list[RecordingTrackOut] = Field(
        default_factory=list, description="each producer's own file, if the server writes them"
    )


class RecordingDeleteIn(BaseModel):
    """Why an administrator deletes a recording (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500)]
