"""Request and response models of the agenda, speakers, conclusions and audit-log API.

The socket.io payloads of the speaker events are here too: one definition of each input,
whichever transport it arrives by.
"""

from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from meetings.agenda import MAX_MINUTES_BUDGET
from meetings.conclusions import MAX_CONTENT
from meetings.models import AgendaItemState
from meetings.proceedings_models import SpeakerState
from signaling.api.schemas import Id, Out, Strict

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Description = Annotated[str, StringConstraints(max_length=4000)]
PresenterName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Budget = Annotated[int, Field(ge=1, le=MAX_MINUTES_BUDGET)]
Topic = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Content = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CONTENT)
]
IdList = Annotated[list[Id], Field(max_length=1000)]


# ---- agenda -----------------------------------------------------------------------------------


class AgendaItemIn(Strict):
    title: Title
    description: Description = ""
    parent_id: Id | None = None
    presenter_id: Id | None = None
    presenter_name: PresenterName = ""
    minutes_budget: Budget | None = None


class _Patch(Strict):
    """A partial update: fields not sent stay as they are; ``null`` clears a clearable one."""

    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_null(self) -> "_Patch":
        cleared = sorted(
            n for n in self.model_fields_set & self.NOT_NULL if getattr(self, n) is None
        )
        if cleared:
            raise ValueError(f"cannot be null: {', '.join(cleared)}")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, as service keyword arguments."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class AgendaItemPatch(_Patch):
    """Only the fields sent change; ``null`` clears a parent, presenter or budget."""

    NOT_NULL = frozenset({"title", "description", "presenter_name"})

    title: Title | None = None
    description: Description | None = None
    parent_id: Id | None = None
    presenter_id: Id | None = None
    presenter_name: PresenterName | None = None
    minutes_budget: Budget | None = None


class AgendaReorderIn(Strict):
    parent_id: Id | None = Field(default=None, description="null: the top level")
    item_ids: IdList = Field(description="Every item of that level, in the new order")


class AgendaCurrentIn(Strict):
    item_id: Id | None = Field(description="A pending item; null closes the current one")


class AgendaItemOut(Out):
    id: int
    meeting_id: int
    parent_id: int | None
    position: int
    title: str
    description: str
    presenter_id: int | None
    presenter_name: str
    minutes_budget: int | None
    state: AgendaItemState
    started_at: datetime | None
    ended_at: datetime | None


class AgendaCurrentOut(BaseModel):
    previous: AgendaItemOut | None
    current: AgendaItemOut | None


# ---- speakers ---------------------------------------------------------------------------------


class SpeakerRequestIn(Strict):
    topic: Topic = ""
    agenda_item_id: Id | None = Field(default=None, description="Default: the current item")


class SpeakerReorderIn(Strict):
    request_ids: IdList = Field(description="Every waiting request, in the new order")


class SpeakerOut(Out):
    id: int
    meeting_id: int
    agenda_item_id: int | None
    speaker_key: str
    account_id: int | None
    endpoint_id: int | None
    unit_id: int
    speaker_name: str
    topic: str
    state: SpeakerState
    position: int | None
    requested_at: datetime
    granted_at: datetime | None
    ended_at: datetime | None
    seconds_spoken: int | None
    item_minutes_budget: int | None = Field(
        default=None, description="The time budget of the request's agenda item"
    )


class CurrentItemOut(Out):
    id: int
    title: str
    minutes_budget: int | None
    started_at: datetime | None


class SpeakerListOut(BaseModel):
    meeting_id: int
    now: datetime = Field(description="Server time, to show elapsed speaking time")
    speaking: SpeakerOut | None
    waiting: list[SpeakerOut]
    finished: list[SpeakerOut]
    current_item: CurrentItemOut | None


# ---- conclusions ------------------------------------------------------------------------------


class ConclusionIn(Strict):
    agenda_item_id: Id
    content: Content
    assignee_account_id: Id | None = None
    assignee_unit_id: Id | None = None
    deadline: date | None = None


class ConclusionPatch(_Patch):
    """Only the fields sent change; ``null`` clears an assignee or the deadline."""

    NOT_NULL = frozenset({"agenda_item_id", "content"})

    agenda_item_id: Id | None = None
    content: Content | None = None
    assignee_account_id: Id | None = None
    assignee_unit_id: Id | None = None
    deadline: date | None = None


class ConclusionFilter(Strict):
    agenda_item_id: Id | None = None


class ConclusionOut(Out):
    id: int
    meeting_id: int
    agenda_item_id: int
    content: str
    assignee_account_id: int | None
    assignee_unit_id: int | None
    deadline: date | None
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


# ---- audit log --------------------------------------------------------------------------------


class AuditPageQuery(Strict):
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    before: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        default=None, description="Entries older than this sequence number (the next page)"
    )


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    chain: str
    entries: list[AuditEntryOut]
    next_before: int | None = Field(description="Pass as ``before`` for the next page")


class AuditVerifyQuery(Strict):
    meeting_id: Id | None = None


class ChainReportOut(BaseModel):
    chain: str
    entries: int
    ok: bool
    problems: list[str]


class AuditVerifyOut(BaseModel):
    ok: bool
    chains: list[ChainReportOut]


# ---- socket.io payloads -----------------------------------------------------------------------

MeetingId = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
StrictId = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]


class SocketPayload(BaseModel):
    """Strict, like every socket.io payload: unknown fields and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)

    meeting_id: MeetingId


class SpeakerRequestPayload(SocketPayload):
    topic: Topic = ""
    agenda_item_id: StrictId | None = None


class SpeakerGrantPayload(SocketPayload):
    request_id: StrictId


class SpeakerReorderPayload(SocketPayload):
    request_ids: Annotated[list[StrictId], Field(max_length=1000)]
