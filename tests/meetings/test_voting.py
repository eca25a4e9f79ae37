"""Polls over a real database (SQLite and PostgreSQL): life cycle, eligibility, refusals."""

import json

import pytest
from sqlmodel import select

from meetings import attendance, audit, db
from meetings.actor import Actor
from meetings.attendance_models import AttendanceMode
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import AgendaItem, MeetingState
from meetings.voting import service
from meetings.voting.errors import AlreadyVoted, NotEligible, PollNotOpen
from meetings.voting.models import Poll, PollBallot, PollKind, PollOption, PollReceipt
from meetings.voting.rules import Majority
from tests.meetings.voting_support import add_meeting, standard_invitees


async def _live_meeting_with_quorum(sessions, org):
    """The standard meeting, live, with the chair and the delegate present (2 of 3 members)."""
    async with db.transaction(sessions) as s:
        meeting = await add_meeting(s, org, standard_invitees(org))
        item = AgendaItem(meeting_id=meeting.id or 0, title="Nghị quyết về ngân sách năm 2027")
        s.add(item)
        await s.flush()
        for name in ("chair", "delegate", "observer"):
            await attendance.check_in(s, org.actor(name), meeting, AttendanceMode.ONLINE)
    return meeting, item


async def _cast(sessions, actor: Actor, meeting, poll, *choices: int) -> service.CastResult:
    async with db.transaction(sessions) as s:
        batch = await service.cast_ballots(
            s, [service.BallotRequest(actor, meeting.id, poll.id, tuple(choices))]
        )
    return batch.results[0]


async def _options(sessions, poll) -> dict[str, int]:
    async with sessions() as s:
        return {o.label: o.id for o in (await service.options_of(s, [poll.id]))[poll.id]}


async def _state(sessions, poll_id: int) -> tuple:
    """Everything a ballot could change, to show that a refused one changed nothing."""
    async with sessions() as s:
        poll = await s.get(Poll, poll_id)
        options = (await s.exec(select(PollOption).where(PollOption.poll_id == poll_id))).all()
        receipts = (await s.exec(select(PollReceipt).where(PollReceipt.poll_id == poll_id))).all()
        ballots = (await s.exec(select(PollBallot).where(PollBallot.poll_id == poll_id))).all()
        return (
            poll.state,
            poll.ballot_count,
            sorted((o.id, o.votes) for o in options),
            sorted((r.account_id,) for r in receipts),
            sorted((b.account_id, b.option_id) for b in ballots),
        )


async def test_named_poll_from_draft_to_result(sessions, org):
    a = org.accounts
    meeting, item = await _live_meeting_with_quorum(sessions, org)
    spec = service.PollSpec(
        title="Thông qua Nghị quyết về ngân sách",
        kind=PollKind.YES_NO_ABSTAIN,
        majority=Majority.ALL_MEMBERS,
        agenda_item_id=item.id,
        allow_change=True,
    )
    async with db.transaction(sessions) as s:
        poll = await service.create_poll(s, org.actor("secretary"), meeting, spec)
    assert (poll.state, poll.min_choices, poll.max_choices) == ("draft", 1, 1)
    labels = await _options(sessions, poll)
    assert list(labels) == ["yes", "no", "abstain"]

    # A draft takes no ballots.
    result = await _cast(sessions, org.actor("chair"), meeting, poll, labels["yes"])
    assert isinstance(result.error, PollNotOpen)

    async with db.transaction(sessions) as s:
        poll = await service.open_poll(s, org.actor("chair"), meeting, poll)
    assert (poll.members_count, poll.present_count, poll.quorum_met) == (3, 2, True)

    # The district delegate arrives after the poll opened: a member, but not on its list.
    async with db.transaction(sessions) as s:
        await attendance.check_in(s, org.actor("district_delegate"), meeting)
    for late in ("district_delegate", "observer", "secretary", "thanhson"):
        result = await _cast(sessions, org.actor(late), meeting, poll, labels["yes"])
        assert isinstance(result.error, NotEligible), late

    assert (await _cast(sessions, org.actor("chair"), meeting, poll, labels["yes"])).error is None
    first = await _cast(sessions, org.actor("delegate"), meeting, poll, labels["no"])
    assert first.error is None and not first.changed
    # Change before close (this poll allows it): the ballot is replaced, not added.
    second = await _cast(sessions, org.actor("delegate"), meeting, poll, labels["yes"])
    assert second.error is None and second.changed
    async with sessions() as s:
        counts = await service.poll_counts(s, poll.id)
        assert await service.named_ballots(s, poll) == {
            a["chair"].id: [labels["yes"]],
            a["delegate"].id: [labels["yes"]],
        }
        assert await service.recount(s, poll) == (2, {labels["yes"]: 2})
    assert counts.ballots == 2
    assert dict(counts.options) == {labels["yes"]: 2, labels["no"]: 0, labels["abstain"]: 0}

    async with db.transaction(sessions) as s:
        poll = await service.close_poll(s, org.actor("chair"), meeting, poll)
    result = service.result_of(poll)
    assert poll.outcome == "passed" and result["outcome"] == "passed"
    assert (result["base"], result["required"], result["ballots"]) == (3, 2, 2)
    assert poll.decided_by == "more than half of all members: 2 of 3 needed"
    assert [o["passed"] for o in result["options"]] == [True, False, False]
    # Closed is final: no ballot, no second close.
    late = await _cast(sessions, org.actor("chair"), meeting, poll, labels["no"])
    assert isinstance(late.error, PollNotOpen)
    with pytest.raises(PollNotOpen):
        async with db.transaction(sessions) as s:
            await service.close_poll(s, org.actor("chair"), meeting, poll)

    async with sessions() as s:
        entries = await audit.entries(s, meeting.id)
        assert all(r.ok for r in await audit.verify(s, audit.chain_for(meeting.id)))
    actions = [e.action for e in reversed(entries)]
    assert [x for x in actions if x.startswith("poll.")] == [
        "poll.created",
        "poll.opened",
        "poll.ballots_cast",
        "poll.ballots_cast",
        "poll.ballots_cast",
        "poll.closed",
    ]
    change = next(e for e in entries if e.action == "poll.ballots_cast")  # the newest: the change
    assert json.loads(change.before_json) == {
        "choices": {f"account:{a['delegate'].id}": [labels["no"]]}
    }


async def test_duplicates_and_bad_ballots_change_nothing(sessions, org):
    meeting, _ = await _live_meeting_with_quorum(sessions, org)
    spec = service.PollSpec(
        title="Bầu Ủy viên Thường trực",
        kind=PollKind.MULTIPLE,
        majority=Majority.SIMPLE_CAST,
        options=["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"],
        min_choices=1,
        max_choices=2,
    )
    async with db.transaction(sessions) as s:
        poll = await service.create_poll(s, org.actor("chair"), meeting, spec)
        other = await service.create_poll(s, org.actor("chair"), meeting, spec)
        poll = await service.open_poll(s, org.actor("chair"), meeting, poll)
        await service.open_poll(s, org.actor("chair"), meeting, other)
    ids = list((await _options(sessions, poll)).values())
    other_ids = list((await _options(sessions, other)).values())
    assert (
        await _cast(sessions, org.actor("delegate"), meeting, poll, ids[0], ids[1])
    ).error is None
    before = await _state(sessions, poll.id)
    refused = {
        (ids[2],): AlreadyVoted,  # one ballot per voter (no change allowed)
    }
    for choices, error in refused.items():
        result = await _cast(sessions, org.actor("delegate"), meeting, poll, *choices)
        assert isinstance(result.error, error)
    for choices in [(), (ids[0], ids[1], ids[2]), (ids[0], ids[0]), (other_ids[0],), (999_999,)]:
        result = await _cast(sessions, org.actor("chair"), meeting, poll, *choices)
        assert isinstance(result.error, InvalidInput), choices
    # A poll of another meeting is not found through this one.
    async with db.transaction(sessions) as s:
        elsewhere = await add_meeting(s, org, standard_invitees(org))
    result = await _cast(sessions, org.actor("chair"), elsewhere, poll, ids[0])
    assert isinstance(result.error, NotFound)
    assert await _state(sessions, poll.id) == before


async def test_poll_preparation_is_checked(sessions, org):
    meeting, _ = await _live_meeting_with_quorum(sessions, org)
    chair = org.actor("chair")
    async with db.transaction(sessions) as s:
        elsewhere = await add_meeting(s, org, standard_invitees(org))
        foreign_item = AgendaItem(meeting_id=elsewhere.id or 0, title="Khác")
        s.add(foreign_item)
    bad = [
        service.PollSpec("Q", PollKind.SINGLE, Majority.SIMPLE_CAST, options=["Một"]),
        service.PollSpec("Q", PollKind.SINGLE, Majority.SIMPLE_CAST, options=["A", "A"]),
        service.PollSpec("Q", PollKind.SINGLE, Majority.SIMPLE_CAST, options=["A", " "]),
        service.PollSpec(
            "Q",
            PollKind.MULTIPLE,
            Majority.SIMPLE_CAST,
            options=["A", "B"],
            min_choices=2,
            max_choices=1,
        ),
        service.PollSpec(
            "Q", PollKind.MULTIPLE, Majority.SIMPLE_CAST, options=["A", "B"], max_choices=3
        ),
        service.PollSpec(
            "Q", PollKind.YES_NO_ABSTAIN, Majority.SIMPLE_CAST, secret=True, allow_change=True
        ),
        service.PollSpec(
            "Q", PollKind.YES_NO_ABSTAIN, Majority.SIMPLE_CAST, agenda_item_id=foreign_item.id
        ),
    ]
    for spec in bad:
        with pytest.raises(InvalidInput):
            async with db.transaction(sessions) as s:
                await service.create_poll(s, chair, meeting, spec)
    async with sessions() as s:
        assert await service.list_polls(s, meeting, drafts=True) == []

    ok = service.PollSpec("Q", PollKind.YES_NO_ABSTAIN, Majority.SIMPLE_CAST)
    async with db.transaction(sessions) as s:
        scheduled = await add_meeting(s, org, standard_invitees(org), state=MeetingState.SCHEDULED)
        draft = await service.create_poll(s, chair, scheduled, ok)
    with pytest.raises(Conflict):  # polls open in a live meeting only
        async with db.transaction(sessions) as s:
            await service.open_poll(s, chair, scheduled, draft)
    async with db.transaction(sessions) as s:
        await service.delete_draft(s, chair, scheduled, draft)
        assert await service.list_polls(s, scheduled, drafts=True) == []


async def test_without_quorum_the_poll_is_invalid(sessions, org):
    async with db.transaction(sessions) as s:
        meeting = await add_meeting(s, org, standard_invitees(org))
        await attendance.check_in(s, org.actor("chair"), meeting)
        poll = await service.create_poll(
            s,
            org.actor("chair"),
            meeting,
            service.PollSpec("Q", PollKind.YES_NO_ABSTAIN, Majority.SIMPLE_CAST),
        )
        poll = await service.open_poll(s, org.actor("chair"), meeting, poll)
    assert (poll.present_count, poll.quorum_met) == (1, False)
    yes = (await _options(sessions, poll))["yes"]
    assert (await _cast(sessions, org.actor("chair"), meeting, poll, yes)).error is None
    async with db.transaction(sessions) as s:
        poll = await service.close_poll(s, org.actor("chair"), meeting, poll)
    assert poll.outcome == "invalid"
    assert poll.decided_by.startswith("quorum not met")
