"""Request and response models of attendance and voting."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from meetings.attendance_models import AttendanceMode, AttendanceState, QuorumRule
from meetings.voting.models import PollKind, PollState
from meetings.voting.rules import Majority, Outcome
from signaling.api.schemas import Id, Out, Strict

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class CheckInIn(Strict):
    mode: AttendanceMode = AttendanceMode.ONLINE
    account_ids: Annotated[list[Id], Field(max_length=500)] = Field(
        default_factory=list,
        description="Endpoints only: members of the endpoint's unit sitting in its room",
    )


class AttendanceRecordIn(Strict):
    state: AttendanceState
    mode: AttendanceMode | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class QuorumRuleIn(Strict):
    rule: QuorumRule


class QuorumOut(BaseModel):
    rule: QuorumRule
    members: int
    present: int
    excused: int
    required: int
    met: bool


class AttendanceOut(Out):
    attendee_key: str
    account_id: int | None
    endpoint_id: int | None
    state: AttendanceState
    mode: AttendanceMode | None
    reason: str
    checked_in_at: datetime | None
    recorded_by: str


class AttendeeOut(AttendanceOut):
    name: str
    unit_id: int
    member: bool


class AttendanceSheetOut(BaseModel):
    attendees: list[AttendeeOut]
    quorum: QuorumOut


class CheckInOut(BaseModel):
    records: list[AttendanceOut]
    quorum: QuorumOut


class PollIn(Strict):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    description: Annotated[str, StringConstraints(max_length=4000)] = ""
    kind: PollKind
    options: Annotated[list[Label], Field(max_length=50)] = Field(
        default_factory=list, description="Labels of a choice poll (yes/no/abstain has its own)"
    )
    min_choices: Annotated[int, Field(ge=0, le=50)] | None = None
    max_choices: Annotated[int, Field(ge=1, le=50)] | None = None
    secret: bool = False
    allow_change: bool = False
    majority: Majority = Majority.SIMPLE_CAST
    quorum_required: bool = True
    agenda_item_id: Id | None = None


class PollOptionOut(BaseModel):
    id: int
    position: int
    label: str
    votes: int | None = Field(description="Hidden (null) while a secret poll is open")


class PollOut(BaseModel):
    id: int
    meeting_id: int
    agenda_item_id: int | None
    title: str
    description: str
    kind: PollKind
    min_choices: int
    max_choices: int
    secret: bool
    allow_change: bool
    majority: Majority
    quorum_required: bool
    state: PollState
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    members_count: int
    present_count: int
    quorum_rule: str
    quorum_met: bool | None
    ballot_count: int
    options: list[PollOptionOut]
    outcome: Outcome | None
    decided_by: str
    result: dict[str, Any] | None
    has_voted: bool | None = Field(description="Whether the caller has voted (null: not a voter)")


class VoteIn(Strict):
    choices: Annotated[list[Id], Field(max_length=50)]


class VoteOut(BaseModel):
    poll_id: int
    changed: bool


class VoterOut(BaseModel):
    account_id: int
    has_voted: bool


class NamedBallotOut(BaseModel):
    account_id: int
    choices: list[int]
