"""Conclusions on SQLite and PostgreSQL: record, edit, assign, delete, refusals, audit, and the
lock that approved minutes put on them."""

import asyncio
import json
from datetime import date

import pytest
from sqlalchemy import text
from sqlmodel import select

from meetings import agenda, conclusions, db
from meetings.audit import AuditEntry
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.minutes import service as minutes
from meetings.minutes.models import MinutesLocked
from meetings.minutes.store import MinutesStore
from meetings.models import MeetingState
from tests.meetings.minutes_support import FONTS
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


async def _approve_minutes(sessions, org, meeting, tmp_path, *, commit: bool = True):
    """The secretary saves and submits the pre-filled minutes; the chair approves them.

    With ``commit=False`` the approval is flushed but left open: the session is returned.
    """
    secretary = org.actor("secretary")
    async with db.transaction(sessions) as s:
        sections = (await minutes.current(s, meeting)).sections
        await minutes.save_draft(s, secretary, meeting, version=0, sections=sections, free_text="")
        await minutes.submit(s, secretary, meeting, version=1)
    config = minutes.MinutesConfig(MinutesStore(tmp_path / "minutes"), FONTS)
    if commit:
        async with db.transaction(sessions) as s:
            await minutes.approve(s, org.actor("chair"), meeting, version=2, config=config)
        return None
    s = sessions()
    await minutes.approve(s, org.actor("chair"), meeting, version=2, config=config)
    return s


async def test_approved_minutes_lock_the_conclusions(sessions, org, tmp_path):
    meeting, item = await _setup(sessions, org)
    secretary = org.actor("secretary")
    async with db.transaction(sessions) as s:
        made = await conclusions.record(s, secretary, meeting, agenda_item_id=item.id, content=TEXT)
    await _approve_minutes(sessions, org, meeting, tmp_path)
    before = await snapshot(sessions)
    for who in ("secretary", "chair"):
        actor = org.actor(who)
        for attempt in (
            lambda s, a=actor: conclusions.record(
                s, a, meeting, agenda_item_id=item.id, content="Kết luận bổ sung"
            ),
            lambda s, a=actor: conclusions.update(s, a, meeting, made.id, content="Sửa lại"),
            lambda s, a=actor: conclusions.delete(s, a, meeting, made.id),
        ):
            with pytest.raises(MinutesLocked) as refused:
                async with db.transaction(sessions) as s:
                    await attempt(s)
            assert refused.value.code == "minutes_locked"
    assert await snapshot(sessions) == before


async def test_submitted_minutes_still_take_conclusions(sessions, org, tmp_path):
    meeting, item = await _setup(sessions, org)
    secretary = org.actor("secretary")
    async with db.transaction(sessions) as s:
        sections = (await minutes.current(s, meeting)).sections
        await minutes.save_draft(s, secretary, meeting, version=0, sections=sections, free_text="")
        await minutes.submit(s, secretary, meeting, version=1)
    async with db.transaction(sessions) as s:
        made = await conclusions.record(s, secretary, meeting, agenda_item_id=item.id, content=TEXT)
    async with db.transaction(sessions) as s:
        await conclusions.update(s, secretary, meeting, made.id, content="Sửa lại")
    async with db.transaction(sessions) as s:
        await conclusions.delete(s, secretary, meeting, made.id)


async def _waiting_on_a_lock(engine) -> None:
    """Until a session of this PostgreSQL database waits for a row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        async with engine.connect() as conn:
            if (await conn.execute(query)).scalar_one() > 0:
                return
        assert asyncio.get_running_loop().time() < deadline, "nobody waits for the lock"
        await asyncio.sleep(0.02)


async def test_a_conclusion_racing_the_approval_is_refused(sessions, org, engine, tmp_path):
    meeting, item = await _setup(sessions, org)
    approving = await _approve_minutes(sessions, org, meeting, tmp_path, commit=False)
    try:

        async def record() -> None:
            async with db.transaction(sessions) as s:
                await conclusions.record(
                    s, org.actor("secretary"), meeting, agenda_item_id=item.id, content=TEXT
                )

        racer = asyncio.create_task(record())
        if engine.dialect.name == "postgresql":
            # The conclusion waits for the approval's lock (SQLite: for its write lock).
            await _waiting_on_a_lock(engine)
        await approving.commit()
    finally:
        await approving.close()
    with pytest.raises(MinutesLocked):
        await racer
    async with sessions() as s:
        assert await conclusions.list_conclusions(s, meeting.id) == []
