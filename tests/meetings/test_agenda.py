"""The agenda service on SQLite and PostgreSQL: tree, dense order, current item, refusals."""

import asyncio
from datetime import UTC, datetime

import pytest

from meetings import agenda, audit, db
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import AgendaItemState, MeetingState
from meetings.proceedings_models import Conclusion
from tests.meetings.proceedings_support import add_meeting, audit_actions, snapshot


async def _item(sessions, org, meeting, title: str, **kw):
    async with db.transaction(sessions) as s:
        return await agenda.create_item(s, org.actor("secretary"), meeting, title=title, **kw)


async def _agenda(sessions, meeting_id: int) -> list[tuple[str, int | None, int, str]]:
    async with sessions() as s:
        items = await agenda.list_items(s, meeting_id)
    return [(i.title, i.parent_id, i.position, i.state) for i in items]


async def test_items_and_sub_items_are_read_in_tree_order(sessions, org):
    meeting = await add_meeting(sessions, org, MeetingState.SCHEDULED)
    one = await _item(
        sessions,
        org,
        meeting,
        "Báo cáo tình hình kinh tế - xã hội",
        presenter_id=org.accounts["delegate"].id,
        minutes_budget=30,
    )
    two = await _item(
        sessions, org, meeting, "Tờ trình về ngân sách", presenter_name="Sở Tài chính"
    )
    await _item(sessions, org, meeting, "Nông nghiệp", parent_id=one.id)
    await _item(sessions, org, meeting, "Công nghiệp", parent_id=one.id)
    assert await _agenda(sessions, meeting.id) == [
        ("Báo cáo tình hình kinh tế - xã hội", None, 0, "pending"),
        ("Nông nghiệp", one.id, 0, "pending"),
        ("Công nghiệp", one.id, 1, "pending"),
        ("Tờ trình về ngân sách", None, 1, "pending"),
    ]
    assert (one.presenter_id, one.minutes_budget) == (org.accounts["delegate"].id, 30)
    assert two.presenter_name == "Sở Tài chính"
    assert (await audit_actions(sessions, meeting.id)) == ["agenda_item.created"] * 4


async def test_reorder_keeps_positions_dense_and_refuses_partial_orders(sessions, org):
    meeting = await add_meeting(sessions, org, MeetingState.SCHEDULED)
    a, b, c = [await _item(sessions, org, meeting, t) for t in ("Mục A", "Mục B", "Mục C")]
    async with db.transaction(sessions) as s:
        await agenda.reorder(s, org.actor("chair"), meeting, None, [c.id, a.id, b.id])
    assert [t for t, *_ in await _agenda(sessions, meeting.id)] == ["Mục C", "Mục A", "Mục B"]
    assert [p for _, _, p, _ in await _agenda(sessions, meeting.id)] == [0, 1, 2]

    before = await snapshot(sessions)
    for order in ([a.id, b.id], [a.id, b.id, c.id, c.id], [a.id, b.id, 999_999]):
        with pytest.raises(InvalidInput):
            async with db.transaction(sessions) as s:
                await agenda.reorder(s, org.actor("chair"), meeting, None, order)
    with pytest.raises(NotFound):
        async with db.transaction(sessions) as s:
            await agenda.reorder(s, org.actor("chair"), meeting, 999_999, [])
    assert await snapshot(sessions) == before

    # Deleting closes the gap; moving under another parent closes it in the old level.
    async with db.transaction(sessions) as s:
        await agenda.delete_item(s, org.actor("chair"), meeting, a.id)
    async with db.transaction(sessions) as s:
        await agenda.update_item(s, org.actor("chair"), meeting, c.id, parent_id=b.id)
    assert await _agenda(sessions, meeting.id) == [
        ("Mục B", None, 0, "pending"),
        ("Mục C", b.id, 0, "pending"),
    ]


async def test_parent_cycles_and_foreign_items_are_refused(sessions, org):
    meeting = await add_meeting(sessions, org, MeetingState.SCHEDULED)
    other = await add_meeting(sessions, org, MeetingState.SCHEDULED)
    top = await _item(sessions, org, meeting, "Mục 1")
    sub = await _item(sessions, org, meeting, "Mục 1.1", parent_id=top.id)
    subsub = await _item(sessions, org, meeting, "Mục 1.1.1", parent_id=sub.id)
    foreign = await _item(sessions, org, other, "Mục của phiên khác")
    before = await snapshot(sessions)
    secretary = org.actor("secretary")
    refusals = [
        (InvalidInput, agenda.update_item, (meeting, top.id), {"parent_id": top.id}),
        (InvalidInput, agenda.update_item, (meeting, top.id), {"parent_id": subsub.id}),
        (InvalidInput, agenda.update_item, (meeting, top.id), {"parent_id": foreign.id}),
        (InvalidInput, agenda.create_item, (meeting,), {"title": "X", "parent_id": foreign.id}),
        (InvalidInput, agenda.create_item, (meeting,), {"title": "   "}),
        (InvalidInput, agenda.create_item, (meeting,), {"title": "X", "minutes_budget": 0}),
        (InvalidInput, agenda.create_item, (meeting,), {"title": "X", "presenter_id": 999_999}),
        (NotFound, agenda.update_item, (meeting, foreign.id), {"title": "Chiếm"}),
        (NotFound, agenda.delete_item, (meeting, foreign.id), {}),
        (NotFound, agenda.update_item, (meeting, 999_999), {"title": "Không có"}),
    ]
    for error, service, args, kwargs in refusals:
        with pytest.raises(error):
            async with db.transaction(sessions) as s:
                await service(s, secretary, *args, **kwargs)
    assert await snapshot(sessions) == before


async def test_the_chair_moves_through_the_agenda(sessions, org, monkeypatch):
    meeting = await add_meeting(sessions, org)
    top = await _item(sessions, org, meeting, "Khai mạc")
    report = await _item(sessions, org, meeting, "Báo cáo")
    sub = await _item(sessions, org, meeting, "Thảo luận", parent_id=report.id)
    times = iter(datetime(2026, 11, 24, 1, m, tzinfo=UTC) for m in range(0, 60, 5))
    monkeypatch.setattr(agenda, "utcnow", lambda: next(times))
    chair = org.actor("chair")
    walked = []
    for _ in range(3):
        async with db.transaction(sessions) as s:
            change = await agenda.next_item(s, chair, meeting)
        walked.append(
            (change.previous.id if change.previous else None, change.current and change.current.id)
        )
    assert walked == [(None, top.id), (top.id, report.id), (report.id, sub.id)]
    async with db.transaction(sessions) as s:
        change = await agenda.set_current(s, chair, meeting, None)  # wrap up
    assert change.previous.id == sub.id and change.current is None
    async with sessions() as s:
        items = {i.id: i for i in await agenda.list_items(s, meeting.id)}
    assert all(i.state == AgendaItemState.DONE.value for i in items.values())
    assert items[top.id].started_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert items[top.id].ended_at == datetime(2026, 11, 24, 1, 5, tzinfo=UTC)
    assert items[sub.id].ended_at == datetime(2026, 11, 24, 1, 15, tzinfo=UTC)
    assert (await audit_actions(sessions, meeting.id))[-4:] == ["agenda.current_changed"] * 4
    async with sessions() as s:
        (report_chain,) = await audit.verify(s, f"meeting:{meeting.id}")
    assert report_chain.ok, report_chain.problems


async def test_wrong_state_transitions_are_refused(sessions, org):
    scheduled = await add_meeting(sessions, org, MeetingState.SCHEDULED)
    live = await add_meeting(sessions, org)
    ended = await add_meeting(sessions, org, MeetingState.ENDED)
    pending = await _item(sessions, org, scheduled, "Chưa họp")
    first = await _item(sessions, org, live, "Mục 1")
    second = await _item(sessions, org, live, "Mục 2")
    async with db.transaction(sessions) as s:
        await agenda.set_current(s, org.actor("chair"), live, first.id)
    async with db.transaction(sessions) as s:
        await agenda.set_current(s, org.actor("chair"), live, second.id)
    before = await snapshot(sessions)
    chair = org.actor("chair")
    refusals = [
        (Conflict, agenda.set_current, (scheduled, pending.id)),  # not in session
        (Conflict, agenda.next_item, (scheduled,)),
        (Conflict, agenda.set_current, (live, first.id)),  # done: not reopened
        (Conflict, agenda.set_current, (live, second.id)),  # already current
        (NotFound, agenda.set_current, (live, pending.id)),  # another meeting's item
        (Conflict, agenda.delete_item, (live, first.id)),  # started
        (Conflict, agenda.delete_item, (live, second.id)),
        (Conflict, agenda.create_item, (ended,), {"title": "Muộn"}),
    ]
    for error, service, args, *kw in refusals:
        with pytest.raises(error):
            async with db.transaction(sessions) as s:
                await service(s, chair, *args, **(kw[0] if kw else {}))
    assert await snapshot(sessions) == before
    async with db.transaction(sessions) as s:
        await agenda.next_item(s, chair, live)  # closes "Mục 2", nothing left
    with pytest.raises(Conflict):
        async with db.transaction(sessions) as s:
            await agenda.next_item(s, chair, live)


async def test_delete_removes_sub_items_but_not_what_is_referred_to(sessions, org):
    meeting = await add_meeting(sessions, org)
    top = await _item(sessions, org, meeting, "Mục có mục con")
    await _item(sessions, org, meeting, "Mục con", parent_id=top.id)
    kept = await _item(sessions, org, meeting, "Mục có kết luận")
    async with db.transaction(sessions) as s:
        s.add(
            Conclusion(
                meeting_id=meeting.id,
                agenda_item_id=kept.id,
                content="Giao Sở Tài chính chủ trì",
                created_by="account:1",
                updated_by="account:1",
            )
        )
    async with db.transaction(sessions) as s:
        await agenda.delete_item(s, org.actor("secretary"), meeting, top.id)
    assert await _agenda(sessions, meeting.id) == [("Mục có kết luận", None, 0, "pending")]
    before = await snapshot(sessions)
    with pytest.raises(Conflict):
        async with db.transaction(sessions) as s:
            await agenda.delete_item(s, org.actor("secretary"), meeting, kept.id)
    assert await snapshot(sessions) == before


async def test_concurrent_moves_leave_one_current_item(sessions, org):
    """Double clicks on "next": applied one after the other, never two current items."""
    meeting = await add_meeting(sessions, org)
    for n in range(6):
        await _item(sessions, org, meeting, f"Mục {n + 1}")

    async def press() -> None:
        async with db.transaction(sessions) as s:
            await agenda.next_item(s, org.actor("chair"), meeting)

    await asyncio.gather(*(press() for _ in range(4)))
    states = [state for *_, state in await _agenda(sessions, meeting.id)]
    assert states == ["done", "done", "done", "current", "pending", "pending"]
