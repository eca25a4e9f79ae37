"""Tables of attendance (điểm danh): one record per attendee and meeting, and the quorum rule."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from meetings.clock import utcnow
from meetings.models import _ts


class AttendanceState(StrEnum):
    """Where an attendee stands; an invitee with no record has not checked in (absent)."""

    PRESENT = "present"
    ABSENT = "absent"
    EXCUSED = "excused"  # absent with a reason given (vắng có lý do)


class AttendanceMode(StrEnum):
    """How a present attendee takes part."""

    ONLINE = "online"  # over video, from a commune room or a desk
    IN_PERSON = "in_person"  # in the hall where the chair sits


class QuorumRule(StrEnum):
    """How many members must be present for the meeting's decisions to be valid.

    Vietnamese local-government sessions (People's Council, People's Committee) require at
    least two thirds of their members; ``majority`` serves bodies whose rules say "more than half".
    """

    TWO_THIRDS = "two_thirds"  # at least 2/3 of all members present
    MAJORITY = "majority"  # more than 1/2 of all members present


class Attendance(SQLModel, table=True):
    """The attendance of one account or endpoint device at one meeting."""

    __table_args__ = (UniqueConstraint("meeting_id", "attendee_key", name="uq_attendance"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    # "account:7" / "endpoint:3": one column makes the uniqueness rule portable.
    attendee_key: str = Field(max_length=40)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    endpoint_id: int | None = Field(default=None, foreign_key="endpoint.id", index=True)
    state: str = Field(max_length=16)
    mode: str | None = Field(default=None, max_length=16)  # set while present
    reason: str = Field(default="", max_length=500)  # why excused (or a note)
    checked_in_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    recorded_by: str = Field(max_length=40)  # actor key of the last change
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class MeetingQuorum(SQLModel, table=True):
    """A meeting's quorum rule, when the hosts chose one (otherwise ``DEFAULT_QUORUM``)."""

    __tablename__ = "meeting_quorum"

    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    rule: str = Field(max_length=16)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


DEFAULT_QUORUM = QuorumRule.TWO_THIRDS
