"""Validated payloads of the client → server socket.io events."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

MeetingId = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
MAX_SDP = 64 * 1024


class Payload(BaseModel):
    """Strict: unknown fields and wrong types are errors, never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class JoinPayload(Payload):
    meeting_id: MeetingId


class LeavePayload(Payload):
    meeting_id: MeetingId


def _check_sdp(sdp: str) -> str:
    lines = sdp.replace("\r\n", "\n").strip().split("\n")
    if not lines or lines[0].strip() != "v=0":
        raise ValueError("SDP must start with v=0")
    if not any(line.startswith("o=") for line in lines) or not any(
        line.startswith("m=") for line in lines
    ):
        raise ValueError("SDP needs an o= line and at least one m= section")
    for line in lines:
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise ValueError(f"malformed SDP line: {line[:40]!r}")
    return sdp


class RtcDescription(Payload):
    """An offer or answer, relayed to one participant (``to``) in the same meeting."""

    meeting_id: MeetingId
    to: Annotated[str, StringConstraints(pattern=r"^(account|endpoint):\d{1,10}$")]
    type: Literal["offer", "answer"]
    sdp: Annotated[str, StringConstraints(min_length=10, max_length=MAX_SDP)]

    @field_validator("sdp")
    @classmethod
    def _valid_sdp(cls, value: str) -> str:
        return _check_sdp(value)


class RtcOffer(RtcDescription):
    type: Literal["offer"]


class RtcAnswer(RtcDescription):
    type: Literal["answer"]


class RtcCandidate(Payload):
    """A trickled ICE candidate; ``candidate`` null (or empty) marks the end of gathering."""

    meeting_id: MeetingId
    to: Annotated[str, StringConstraints(pattern=r"^(account|endpoint):\d{1,10}$")]
    candidate: Annotated[str, StringConstraints(max_length=1024)] | None
    sdpMid: Annotated[str, StringConstraints(max_length=64)] | None = None
    sdpMLineIndex: Annotated[int, Field(ge=0, le=1024)] | None = None

    @field_validator("candidate")
    @classmethod
    def _valid_candidate(cls, value: str | None) -> str | None:
        if value and not value.startswith(("candidate:", "a=candidate:")):
            raise ValueError("ICE candidate must start with 'candidate:'")
        return value
