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


class RecordingDetailOut(RecordingOut):
    """A recording with its timeline: the meeting's events, in seconds from its start."""

    timeline: list[dict[str, Any]] = Field(
        description="{at, kind: agenda|speaker|poll_opened|poll_closed, ...} for playback to jump"
    )


class RecordingDeleteIn(BaseModel):
    """Why an administrator deletes a recording (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500)]
