"""Tables of the documents feature (migration 0004)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from meetings.clock import utcnow
from meetings.models import UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class DocumentState(StrEnum):
    """draft → (scheduled →) published. Only hosts and administrators see the first two."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"


class Document(SQLModel, table=True):
    """A document of a meeting, or of one of its agenda items; its content is in versions."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_item.id", index=True)
    title: str = Field(max_length=300)
    confidential: bool = False
    state: str = Field(default=DocumentState.DRAFT.value, max_length=16, index=True)
    publish_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, index=True))
    published_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    current_version: int = 1  # number of the newest version
    created_by: str = Field(max_length=40)  # actor key, e.g. "account:7"
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DocumentVersion(SQLModel, table=True):
    """One uploaded file of a document; replacing a document adds a version, never overwrites."""

    __tablename__ = "document_version"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_document_version"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    number: int
    sha256: str = Field(max_length=64, index=True)  # names the stored file
    size: int
    pages: int
    filename: str = Field(max_length=255)
    uploaded_by: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DocumentPage(SQLModel, table=True):
    """Text of one page of a version, as extracted and in its search form."""

    __tablename__ = "document_page"
    __table_args__ = (UniqueConstraint("version_id", "page", name="uq_document_page"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="document_version.id", index=True)
    page: int  # 1-based
    text: str = Field(sa_column=Column(Text, nullable=False))
    # Lower-case, without diacritics, whitespace collapsed: what searches are matched against.
    norm: str = Field(sa_column=Column(Text, nullable=False))


class DocumentCopy(SQLModel, table=True):
    """A stamped copy of a confidential version, made once per recipient and kept.

    Its SHA-256 traces a leaked file back to the person it was issued to.
    """

    __tablename__ = "document_copy"
    __table_args__ = (UniqueConstraint("version_id", "recipient", name="uq_document_copy"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="document_version.id", index=True)
    recipient: str = Field(max_length=40)  # actor key
    recipient_name: str = Field(max_length=200)
    unit_name: str = Field(max_length=200)
    sha256: str = Field(max_length=64, index=True)
    size: int
    stamped_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DocumentReceipt(SQLModel, table=True):
    """Who opened which version, first when: one row per reader and version."""

    __tablename__ = "document_receipt"
    __table_args__ = (UniqueConstraint("version_id", "reader", name="uq_document_receipt"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    version_id: int = Field(foreign_key="document_version.id", index=True)
    reader: str = Field(max_length=40)  # actor key
    opened_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DocumentComment(SQLModel, table=True):
    """A comment on one page of one version, visible to everyone who sees the document."""

    __tablename__ = "document_comment"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    version_id: int = Field(foreign_key="document_version.id")
    page: int
    body: str = Field(max_length=4000)
    author: str = Field(max_length=40)  # actor key
    author_name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
