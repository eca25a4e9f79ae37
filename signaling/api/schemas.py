"""Request and response models of the REST API (the OpenAPI document is built from these)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from meetings.models import DEFAULT_MEETING_MINUTES, InviteeKind, MeetingState, Role, UnitKind
from meetings.scheduling import MAX_MINUTES, MIN_MINUTES

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._-]+$"
    ),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]
Minutes = Annotated[int, Field(ge=MIN_MINUTES, le=MAX_MINUTES, description="planned length")]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """Responses are read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class LoginIn(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    password: Password


class DeviceLoginIn(Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PasswordChangeIn(Strict):
    current_password: Password
    new_password: Password


class PasswordResetIn(Strict):
    new_password: Password | None = None


class UnitIn(Strict):
    name: Name
    kind: UnitKind
    parent_id: Id | None = None
    code: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None
    ) = None


class UnitOut(Out):
    id: int
    name: str
    kind: UnitKind
    code: str | None
    parent_id: int | None


class AccountIn(Strict):
    username: Username
    full_name: Name
    unit_id: Id
    role: Role
    password: Password
    email: Email | None = Field(default=None, description="for invitations by e-mail")


class AccountPatch(Strict):
    full_name: Name | None = None
    unit_id: Id | None = None
    role: Role | None = None
    active: bool | None = None
    email: Email | None = Field(default=None, description="null removes the address")


class AccountOut(Out):
    id: int
    username: str
    full_name: str
    unit_id: int
    role: Role
    active: bool
    email: str | None = None


class EndpointIn(Strict):
    name: Name
    unit_id: Id


class EndpointOut(Out):
    id: int
    name: str
    unit_id: int
    active: bool
    token_issued_at: datetime | None


class EndpointWithToken(BaseModel):
    endpoint: EndpointOut
    token: str = Field(description="The device token; shown only in this response")
    login_path: str


class MeResponse(BaseModel):
    kind: str
    id: int
    name: str
    unit_id: int
    role: Role | None
    csrf_token: str | None = None
    username: str | None = None


class LoginResponse(BaseModel):
    account: AccountOut
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    csrf_token: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class PasswordResetOut(BaseModel):
    password: str = Field(description="The new password; shown only in this response")


class MeetingIn(Strict):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    description: Annotated[str, StringConstraints(max_length=4000)] = ""
    starts_at: datetime
    duration_minutes: Minutes = DEFAULT_MEETING_MINUTES
    chair_id: Id
    secretary_id: Id | None = None


class MeetingPatch(Strict):
    title: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
        | None
    ) = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    starts_at: datetime | None = None
    duration_minutes: Minutes | None = None
    chair_id: Id | None = None
    secretary_id: Id | None = None


class MeetingCancelIn(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class MeetingOut(Out):
    id: int
    title: str
    description: str
    starts_at: datetime
    duration_minutes: int
    ends_at: datetime
    chair_id: int
    secretary_id: int | None
    state: MeetingState
    started_at: datetime | None
    ended_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    calendar_sequence: int
    locked: bool = Field(description="the chair closed the room to newcomers")


class Invitee(Strict):
    kind: InviteeKind
    id: Id


class InvitationsIn(Strict):
    invitees: Annotated[list[Invitee], Field(min_length=1, max_length=2000)]


class InvitationOut(Out):
    id: int
    meeting_id: int
    invitee_kind: InviteeKind
    unit_id: int | None
    account_id: int | None
    endpoint_id: int | None


class ParticipantOut(BaseModel):
    key: str
    kind: str
    id: int
    name: str
    unit_id: int
    unit_name: str
    role: str | None
    meeting_role: str
    connected: bool


class UnitFilter(Strict):
    unit_id: Id | None = None


class HealthOut(BaseModel):
    status: str
    version: str
    database: str
    redis: str
    minutes: str = "ok"  # "error": approving minutes will fail (see problems)
    problems: list[str] = Field(default_factory=list)  # error codes; details are in the log
