"""A draft of the minutes pre-filled from what the meeting recorded.

``load_record`` reads everything once into a ``MeetingRecord`` (the meeting and agenda, and
through their own modules/tables the attendance sheet, published documents, speakers, closed
polls and conclusions); then one pure function per section turns the rows into that section
of ``MinutesContent``. The secretary edits the result; nothing here is written.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import attendance
from meetings.attendance import AttendanceSheet
from meetings.documents.models import Document, DocumentState, DocumentVersion
from meetings.errors import NotFound
from meetings.minutes.content import (
    AgendaRow,
    Attendance,
    AttendanceRow,
    ConclusionRow,
    DocumentRow,
    MeetingInfo,
    MinutesContent,
    PollOption,
    PollRow,
    SpeakerRow,
    nfc,
)
from meetings.models import Account, AgendaItem, Meeting, Unit
from meetings.proceedings_models import Conclusion, SpeakerRequest, SpeakerState
from meetings.voting.models import Poll, PollState
from meetings.voting.models import PollOption as VotingOption


@dataclass
class MeetingRecord:
    """Everything the minutes are pre-filled from, loaded in one go."""

    meeting: Meeting
    accounts: dict[int, Account] = field(default_factory=dict)
    units: dict[int, Unit] = field(default_factory=dict)
    agenda: list[AgendaItem] = field(default_factory=list)
    speakers: list[SpeakerRequest] = field(default_factory=list)
    conclusions: list[Conclusion] = field(default_factory=list)
    attendance_sheet: AttendanceSheet | None = None
    documents: list[tuple[Document, DocumentVersion]] = field(default_factory=list)
    polls: list[tuple[Poll, list[VotingOption]]] = field(default_factory=list)

    def account_name(self, account_id: int | None) -> str:
        """Full name of a loaded account ("" when unknown)."""
        account = self.accounts.get(account_id) if account_id is not None else None
        return account.full_name if account is not None else ""

    def unit_name(self, unit_id: int | None) -> str:
        """Name of a loaded unit ("" when unknown)."""
        unit = self.units.get(unit_id) if unit_id is not None else None
        return unit.name if unit is not None else ""


# ---- loading ------------------------------------------------------------------------------


async def _by_ids(session: AsyncSession, model: Any, ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = (await session.exec(select(model).where(col(model.id).in_(wanted)))).all()
    return {row.id: row for row in rows}


async def load_record(session: AsyncSession, meeting_id: int) -> MeetingRecord:
    """Read the meeting and everything hanging off it that the minutes report."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("meeting not found", meeting_id=meeting_id)
    record = MeetingRecord(meeting)
    record.agenda = list(
        (
            await session.exec(
                select(AgendaItem)
                .where(AgendaItem.meeting_id == meeting_id)
                .order_by(AgendaItem.position, AgendaItem.id)
            )
        ).all()
    )
    record.speakers = list(
        (
            await session.exec(
                select(SpeakerRequest)
                .where(SpeakerRequest.meeting_id == meeting_id)
                .where(col(SpeakerRequest.granted_at).is_not(None))
                .order_by(SpeakerRequest.granted_at, SpeakerRequest.id)
            )
        ).all()
    )
    record.conclusions = list(
        (
            await session.exec(
                select(Conclusion)
                .where(Conclusion.meeting_id == meeting_id)
                .order_by(Conclusion.id)
            )
        ).all()
    )
    await _collect_attendance(session, record)
    await _collect_documents(session, record)
    await _collect_polls(session, record)
    record.accounts = await _by_ids(
        session,
        Account,
        [
            meeting.chair_id,
            meeting.secretary_id,
            *(item.presenter_id for item in record.agenda),
            *(c.assignee_account_id for c in record.conclusions),
        ],
    )
    sheet_rows = record.attendance_sheet.rows if record.attendance_sheet is not None else []
    record.units = await _by_ids(
        session,
        Unit,
        [
            *(a.unit_id for a in record.accounts.values()),
            *(s.unit_id for s in record.speakers),
            *(c.assignee_unit_id for c in record.conclusions),
            *(row.unit_id for row in sheet_rows),
        ],
    )
    return record


# The attendance, documents and voting features are read through their own modules/tables;
# only what the minutes show is kept.


async def _collect_attendance(session: AsyncSession, record: MeetingRecord) -> None:
    """The attendance sheet (members first) with the quorum, from ``meetings.attendance``."""
    record.attendance_sheet = await attendance.sheet(session, record.meeting)


async def _collect_documents(session: AsyncSession, record: MeetingRecord) -> None:
    """Every version of every published document, oldest first within a document."""
    rows = await session.exec(
        select(Document, DocumentVersion)
        .join(DocumentVersion, col(DocumentVersion.document_id) == col(Document.id))
        .where(Document.meeting_id == record.meeting.id)
        .where(Document.state == DocumentState.PUBLISHED.value)
        .order_by(Document.id, DocumentVersion.number)
    )
    record.documents = list(rows.all())


async def _collect_polls(session: AsyncSession, record: MeetingRecord) -> None:
    """Closed polls in the order they closed, with their options."""
    polls = list(
        (
            await session.exec(
                select(Poll)
                .where(Poll.meeting_id == record.meeting.id)
                .where(Poll.state == PollState.CLOSED.value)
                .order_by(Poll.closed_at, Poll.id)
            )
        ).all()
    )
    options = await session.exec(
        select(VotingOption)
        .where(col(VotingOption.poll_id).in_([p.id for p in polls]))
        .order_by(VotingOption.poll_id, VotingOption.position)
    )
    by_poll: dict[int, list[VotingOption]] = {}
    for option in options.all():
        by_poll.setdefault(option.poll_id, []).append(option)
    record.polls = [(poll, by_poll.get(poll.id or 0, [])) for poll in polls]


# ---- sections -----------------------------------------------------------------------------


def meeting_section(record: MeetingRecord) -> MeetingInfo:
    """Title, times, chair, secretary and the issuing body (the chair's unit)."""
    m = record.meeting
    chair = record.accounts.get(m.chair_id)
    return MeetingInfo(
        title=nfc(m.title),
        description=nfc(m.description),
        organisation=record.unit_name(chair.unit_id) if chair is not None else "",
        starts_at=m.starts_at,
        started_at=m.started_at,
        ended_at=m.ended_at,
        chair=record.account_name(m.chair_id),
        secretary=record.account_name(m.secretary_id),
    )


def agenda_numbers(items: list[AgendaItem]) -> dict[int, str]:
    """ "1", "2", "2.1"…: each item's number in the agenda tree (siblings by position)."""
    children: dict[int | None, list[AgendaItem]] = {}
    for item in items:
        children.setdefault(item.parent_id, []).append(item)
    numbers: dict[int, str] = {}

    def walk(parent: int | None, prefix: str) -> None:
        siblings = sorted(children.get(parent, []), key=lambda i: (i.position, i.id or 0))
        for n, item in enumerate(siblings, start=1):
            number = f"{prefix}{n}"
            numbers[item.id or 0] = number
            walk(item.id, number + ".")

    walk(None, "")
    return numbers


def _agenda_label(record: MeetingRecord, numbers: dict[int, str], item_id: int | None) -> str:
    item = next((i for i in record.agenda if i.id == item_id), None)
    if item is None:
        return ""
    return f"{numbers.get(item.id or 0, '')}. {nfc(item.title)}"


def agenda_section(record: MeetingRecord) -> list[AgendaRow]:
    """The agenda in reading order (depth first), with presenters and actual times."""
    numbers = agenda_numbers(record.agenda)
    ordered = sorted(
        record.agenda,
        key=lambda i: [int(part) for part in numbers.get(i.id or 0, "0").split(".")],
    )
    return [
        AgendaRow(
            number=numbers.get(item.id or 0, ""),
            title=nfc(item.title),
            presenter=nfc(item.presenter_name) or record.account_name(item.presenter_id),
            minutes_budget=item.minutes_budget,
            started_at=item.started_at,
            ended_at=item.ended_at,
        )
        for item in ordered
    ]


def speakers_section(record: MeetingRecord) -> list[SpeakerRow]:
    """Everyone who was given the floor, in order, with the measured speaking time."""
    numbers = agenda_numbers(record.agenda)
    return [
        SpeakerRow(
            name=nfc(s.speaker_name),
            unit=record.unit_name(s.unit_id),
            topic=nfc(s.topic),
            agenda_item=_agenda_label(record, numbers, s.agenda_item_id),
            started_at=s.granted_at,
            ended_at=s.ended_at,
            seconds=s.seconds_spoken,
        )
        for s in record.speakers
        if s.state in (SpeakerState.SPEAKING.value, SpeakerState.DONE.value)
    ]


def conclusions_section(record: MeetingRecord) -> list[ConclusionRow]:
    """Conclusions in agenda order, with the assignee (a person or a unit) and deadline."""
    numbers = agenda_numbers(record.agenda)

    def order(c: Conclusion) -> tuple[list[int], int]:
        number = numbers.get(c.agenda_item_id, "0")
        return [int(part) for part in number.split(".")], c.id or 0

    return [
        ConclusionRow(
            agenda_item=_agenda_label(record, numbers, c.agenda_item_id),
            text=nfc(c.content),
            assignee=record.account_name(c.assignee_account_id)
            or record.unit_name(c.assignee_unit_id),
            deadline=c.deadline,
        )
        for c in sorted(record.conclusions, key=order)
    ]


def attendance_section(record: MeetingRecord) -> Attendance:
    """Members (present, absent, excused; online or in person), other attendees, the quorum."""
    sheet = record.attendance_sheet
    if sheet is None:
        return Attendance()
    q = sheet.quorum
    return Attendance(
        rows=[
            AttendanceRow(
                name=nfc(row.name),
                unit=record.unit_name(row.unit_id),
                status=row.state.value,
                mode=row.mode.value if row.mode is not None else "",
                reason=nfc(row.reason),
            )
            for row in sheet.rows
        ],
        members=q.members,
        present=q.present,
        quorum=q.required,
        quorum_met=q.met,
    )


def documents_section(record: MeetingRecord) -> list[DocumentRow]:
    """Each published document version, identified by its SHA-256."""
    numbers = agenda_numbers(record.agenda)
    return [
        DocumentRow(
            title=nfc(document.title),
            version=version.number,
            sha256=version.sha256,
            pages=version.pages,
            agenda_item=_agenda_label(record, numbers, document.agenda_item_id),
        )
        for document, version in record.documents
    ]


# Vietnamese wording of the voting feature's codes (the PDF is a Vietnamese record).
_CHOICE_LABELS = {"yes": "Tán thành", "no": "Không tán thành", "abstain": "Không biểu quyết"}
_MAJORITY = {
    "simple_cast": "quá nửa số phiếu biểu quyết (không tính phiếu không biểu quyết)",
    "present": "quá nửa số thành viên có mặt",
    "all_members": "quá nửa tổng số thành viên",
    "two_thirds_cast": "ít nhất hai phần ba số phiếu biểu quyết",
    "two_thirds_all": "ít nhất hai phần ba tổng số thành viên",
}


def _rule_text(poll: Poll, result: dict[str, Any]) -> str:
    words = _MAJORITY.get(poll.majority, poll.majority)
    if "required" in result and "base" in result:
        words += f", cần {result['required']}/{result['base']}"
    return words


def polls_section(record: MeetingRecord) -> list[PollRow]:
    """Closed polls with their counts, the deciding rule and the outcome."""
    numbers = agenda_numbers(record.agenda)
    rows = []
    for poll, options in record.polls:
        result: dict[str, Any] = json.loads(poll.result_json) if poll.result_json else {}
        passed = [o.label for o in options if o.id in result.get("passed_option_ids", [])]
        outcome = poll.outcome or ""
        if poll.kind != "yes_no_abstain" and passed:
            outcome = f"{outcome}: " + ", ".join(nfc(label) for label in passed)
        rows.append(
            PollRow(
                title=nfc(poll.title),
                agenda_item=_agenda_label(record, numbers, poll.agenda_item_id),
                kind=poll.kind,
                secret=poll.secret,
                rule=_rule_text(poll, result),
                options=[
                    PollOption(
                        label=_CHOICE_LABELS.get(o.label, nfc(o.label))
                        if poll.kind == "yes_no_abstain"
                        else nfc(o.label),
                        votes=o.votes,
                    )
                    for o in options
                ],
                eligible=poll.present_count,
                cast=poll.ballot_count,
                valid=poll.quorum_met if poll.quorum_required else None,
                outcome=outcome,
                closed_at=poll.closed_at,
            )
        )
    return rows


def build_content(record: MeetingRecord) -> MinutesContent:
    """Every section, from one record."""
    return MinutesContent(
        meeting=meeting_section(record),
        attendance=attendance_section(record),
        agenda=agenda_section(record),
        documents=documents_section(record),
        speakers=speakers_section(record),
        polls=polls_section(record),
        conclusions=conclusions_section(record),
    )


async def prefill(session: AsyncSession, meeting_id: int) -> MinutesContent:
    """A fresh draft's sections for ``meeting_id``."""
    return build_content(await load_record(session, meeting_id))
