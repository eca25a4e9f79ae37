"""The minutes table: one row per meeting, draft → submitted → approved (then immutable)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Text, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper, declared_attr
from sqlmodel import Field, SQLModel

from meetings.clock import utcnow
from meetings.errors import Conflict
from meetings.models import UTCDateTime


class MinutesState(StrEnum):
    """draft → submitted (for the chair's approval) → approved; an edit sends it back to draft."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"


class MinutesLocked(Conflict):
    """Approved minutes are a record: nothing about them may change any more."""

    code = "minutes_locked"


class Minutes(SQLModel, table=True):
    """The minutes (biên bản) of one meeting.

    ``version`` counts saved changes; every write names the version it was based on, so two
    editors never overwrite each other silently (optimistic concurrency).
    """

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", unique=True, index=True)
    state: str = Field(default=MinutesState.DRAFT.value, max_length=16)
    version: int = 1
    # The structured sections (``meetings.minutes.content.MinutesContent``) as canonical JSON.
    sections_json: str = Field(sa_column=Column(Text, nullable=False))
    free_text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_by: str = Field(max_length=40)  # actor key
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    submitted_by: str | None = Field(default=None, max_length=40)
    approved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    approved_by: str | None = Field(default=None, max_length=40)
    pdf_sha256: str | None = Field(default=None, max_length=64)
    pdf_size: int | None = None
    signed: bool = False
    signer_subject: str | None = Field(default=None, max_length=500)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # SQLAlchemy's optimistic concurrency: every UPDATE says ``WHERE version = <read>``
        # and bumps it; a lost race raises ``StaleDataError`` instead of overwriting.
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def _stored_state(target: Minutes) -> str | None:
    """The state as loaded from the database (before any change pending in this session)."""
    history = sa_inspect(target).attrs.state.history
    loaded = history.deleted or history.unchanged
    return loaded[0] if loaded else None


@event.listens_for(Minutes, "before_update")
def _refuse_update_of_approved(mapper: Mapper, connection: object, target: Minutes) -> None:
    # The service checks the state first and says why; this catches any other code path
    # that loads approved minutes and tries to flush a change (the migration's triggers
    # catch plain SQL as well).
    if _stored_state(target) == MinutesState.APPROVED.value:
        raise MinutesLocked("approved minutes cannot be changed", meeting_id=target.meeting_id)


@event.listens_for(Minutes, "before_delete")
def _refuse_delete_of_approved(mapper: Mapper, connection: object, target: Minutes) -> None:
    if _stored_state(target) == MinutesState.APPROVED.value:
        raise MinutesLocked("approved minutes cannot be deleted", meeting_id=target.meeting_id)
