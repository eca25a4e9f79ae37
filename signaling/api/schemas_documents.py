"""Request and response models of the documents routes."""

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from meetings.actor import ActorKind
from meetings.documents.models import DocumentState
from signaling.api.schemas import Id, Out, Strict

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class DocumentForm(Strict):
    """The text fields of a multipart upload (besides the ``file`` part)."""

    title: Title | None = None  # default: the file name without ``.pdf``
    confidential: bool = False
    agenda_item_id: Id | None = None


class VersionOut(Out):
    number: int
    sha256: str
    size: int
    pages: int
    filename: str
    uploaded_by: str
    created_at: datetime


class DocumentOut(Out):
    id: int
    meeting_id: int
    agenda_item_id: int | None
    title: str
    confidential: bool
    state: DocumentState
    publish_at: datetime | None
    published_at: datetime | None
    current_version: int
    created_at: datetime
    updated_at: datetime
    version: VersionOut  # the current one


class DocumentDetailOut(DocumentOut):
    versions: list[VersionOut]  # oldest first


class DocumentPatch(Strict):
    title: Title | None = None
    confidential: bool | None = None
    agenda_item_id: Id | None = None  # explicit null: the meeting as a whole


class PublishIn(Strict):
    publish_at: AwareDatetime | None = None  # absent or past: now


class OpenedOut(Out):
    reader: str
    name: str
    version: int
    opened_at: datetime


class ReaderOut(Out):
    key: str
    kind: ActorKind
    id: int
    name: str
    unit_id: int
    unit_name: str


class ReceiptsOut(Out):
    current_version: int
    opened: list[OpenedOut]
    not_opened: list[ReaderOut]  # invitees who have not opened the current version


class SearchQuery(Strict):
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    limit: int = Field(default=20, ge=1, le=100)


class SearchHitOut(Out):
    document_id: int
    title: str
    version: int
    page: int
    snippet: str


class CommentIn(Strict):
    page: int = Field(ge=1, le=1_000_000)
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)  # default: the current one


class CommentOut(BaseModel):
    id: int
    document_id: int
    version: int
    page: int
    body: str
    author: str
    author_name: str
    created_at: datetime


def document_out(document: object, version: object) -> DocumentOut:
    """A document row with its current version row, as the API shows it."""
    fields = {
        name: getattr(document, name) for name in DocumentOut.model_fields if name != "version"
    }
    return DocumentOut(**fields, version=VersionOut.model_validate(version))
