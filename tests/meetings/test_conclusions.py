"""Conclusions on SQLite and PostgreSQL: record, edit, assign, delete, refusals, audit."""

import json
from datetime import date

import pytest
from sqlmodel import select

from meetings import agenda, conclusions, db
from meetings.audit import AuditEntry
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import MeetingState
from tests.meetings.proceedings_support import add_meeting, audit_actions, snapshot

TEXT = "Giao Sở Tài chính chủ trì, phối hợp với UBND huyện Ba Chẽ rà soát nguồn vốn."


async def _setup(sessions, org, state: MeetingState = MeetingState.LIVE):
    meeting = await add_meeting(sessions, org, state)
    async with db.transaction(sessions) as s:
        item = await agenda.create_item(s, org.actor("chair"), meeting, title="Đầu tư công")
    return meeting, item


async def test_record_edit_and_delete_a_conclusion(sessions, org):
    meeting, item = await _setup(sessions, org)
    secretary = org.actor("secretary")
    async with db.transaction(sessions) as s:
        made = await conclusions.record(
            s,
            secretary,
            meeting,
            agenda_item_id=item.id,
            content=f"  {TEXT}  ",
            assignee_unit_id=org.district,
            deadline=date(2026, 12, 31),
        )
    assert made.content == TEXT and made.created_by == secretary.key
    async with db.transaction(sessions) as s:  # reassigned to a person, no deadline
        changed = await conclusions.update(
            s,
            org.actor("chair"),
            meeting,
            made.id,
            assignee_unit_id=None,
            assignee_account_id=org.accounts["delegate"].id,
            deadline=None,
        )
    assert (changed.assignee_unit_id, changed.assignee_account_id, changed.deadline) == (
        None,
        org.accounts["delegate"].id,
        None,
    )
    assert changed.updated_by == org.actor("chair").key and changed.content == TEXT
    async with sessions() as s:
        assert [c.id for c in await conclusions.list_conclusions(s, meeting.id, item.id)] == [
            made.id
        ]
    async with db.transaction(sessions) as s:
        await conclusions.delete(s, secretary, meeting, made.id)
    async with sessions() as s:
        assert await conclusions.list_conclusions(s, meeting.id) == []
        entries = (
            await s.exec(select(AuditEntry).where(AuditEntry.chain == f"meeting:{meeting.id}"))
        ).all()
    assert await audit_actions(sessions, meeting.id) == [
        "agenda_item.created",
        "conclusion.recorded",
        "conclusion.updated",
        "conclusion.deleted",
    ]
    deleted = json.loads(entries[-1].before_json)
    assert deleted["content"] == TEXT  # what was removed stays on the record


async def test_an_ended_meeting_still_takes_conclusions(sessions, org):
    meeting, item = await _setup(sessions, org)
    meeting.state = MeetingState.ENDED.value  # written up after the session
    async with db.transaction(sessions) as s:
        made = await conclusions.record(
            s, org.actor("secretary"), meeting, agenda_item_id=item.id, content=TEXT
        )
    assert made.id is not None


async def test_bad_conclusions_are_refused_and_nothing_changes(sessions, org):
    meeting, item = await _setup(sessions, org)
    other, foreign_item = await _setup(sessions, org)
    async with db.transaction(sessions) as s:
        made = await conclusions.record(
            s, org.actor("secretary"), meeting, agenda_item_id=item.id, content=TEXT
        )
    async with db.transaction(sessions) as s:
        elsewhere = await conclusions.record(
            s, org.actor("secretary"), other, agenda_item_id=foreign_item.id, content=TEXT
        )
    before = await snapshot(sessions)
    secretary = org.actor("secretary")
    record = conclusions.record
    refusals = [
        (InvalidInput, record, (meeting,), {"agenda_item_id": foreign_item.id, "content": TEXT}),
        (InvalidInput, record, (meeting,), {"agenda_item_id": 999_999, "content": TEXT}),
        (InvalidInput, record, (meeting,), {"agenda_item_id": item.id, "content": "   "}),
        (
            InvalidInput,
            record,
            (meeting,),
            {
                "agenda_item_id": item.id,
                "content": TEXT,
                "assignee_account_id": org.accounts["delegate"].id,
                "assignee_unit_id": org.district,
            },
        ),
        (
            InvalidInput,
            record,
            (meeting,),
            {"agenda_item_id": item.id, "content": TEXT, "assignee_account_id": 999_999},
        ),
        (
            InvalidInput,
            record,
            (meeting,),
            {"agenda_item_id": item.id, "content": TEXT, "assignee_unit_id": 999_999},
        ),
        (NotFound, conclusions.update, (meeting, elsewhere.id), {"content": "Sửa trộm"}),
        (NotFound, conclusions.delete, (meeting, elsewhere.id), {}),
        (InvalidInput, conclusions.update, (meeting, made.id), {"agenda_item_id": 999_999}),
        # A unit added to an account assignee would make two assignees.
        (
            InvalidInput,
            conclusions.update,
            (meeting, made.id),
            {"assignee_account_id": org.accounts["delegate"].id, "assignee_unit_id": org.district},
        ),
    ]
    for error, service, args, kwargs in refusals:
        with pytest.raises(error):
            async with db.transaction(sessions) as s:
                await service(s, secretary, *args, **kwargs)
    meeting.state = "cancelled"
    with pytest.raises(Conflict):
        async with db.transaction(sessions) as s:
            await record(s, secretary, meeting, agenda_item_id=item.id, content=TEXT)
    assert await snapshot(sessions) == before
