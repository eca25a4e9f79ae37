"""The structured sections of the minutes, as the secretary edits them and the PDF shows them.

Validated with pydantic (bounded lengths and list sizes, unknown fields refused) because the
secretary's client sends them back whole on every save; the same models are the JSON the
draft is stored as and the input of the renderer.
"""

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def nfc(value: str) -> str:
    """NFC: one code point per Vietnamese letter (decomposed input renders and compares badly)."""
    return unicodedata.normalize("NFC", value)


def _nfc_text(max_length: int) -> Any:
    return Annotated[str, Field(max_length=max_length), AfterValidator(nfc)]


Short = _nfc_text(300)
Line = _nfc_text(1000)
Long = _nfc_text(20_000)
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class Section(BaseModel):
    """Sections refuse unknown fields: a typo in a client must not silently drop text."""

    model_config = ConfigDict(extra="forbid")


class MeetingInfo(Section):
    """Who met, when and about what."""

    title: Line = ""
    description: Long = ""
    organisation: Short = ""  # the issuing body, e.g. the chair's unit
    location: Short = ""
    starts_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    chair: Short = ""
    secretary: Short = ""


class AttendanceRow(Section):
    """One member: present (online or in person), absent or excused."""

    name: Short
    unit: Short = ""
    status: Short = ""  # present / absent / excused (free text once edited)
    mode: Short = ""  # online / in_person
    reason: Line = ""


class Attendance(Section):
    """The members' list and the quorum."""

    rows: list[AttendanceRow] = Field(default_factory=list, max_length=5000)
    members: Count = 0
    present: Count = 0
    quorum: Count | None = None  # members needed
    quorum_met: bool | None = None


class AgendaRow(Section):
    """An agenda item with its number ("2.1"), presenter and actual times."""

    number: Short = ""
    title: Line
    presenter: Short = ""
    minutes_budget: Count | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class DocumentRow(Section):
    """A published document version, identified by its SHA-256."""

    title: Line
    version: Count = 1
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    pages: Count | None = None
    agenda_item: Short = ""


class SpeakerRow(Section):
    """Who spoke, on what, when and for how long."""

    name: Short
    unit: Short = ""
    topic: Line = ""
    agenda_item: Short = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    seconds: Count | None = None


class PollOption(Section):
    """One answer of a poll and the votes it got."""

    label: Short
    votes: Count = 0


class PollRow(Section):
    """A poll with its result and the rule that decided it."""

    title: Line
    agenda_item: Short = ""
    kind: Short = ""  # yes_no_abstain / single / multiple
    secret: bool = False
    rule: Short = ""  # the majority rule, as a code or text
    options: list[PollOption] = Field(default_factory=list, max_length=200)
    eligible: Count | None = None
    cast: Count | None = None
    valid: bool | None = None  # quorum reached
    outcome: Line = ""  # e.g. "adopted" / "rejected" / the winning option
    closed_at: datetime | None = None


class ConclusionRow(Section):
    """A conclusion on an agenda item, with the assignee and deadline if any."""

    agenda_item: Short = ""
    text: Long
    assignee: Short = ""
    deadline: date | None = None


class MinutesContent(Section):
    """Every structured section of the minutes."""

    meeting: MeetingInfo = Field(default_factory=MeetingInfo)
    attendance: Attendance = Field(default_factory=Attendance)
    agenda: list[AgendaRow] = Field(default_factory=list, max_length=1000)
    documents: list[DocumentRow] = Field(default_factory=list, max_length=2000)
    speakers: list[SpeakerRow] = Field(default_factory=list, max_length=5000)
    polls: list[PollRow] = Field(default_factory=list, max_length=500)
    conclusions: list[ConclusionRow] = Field(default_factory=list, max_length=2000)


FREE_TEXT_MAX = 100_000  # characters; the whole body must also fit PHONGHOP_MAX_BODY_BYTES


def normalise_free_text(text: str) -> str:
    """NFC and ``\\n`` line ends for the secretary's free text."""
    return nfc(text.replace("\r\n", "\n").replace("\r", "\n"))
