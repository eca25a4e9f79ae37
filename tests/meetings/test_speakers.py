"""The list of speakers on SQLite and PostgreSQL: queue, grant, timing, refusals, races."""

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from meetings import agenda, audit, db, speakers
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import MeetingState
from meetings.proceedings_models import SpeakerRequest
from tests.meetings.proceedings_support import add_meeting, audit_actions, snapshot


async def _ask(sessions, org, meeting, who: str, topic: str = "", **kw) -> SpeakerRequest:
    async with db.transaction(sessions) as s:
        return await speakers.request_to_speak(s, org.actor(who), meeting, topic, **kw)


async def _listing(sessions, meeting_id: int) -> speakers.SpeakerList:
    async with sessions() as s:
        return await speakers.speaker_list(s, meeting_id)


async def test_requests_queue_up_on_the_current_item(sessions, org):
    meeting = await add_meeting(sessions, org)
    async with db.transaction(sessions) as s:
        item = await agenda.create_item(
            s, org.actor("chair"), meeting, title="Dự toán ngân sách 2027", minutes_budget=45
        )
    async with db.transaction(sessions) as s:
        await agenda.set_current(s, org.actor("chair"), meeting, item.id)
    first = await _ask(sessions, org, meeting, "delegate", "Ý kiến về thu ngân sách xã")
    second = await _ask(sessions, org, meeting, "thanhson", "Kiến nghị của xã Thanh Sơn")
    third = await _ask(sessions, org, meeting, "secretary")
    listing = await _listing(sessions, meeting.id)
    assert [(r.id, r.position) for r in listing.waiting] == [
        (first.id, 0),
        (second.id, 1),
        (third.id, 2),
    ]
    assert listing.speaking is None and listing.finished == []
    assert {r.agenda_item_id for r in listing.waiting} == {item.id}
    assert listing.current_item.id == item.id and listing.budgets[item.id] == 45
    assert second.speaker_key == org.actor("thanhson").key and second.endpoint_id is not None
    assert first.speaker_name == org.accounts["delegate"].full_name
    assert first.topic == "Ý kiến về thu ngân sách xã"


async def test_grant_end_and_the_time_spoken(sessions, org, monkeypatch):
    meeting = await add_meeting(sessions, org)
    first = await _ask(sessions, org, meeting, "delegate", "Giao thông nông thôn")
    second = await _ask(sessions, org, meeting, "thanhson", "Thủy lợi")
    t0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    # grant, grant, end; then the listings' "now".
    clock = itertools.chain(
        [t0, t0 + timedelta(seconds=95)], itertools.repeat(t0 + timedelta(seconds=215))
    )
    monkeypatch.setattr(speakers, "utcnow", lambda: next(clock))
    chair = org.actor("chair")
    async with db.transaction(sessions) as s:
        result = await speakers.grant(s, chair, meeting, first.id)
    assert result.ended is None and result.granted.granted_at == t0
    async with db.transaction(sessions) as s:  # granting the next one ends the first speech
        result = await speakers.grant(s, chair, meeting, second.id)
    assert result.ended.id == first.id and result.ended.seconds_spoken == 95
    async with db.transaction(sessions) as s:
        ended = await speakers.end(s, chair, meeting)
    assert ended.id == second.id and ended.seconds_spoken == 120
    listing = await _listing(sessions, meeting.id)
    assert listing.speaking is None and listing.waiting == []
    assert [(r.id, r.seconds_spoken, r.state) for r in listing.finished] == [
        (first.id, 95, "done"),
        (second.id, 120, "done"),
    ]
    assert listing.finished[0].ended_at == t0 + timedelta(seconds=95)
    # Having spoken, one may ask again.
    again = await _ask(sessions, org, meeting, "delegate", "Bổ sung")
    assert again.state == "waiting" and again.position == 0
    actions = await audit_actions(sessions, meeting.id)
    assert actions == [
        "speaker.requested",
        "speaker.requested",
        "speaker.granted",
        "speaker.ended",
        "speaker.granted",
        "speaker.ended",
        "speaker.requested",
    ]
    async with sessions() as s:
        (chain,) = await audit.verify(s, f"meeting:{meeting.id}")
    assert chain.ok, chain.problems


async def test_withdraw_remove_and_reorder_keep_the_queue_dense(sessions, org):
    meeting = await add_meeting(sessions, org)
    a = await _ask(sessions, org, meeting, "delegate")
    b = await _ask(sessions, org, meeting, "thanhson")
    c = await _ask(sessions, org, meeting, "dondac")
    d = await _ask(sessions, org, meeting, "secretary")
    chair = org.actor("chair")
    async with db.transaction(sessions) as s:
        await speakers.reorder(s, chair, meeting, [d.id, c.id, b.id, a.id])
    async with db.transaction(sessions) as s:
        withdrawn = await speakers.withdraw(s, org.actor("thanhson"), meeting)
    assert withdrawn.id == b.id and withdrawn.state == "withdrawn"
    async with db.transaction(sessions) as s:
        await speakers.remove(s, chair, meeting, d.id)
    listing = await _listing(sessions, meeting.id)
    assert [(r.id, r.position) for r in listing.waiting] == [(c.id, 0), (a.id, 1)]
    assert (await audit_actions(sessions, meeting.id))[-3:] == [
        "speakers.reordered",
        "speaker.withdrawn",
        "speaker.removed",
    ]


async def test_refusals_leave_the_database_unchanged(sessions, org):
    meeting = await add_meeting(sessions, org)
    scheduled = await add_meeting(sessions, org, MeetingState.SCHEDULED)
    ended = await add_meeting(sessions, org, MeetingState.ENDED)
    async with db.transaction(sessions) as s:
        done_item = await agenda.create_item(s, org.actor("chair"), meeting, title="Đã xong")
        foreign_item = await agenda.create_item(s, org.actor("chair"), scheduled, title="Khác")
    async with db.transaction(sessions) as s:
        await agenda.set_current(s, org.actor("chair"), meeting, done_item.id)
    async with db.transaction(sessions) as s:
        await agenda.set_current(s, org.actor("chair"), meeting, None)
    mine = await _ask(sessions, org, meeting, "delegate")
    waiting_elsewhere = await _ask(sessions, org, scheduled, "delegate")
    other = await _ask(sessions, org, meeting, "thanhson")
    async with db.transaction(sessions) as s:
        await speakers.grant(s, org.actor("chair"), meeting, other.id)
    before = await snapshot(sessions)
    chair, delegate = org.actor("chair"), org.actor("delegate")
    refusals = [
        (Conflict, speakers.request_to_speak, (delegate, meeting)),  # one open request
        (Conflict, speakers.request_to_speak, (org.actor("thanhson"), meeting)),  # speaking
        (InvalidInput, speakers.request_to_speak, (org.actor("dondac"), meeting, "", 999_999)),
        (
            InvalidInput,
            speakers.request_to_speak,
            (org.actor("dondac"), meeting, "", foreign_item.id),
        ),
        (Conflict, speakers.request_to_speak, (org.actor("dondac"), meeting, "", done_item.id)),
        (Conflict, speakers.request_to_speak, (delegate, ended)),
        (NotFound, speakers.withdraw, (org.actor("dondac"), meeting)),  # nothing to withdraw
        (Conflict, speakers.withdraw, (org.actor("thanhson"), meeting)),  # speaking
        (NotFound, speakers.grant, (chair, meeting, waiting_elsewhere.id)),  # other meeting
        (NotFound, speakers.grant, (chair, meeting, 999_999)),
        (Conflict, speakers.grant, (chair, meeting, other.id)),  # already speaking
        (Conflict, speakers.grant, (chair, scheduled, waiting_elsewhere.id)),  # not live
        (Conflict, speakers.end, (chair, scheduled)),
        (Conflict, speakers.remove, (chair, meeting, other.id)),  # speaking, not waiting
        (NotFound, speakers.remove, (chair, meeting, waiting_elsewhere.id)),
        (InvalidInput, speakers.reorder, (chair, meeting, [])),
        (InvalidInput, speakers.reorder, (chair, meeting, [mine.id, mine.id])),
        (InvalidInput, speakers.reorder, (chair, meeting, [mine.id, other.id])),
    ]
    for error, service, args in refusals:
        with pytest.raises(error):
            async with db.transaction(sessions) as s:
                await service(s, *args)
    assert await snapshot(sessions) == before


async def test_the_database_allows_one_open_request_and_one_speaker(sessions, org):
    """The constraints behind the checks: even a buggy caller cannot break the two rules."""
    meeting = await add_meeting(sessions, org)
    first = await _ask(sessions, org, meeting, "delegate")
    key = org.actor("delegate").key
    with pytest.raises(IntegrityError):
        async with db.transaction(sessions) as s:
            s.add(
                SpeakerRequest(
                    meeting_id=meeting.id,
                    speaker_key=key,
                    unit_id=org.commune,
                    speaker_name="x",
                    open_key=key,
                )
            )
    other = await _ask(sessions, org, meeting, "thanhson")
    async with db.transaction(sessions) as s:
        await speakers.grant(s, org.actor("chair"), meeting, first.id)
    with pytest.raises(IntegrityError):
        async with db.transaction(sessions) as s:
            row = await s.get(SpeakerRequest, other.id)
            row.on_air = 1
            s.add(row)


async def test_concurrent_requests_and_grants_stay_consistent(sessions, org):
    meeting = await add_meeting(sessions, org)
    names = ["delegate", "thanhson", "dondac", "district_delegate", "secretary", "chair"]

    async def ask(who: str) -> None:
        await _ask(sessions, org, meeting, who)

    # The same person twice at once: exactly one request is stored.
    results = await asyncio.gather(
        *(ask(n) for n in names), ask("delegate"), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict), results
    listing = await _listing(sessions, meeting.id)
    assert sorted(r.position for r in listing.waiting) == list(range(len(names)))

    async def grant(request_id: int) -> None:
        async with db.transaction(sessions) as s:
            await speakers.grant(s, org.actor("chair"), meeting, request_id)

    await asyncio.gather(*(grant(r.id) for r in listing.waiting[:4]))
    listing = await _listing(sessions, meeting.id)
    assert listing.speaking is not None
    assert len(listing.finished) == 3
    assert [r.position for r in listing.waiting] == [0, 1]
