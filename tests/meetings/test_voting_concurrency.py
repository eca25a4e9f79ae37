"""600 delegates vote at once: every ballot counted once, no duplicate, tally = recount."""

import asyncio
import random

import pytest

from meetings import db
from meetings.models import InviteeKind
from meetings.voting import service
from meetings.voting.errors import AlreadyVoted
from meetings.voting.models import PollKind
from meetings.voting.rules import Majority
from meetings.voting.writer import BallotWriter
from tests.meetings.voting_support import add_delegates, add_meeting, check_in_all

VOTERS = 600


async def _big_meeting(sessions, org, voters: int):
    async with db.transaction(sessions) as s:
        meeting = await add_meeting(
            s, org, [(InviteeKind.UNIT, org.direct)], title="Hội nghị trực tuyến toàn tỉnh"
        )
        delegates = await add_delegates(s, org.direct, voters, "dbqla")
    actors = await check_in_all(sessions, meeting, delegates)
    return meeting, actors


async def _open(sessions, org, meeting, secret: bool):
    spec = service.PollSpec(
        title="Biểu quyết thông qua kế hoạch phát triển kinh tế - xã hội",
        kind=PollKind.YES_NO_ABSTAIN,
        majority=Majority.SIMPLE_CAST,
        secret=secret,
    )
    async with db.transaction(sessions) as s:
        poll = await service.create_poll(s, org.actor("chair"), meeting, spec)
        poll = await service.open_poll(s, org.actor("chair"), meeting, poll)
        options = [o.id for o in (await service.options_of(s, [poll.id]))[poll.id]]
    return poll, options


@pytest.mark.parametrize("secret", [False, True], ids=["named", "secret"])
async def test_600_voters_at_once_through_the_group_writer(sessions, org, secret):
    meeting, actors = await _big_meeting(sessions, org, VOTERS)
    poll, options = await _open(sessions, org, meeting, secret)
    assert poll.present_count == VOTERS  # the chair did not check in
    rng = random.Random(4)
    chosen = {a.id: rng.choice(options) for a in actors}
    writer = BallotWriter(lambda: db.transaction(sessions))

    def ballot(actor, option):
        return writer.cast(service.BallotRequest(actor, meeting.id, poll.id, (option,)))

    # Every voter sends its ballot and, at the same moment, a second (different) one.
    calls = [ballot(a, chosen[a.id]) for a in actors]
    calls += [ballot(a, options[(options.index(chosen[a.id]) + 1) % 3]) for a in actors]
    order = list(range(len(calls)))
    rng.shuffle(order)
    shuffled = await asyncio.gather(*(calls[i] for i in order))
    results = [None] * len(calls)
    for position, index in enumerate(order):
        results[index] = shuffled[position]
    accepted = [r for r in results if r.error is None]
    duplicates = [r for r in results if isinstance(r.error, AlreadyVoted)]
    assert (len(accepted), len(duplicates)) == (VOTERS, VOTERS)
    assert writer.transactions < VOTERS / 10  # grouped, not one commit per ballot

    # Whichever of a voter's two ballots came first is the one counted.
    counted_choice = {}
    for i, actor in enumerate(actors):
        first, second = results[i], results[i + VOTERS]
        assert (first.error is None) != (second.error is None)
        counted_choice[actor.id] = (
            chosen[actor.id]
            if first.error is None
            else options[(options.index(chosen[actor.id]) + 1) % 3]
        )
    expected = {o: sum(1 for c in counted_choice.values() if c == o) for o in options}
    async with sessions() as s:
        counts = await service.poll_counts(s, poll.id)
        receipts, recounted = await service.recount(s, poll)
        voters = await service.voters(s, poll)
    assert counts.ballots == receipts == VOTERS
    assert all(voted for _, voted in voters) and len(voters) == VOTERS
    async with db.transaction(sessions) as s:
        closed = await service.close_poll(s, org.actor("chair"), meeting, poll)
    tally = {o["id"]: o["votes"] for o in service.result_of(closed)["options"]}
    assert tally == expected
    assert sum(tally.values()) == VOTERS
    if not secret:
        # The counters and the named ballots are written apart; they must agree.
        assert {o: recounted.get(o, 0) for o in options} == expected
        async with sessions() as s:
            named = await service.named_ballots(s, closed)
        assert {a: c[0] for a, c in named.items()} == counted_choice


async def test_concurrent_transactions_cannot_double_vote(sessions, org):
    """Without the writer: separate transactions race; the receipt's primary key decides."""
    meeting, actors = await _big_meeting(sessions, org, 40)
    poll, options = await _open(sessions, org, meeting, secret=True)

    async def attempt(actor, option):
        async with db.transaction(sessions) as s:
            batch = await service.cast_ballots(
                s, [service.BallotRequest(actor, meeting.id, poll.id, (option,))]
            )
        return batch.results[0]

    results = await asyncio.gather(*(attempt(a, o) for a in actors for o in options))
    assert sum(r.error is None for r in results) == len(actors)
    assert all(isinstance(r.error, AlreadyVoted) for r in results if r.error is not None)
    async with sessions() as s:
        counts = await service.poll_counts(s, poll.id)
        receipts, _ = await service.recount(s, poll)
        refreshed = await service.get_poll(s, meeting, poll.id)
    assert counts.ballots == receipts == len(actors) == refreshed.ballot_count
    async with db.transaction(sessions) as s:
        closed = await service.close_poll(s, org.actor("chair"), meeting, refreshed)
    assert sum(o["votes"] for o in service.result_of(closed)["options"]) == len(actors)


async def test_ballots_racing_the_close_are_either_counted_or_refused(sessions, org):
    meeting, actors = await _big_meeting(sessions, org, 60)
    poll, options = await _open(sessions, org, meeting, secret=False)
    writer = BallotWriter(lambda: db.transaction(sessions))

    async def close_soon():
        await asyncio.sleep(0)
        async with db.transaction(sessions) as s:
            return await service.close_poll(s, org.actor("chair"), meeting, poll)

    ballots = [
        writer.cast(service.BallotRequest(a, meeting.id, poll.id, (options[0],))) for a in actors
    ]
    *results, closed = await asyncio.gather(*ballots, close_soon())
    accepted = sum(r.error is None for r in results)
    result = service.result_of(closed)
    # Every acknowledged ballot is in the stored result; every other one was refused.
    assert result["ballots"] == accepted == result["options"][0]["votes"]
    assert all(r.error is None or r.error.code == "poll_not_open" for r in results)
