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


ParticipantKey = Annotated[str, StringConstraints(pattern=r"^(account|endpoint):\d{1,10}$")]
Mid = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")]
Source = Literal["camera", "screen", "microphone"]


class RtcDescription(Payload):
    """An offer or answer, relayed to one participant (``to``) in the same meeting."""

    meeting_id: MeetingId
    to: ParticipantKey
    type: Literal["offer", "answer"]
    sdp: Annotated[str, StringConstraints(min_length=10, max_length=MAX_SDP)]

    @field_validator("sdp")
    @classmethod
    def _valid_sdp(cls, value: str) -> str:
        return _check_sdp(value)


class RtcOffer(RtcDescription):
    """Without ``to``, the offer is for the SFU; ``sources`` says what each sending mid carries."""

    type: Literal["offer"]
    to: ParticipantKey | None = None  # type: ignore[assignment]
    sources: Annotated[dict[Mid, Source], Field(max_length=16)] | None = None
    # A fresh peer connection replacing this connection's transport (the client's ICE failed).
    restart: bool = False


class RtcAnswer(RtcDescription):
    type: Literal["answer"]


class RtcCandidate(Payload):
    """A trickled ICE candidate; ``candidate`` null (or empty) marks the end of gathering."""

    meeting_id: MeetingId
    to: ParticipantKey | None = None  # None: for the SFU
    candidate: Annotated[str, StringConstraints(max_length=1024)] | None
    sdpMid: Annotated[str, StringConstraints(max_length=64)] | None = None
    sdpMLineIndex: Annotated[int, Field(ge=0, le=1024)] | None = None

    @field_validator("candidate")
    @classmethod
    def _valid_candidate(cls, value: str | None) -> str | None:
        if value and not value.startswith(("candidate:", "a=candidate:")):
            raise ValueError("ICE candidate must start with 'candidate:'")
        return value


class MediaView(Payload):
    """The height a client displays one of its receive slots at (0: hidden or unknown)."""

    meeting_id: MeetingId
    mid: Mid
    max_height: Annotated[int, Field(ge=0, le=4320, strict=True)]


class MediaSpotlight(Payload):
    """The chair shows one participant to everyone (None: back to the chair)."""

    meeting_id: MeetingId
    participant: ParticipantKey | None


class MediaPage(Payload):
    """Which page of endpoint cameras the chair's grid shows."""

    meeting_id: MeetingId
    page: Annotated[int, Field(ge=0, le=10_000, strict=True)]
