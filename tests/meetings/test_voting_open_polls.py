"""The ballot writer's memory of open polls: refusals without a transaction, never acceptances."""

import asyncio
from datetime import UTC, datetime, timedelta

from meetings import db
from meetings.actor import ActorKind
from meetings.voting import service
from meetings.voting.errors import AlreadyVoted, NotEligible, PollNotOpen
from meetings.voting.open_polls import OpenPoll, OpenPolls
from meetings.voting.writer import BallotWriter
from tests.meetings.test_voting_concurrency import _big_meeting, _open

OPENED = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def _poll(poll_id: int = 1, opened_at: datetime = OPENED, **changes) -> OpenPoll:
    facts = {
        "poll_id": poll_id,
        "meeting_id": 7,
        "opened_at": opened_at,
        "min_choices": 1,
        "max_choices": 1,
        "secret": False,
        "allow_change": False,
        "present_count": 3,
        "option_ids": (11, 12, 13),
        "voters": frozenset({101, 102, 103}),
    } | changes
    return OpenPoll(**facts)


def _code(error) -> str | None:
    return None if error is None else error.code


def test_refusals_follow_the_order_of_the_ballot_transaction():
    polls = OpenPolls()
    polls.remember(_poll())
    account = ActorKind.ACCOUNT
    assert _code(polls.refusal(1, 8, account, 101, (11,))) == "not_found"
    assert _code(polls.refusal(1, 7, ActorKind.ENDPOINT, 101, (11,))) == "not_eligible"
    assert _code(polls.refusal(1, 7, account, 101, (11, 11))) == "invalid_input"
    assert _code(polls.refusal(1, 7, account, 101, (99,))) == "invalid_input"
    assert _code(polls.refusal(1, 7, account, 101, (11, 12))) == "invalid_input"
    assert _code(polls.refusal(1, 7, account, 555, (11,))) == "not_eligible"
    assert polls.refusal(1, 7, account, 101, (11,)) is None  # only the database can accept
    assert polls.refusal(2, 7, account, 101, (11,)) is None  # an unknown poll: no opinion


def test_a_committed_receipt_is_refused_unless_the_poll_allows_changes():
    polls = OpenPolls()
    polls.remember(_poll(1))
    polls.remember(_poll(2, allow_change=True))
    polls.committed(1, [101])
    polls.committed(2, [101])
    polls.committed(3, [101])  # not remembered: ignored
    assert isinstance(polls.refusal(1, 7, ActorKind.ACCOUNT, 101, (11,)), AlreadyVoted)
    assert polls.refusal(1, 7, ActorKind.ACCOUNT, 102, (11,)) is None
    assert polls.refusal(2, 7, ActorKind.ACCOUNT, 101, (11,)) is None
    assert polls.get(3) is None


def test_a_new_opening_or_forget_drops_what_was_known():
    polls = OpenPolls()
    polls.remember(_poll())
    polls.committed(1, [101])
    later = OPENED + timedelta(hours=1)
    assert polls.get(1, later) is None  # the same id, another opening
    polls.remember(_poll(opened_at=later))
    assert polls.refusal(1, 7, ActorKind.ACCOUNT, 101, (11,)) is None
    polls.forget(1)
    assert polls.get(1) is None


def test_memory_is_bounded_least_recently_used_first():
    polls = OpenPolls(limit=2)
    for poll_id in (1, 2):
        polls.remember(_poll(poll_id))
    assert polls.get(1) is not None  # 1 is now the most recently used
    polls.remember(_poll(3))
    assert [p for p in (1, 2, 3) if polls.get(p)] == [1, 3]


async def test_the_writer_refuses_a_repeat_from_memory_and_reads_a_poll_once(sessions, org):
    meeting, actors = await _big_meeting(sessions, org, 30)
    poll, options = await _open(sessions, org, meeting, secret=False)
    writer = BallotWriter(lambda: db.transaction(sessions))

    def ballot(actor, choices):
        return writer.cast(service.BallotRequest(actor, meeting.id, poll.id, choices))

    first = await asyncio.gather(*(ballot(a, (options[0],)) for a in actors))
    assert all(r.error is None for r in first)
    committed = writer.transactions
    known = writer.polls.get(poll.id)
    assert known is not None and known.voters == {a.id for a in actors}
    assert known.option_ids == tuple(options)

    # Repeats, a bad choice and an outsider: answered without another transaction.
    repeats = await asyncio.gather(*(ballot(a, (options[1],)) for a in actors))
    assert all(isinstance(r.error, AlreadyVoted) for r in repeats)
    bad = await ballot(actors[0], (options[0], options[1]))
    assert bad.error is not None and bad.error.code == "invalid_input"
    outsider = org.actor("observer")
    assert isinstance((await ballot(outsider, (options[0],))).error, NotEligible)
    assert writer.transactions == committed
    assert writer.refused_early == len(actors) + 2

    async with sessions() as s:
        counts = await service.poll_counts(s, poll.id)
    assert counts.ballots == len(actors)
    assert counts.options == [(options[0], len(actors)), (options[1], 0), (options[2], 0)]


async def test_a_poll_closed_elsewhere_is_found_closed_by_the_next_ballot(sessions, org):
    meeting, actors = await _big_meeting(sessions, org, 4)
    poll, options = await _open(sessions, org, meeting, secret=True)
    writer = BallotWriter(lambda: db.transaction(sessions))
    cast = writer.cast(service.BallotRequest(actors[0], meeting.id, poll.id, (options[0],)))
    assert (await cast).error is None
    # Another process closes the poll: this writer's memory still holds it as open.
    async with db.transaction(sessions) as s:
        await service.close_poll(s, org.actor("chair"), meeting, poll)
    late = await writer.cast(service.BallotRequest(actors[1], meeting.id, poll.id, (options[1],)))
    assert isinstance(late.error, PollNotOpen)
    assert writer.polls.get(poll.id) is None
    async with sessions() as s:
        receipts, _ = await service.recount(s, poll)
    assert receipts == 1
