"""Tables of a meeting's proceedings: the list of speakers and the conclusions (kết luận).

Both hang off the agenda (``AgendaItem`` in ``meetings.models``). Enumerations are short
strings, as everywhere in the schema, so the migrations stay portable.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from meetings.clock import utcnow
from meetings.models import UTCDateTime


class SpeakerState(StrEnum):
    """waiting → speaking → done; a waiting request can also be withdrawn (or removed)."""

    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"
    WITHDRAWN = "withdrawn"


OPEN_SPEAKER_STATES = frozenset({SpeakerState.WAITING.value, SpeakerState.SPEAKING.value})


class SpeakerRequest(SQLModel, table=True):
    """A request to speak (đăng ký phát biểu) by a delegate or an endpoint, and its speech."""

    __tablename__ = "speaker_request"
    __table_args__ = (
        # One open request per person and meeting. ``open_key`` holds the speaker key while
        # the request is waiting or speaking and NULL afterwards: NULLs never collide, so
        # the rule is a plain unique constraint on both backends.
        UniqueConstraint("meeting_id", "open_key", name="uq_speaker_request_open"),
        # One speaker at a time: ``on_air`` is 1 only while speaking (NULL otherwise).
        UniqueConstraint("meeting_id", "on_air", name="uq_speaker_request_on_air"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_item.id", index=True)
    speaker_key: str = Field(max_length=40)  # "account:7" / "endpoint:3"
    account_id: int | None = Field(default=None, foreign_key="account.id")
    endpoint_id: int | None = Field(default=None, foreign_key="endpoint.id")
    unit_id: int = Field(foreign_key="unit.id")
    speaker_name: str = Field(max_length=200)  # as it was when asking (for the minutes)
    topic: str = Field(default="", max_length=500)
    state: str = Field(default=SpeakerState.WAITING.value, max_length=16)
    position: int | None = None  # place in the queue while waiting (dense, from 0)
    open_key: str | None = Field(default=None, max_length=40)
    on_air: int | None = None
    requested_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    granted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    seconds_spoken: int | None = None


class Conclusion(SQLModel, table=True):
    """A conclusion (kết luận) on one agenda item, optionally assigned with a deadline."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    agenda_item_id: int = Field(foreign_key="agenda_item.id", index=True)
    content: str = Field(sa_column=Column(Text, nullable=False))
    assignee_account_id: int | None = Field(default=None, foreign_key="account.id")
    assignee_unit_id: int | None = Field(default=None, foreign_key="unit.id")
    deadline: date | None = None
    created_by: str = Field(max_length=40)  # actor key
    updated_by: str = Field(max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
