"""SQLModel tables of the domain.

Enumerations are stored as short strings so that migrations stay portable between
SQLite and PostgreSQL.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, DateTime, UniqueConstraint, false
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from meetings.clock import as_utc, utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        return as_utc(value) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return as_utc(value) if value is not None else None


def _ts(nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class UnitKind(StrEnum):
    """Level of an administrative unit."""

    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class Role(StrEnum):
    """Role of an account across the whole installation."""

    ADMIN = "admin"
    CHAIR = "chair"
    SECRETARY = "secretary"
    DELEGATE = "delegate"
    OBSERVER = "observer"


class MeetingState(StrEnum):
    """Life cycle of a meeting: scheduled → live → ended, or scheduled → cancelled."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


DEFAULT_MEETING_MINUTES = 120  # the planned length when none is given (DTEND of invitations)


class InviteeKind(StrEnum):
    """What an invitation names."""

    UNIT = "unit"
    ACCOUNT = "account"
    ENDPOINT = "endpoint"


class Unit(SQLModel, table=True):
    """An administrative unit: province, district or commune, as a tree."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    code: str | None = Field(default=None, max_length=32, unique=True)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Account(SQLModel, table=True):
    """A person who logs in."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = Field(max_length=200)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    active: bool = True
    email: str | None = Field(default=None, max_length=254)  # invitations; validated by the API
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    password_changed_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Endpoint(SQLModel, table=True):
    """A commune meeting-room device, authenticated by a device token.

    Only the SHA-256 of the token is stored: the token itself is shown once.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    token_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    token_issued_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Meeting(SQLModel, table=True):
    """A meeting (phiên họp) with its chair and secretary."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    description: str = Field(default="", max_length=4000)
    starts_at: datetime = Field(sa_column=_ts(index=True))
    chair_id: int = Field(foreign_key="account.id", index=True)
    secretary_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    created_by_id: int = Field(foreign_key="account.id")
    state: str = Field(default=MeetingState.SCHEDULED.value, max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    started_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    duration_minutes: int = Field(
        default=DEFAULT_MEETING_MINUTES, sa_column_kwargs={"server_default": "120"}
    )
    # iCalendar SEQUENCE: raised on every change calendar clients must pick up (RFC 5546).
    calendar_sequence: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    cancelled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    cancel_reason: str = Field(default="", max_length=1000, sa_column_kwargs={"server_default": ""})
    # The chair closed the room: only those already present, the chair and the secretary
    # may join (migration 0009).
    locked: bool = Field(default=False, sa_column_kwargs={"server_default": false()})

    @property
    def ends_at(self) -> datetime:
        """Planned end: the start plus the planned duration."""
        return self.starts_at + timedelta(minutes=self.duration_minutes)


class Invitation(SQLModel, table=True):
    """Invites a unit (and everything under it), an account or an endpoint."""

    __table_args__ = (UniqueConstraint("meeting_id", "invitee_key", name="uq_invitation"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    invitee_kind: str = Field(max_length=16)
    # "account:7": one column to make the uniqueness rule portable (NULLs never collide).
    invitee_key: str = Field(max_length=40)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    endpoint_id: int | None = Field(default=None, foreign_key="endpoint.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AuthSession(SQLModel, table=True):
    """A browser login session; the cookie holds a random token whose SHA-256 is stored."""

    __tablename__ = "auth_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)


class AgendaItemState(StrEnum):
    """pending → current → done; one item of a meeting is current at a time."""

    PENDING = "pending"
    CURRENT = "current"
    DONE = "done"


class AgendaItem(SQLModel, table=True):
    """An item (or sub-item) of a meeting's agenda (chương trình)."""

    __tablename__ = "agenda_item"

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="agenda_item.id", index=True)
    position: int = 0  # order among its siblings
    title: str = Field(max_length=500)
    description: str = Field(default="", max_length=4000)
    presenter_id: int | None = Field(default=None, foreign_key="account.id")
    presenter_name: str = Field(default="", max_length=200)  # e.g. a guest from a department
    minutes_budget: int | None = None  # time budget
    state: str = Field(default=AgendaItemState.PENDING.value, max_length=16)
    started_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
