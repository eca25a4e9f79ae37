"""The table of recordings: one row per recording of a meeting, its file and its figures.

The file itself lives in the data directory (``file_name`` is relative to it) and is written
by ``recordings/``; the domain keeps what is known about it, from "recording now" to deleted.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from meetings.clock import utcnow
from meetings.models import _ts


class RecordingState(StrEnum):
    """recording → ready | interrupted | failed → deleted.

    ``interrupted``: the server stopped while recording (a crash, a kill) and the partial file
    was recovered at the next start; ``failed``: nothing usable was written.
    """

    RECORDING = "recording"
    READY = "ready"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    DELETED = "deleted"


# The rows a second "recording" of a meeting would collide with (see the index below).
_RECORDING_NOW = text("state = 'recording'")


class Recording(SQLModel, table=True):
    """A recording of a meeting (ghi hình phiên họp)."""

    __table_args__ = (
        # At most one recording in progress per meeting, kept by the database as well as by
        # the service: a partial unique index, which SQLite and PostgreSQL both have.
        Index(
            "uq_recording_in_progress",
            "meeting_id",
            unique=True,
            sqlite_where=_RECORDING_NOW,
            postgresql_where=_RECORDING_NOW,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    state: str = Field(default=RecordingState.RECORDING.value, max_length=16)
    started_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    ended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    started_by: str = Field(max_length=40)  # actor key, e.g. "account:7"
    stopped_by: str | None = Field(default=None, max_length=40)  # actor key or "system"
    # Relative to the data dir, e.g. "recordings/meeting-3/5.webm".
    file_name: str = Field(max_length=255)
    container: str = Field(max_length=8)  # "webm" or "mp4"
    media_type: str = Field(max_length=100)  # e.g. "video/webm"
    # Bytes, known once finished; 64-bit: a long briefing's file passes PostgreSQL's int4.
    size: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    duration_s: float | None = None
    sha256: str | None = Field(default=None, max_length=64)
    # Canonical JSON list of the meeting's events during the recording, set when finished.
    timeline_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Canonical JSON list of the per-producer track files (when the server is configured to
    # write them): name, participant, source, kind, offset, size, duration, SHA-256.
    tracks_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    deleted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
