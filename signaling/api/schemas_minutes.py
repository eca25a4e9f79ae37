"""Request and response models of the minutes routes."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from meetings.minutes.content import FREE_TEXT_MAX, MinutesContent
from meetings.minutes.models import MinutesState
from signaling.api.schemas import Out, Strict

Version = Annotated[int, Field(ge=0, le=2**31 - 1)]


class MinutesDraftIn(Strict):
    """A save of the draft: the whole sections and free text, and the version they were based on
    (0 for the first save of a pre-filled draft)."""

    version: Version
    sections: MinutesContent
    free_text: Annotated[str, Field(max_length=FREE_TEXT_MAX)] = ""


class MinutesVersionIn(Strict):
    """Submit or approve exactly the version the caller has seen."""

    version: Version


class MinutesOut(Out):
    """The minutes; ``version`` 0 means a pre-filled draft nobody has saved yet."""

    meeting_id: int
    state: MinutesState
    version: int
    sections: MinutesContent
    free_text: str
    updated_at: datetime | None
    updated_by: str | None
    submitted_at: datetime | None
    submitted_by: str | None
    approved_at: datetime | None
    approved_by: str | None
    pdf_sha256: str | None
    pdf_size: int | None
    signed: bool
    signer_subject: str | None


class SignatureOut(BaseModel):
    """One PAdES signature as pyHanko validated it."""

    intact: bool = Field(description="The signed bytes still hash to what was signed")
    valid: bool = Field(description="The cryptographic signature checks out")
    trusted: bool = Field(description="The signer chains to the configured certificate's root")
    covers_whole_file: bool = Field(description="Nothing was appended after signing")
    signer: str
    signing_time: datetime | None
    summary: str
    ok: bool


class VerifyOut(BaseModel):
    """The stored SHA-256 against the file on disk, and the file's signatures."""

    sha256: str = Field(description="SHA-256 recorded at approval")
    file_present: bool
    file_sha256: str | None = Field(description="SHA-256 of the file as it is now")
    hash_matches: bool
    signed: bool = Field(description="Whether the minutes were signed at approval")
    signatures: list[SignatureOut]
    error: str | None
    ok: bool = Field(description="Hash matches and every signature is intact, valid and trusted")
