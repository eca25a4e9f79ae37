"""Polls: prepare, open (snapshot of the eligible voters), cast ballots, close with a result.

Ballots are cast by ``cast_ballots``, which takes many at once so that a group-commit writer
(``meetings.voting.writer``) can put every ballot arriving together into one transaction; a
REST request passes a list of one. One ballot per voter is the primary key of
``poll_receipt``: receipts are inserted with ``ON CONFLICT DO NOTHING RETURNING``, so a
duplicate is refused by the database, never by a read-then-write race.

Open and close and every ballot transaction first ``UPDATE`` the poll's row (conditionally
on its state). That write takes PostgreSQL's row lock and SQLite's write lock before anything
is read, so a ballot can never be committed into a poll that a concurrent ``close`` has
already tallied, and a closing tally always sees every ballot committed before it.
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, delete, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import attendance, audit
from meetings.actor import Actor
from meetings.clock import utcnow
from meetings.errors import Conflict, DomainError, InvalidInput, NotFound
from meetings.models import AgendaItem, Meeting, MeetingState
from meetings.voting.errors import AlreadyVoted, PollNotOpen
from meetings.voting.models import (
    Poll,
    PollBallot,
    PollKind,
    PollOption,
    PollReceipt,
    PollState,
    PollVoter,
)
from meetings.voting.open_polls import OpenPoll, OpenPolls
from meetings.voting.rules import (
    YES_NO_ABSTAIN_LABELS,
    Majority,
    OptionCount,
    Tally,
    decide,
    quorum_met,
)

MAX_OPTIONS = 50


@dataclass(frozen=True, slots=True)
class PollSpec:
    """What the hosts prepare."""

    title: str
    kind: PollKind
    majority: Majority
    options: Sequence[str] = ()  # labels; ignored for yes/no/abstain
    description: str = ""
    min_choices: int | None = None  # multiple choice only
    max_choices: int | None = None
    secret: bool = False
    allow_change: bool = False
    quorum_required: bool = True
    agenda_item_id: int | None = None


@dataclass(frozen=True, slots=True)
class BallotRequest:
    """One voter's ballot: the ids of the options chosen."""

    actor: Actor
    meeting_id: int
    poll_id: int
    choices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CastResult:
    """Per request: accepted (``error`` is None), and whether it replaced an earlier ballot."""

    error: DomainError | None = None
    changed: bool = False


@dataclass(frozen=True, slots=True)
class PollCounts:
    """Live counts of an open poll. ``options`` is None for a secret poll: only the number of
    ballots is told while it is open (per-option counts moving as someone votes would tell
    onlookers what that person chose)."""

    meeting_id: int
    poll_id: int
    ballots: int
    eligible: int
    options: list[tuple[int, int]] | None = None

    def as_dict(self) -> dict[str, object]:
        """The ``poll.counts`` event body."""
        body: dict[str, object] = {
            "meeting_id": self.meeting_id,
            "poll_id": self.poll_id,
            "ballots": self.ballots,
            "eligible": self.eligible,
        }
        if self.options is not None:
            body["options"] = [{"id": o, "votes": v} for o, v in self.options]
        return body


@dataclass
class CastBatch:
    """What ``cast_ballots`` returns: a result per request, and counts per poll touched."""

    results: list[CastResult]
    counts: dict[int, PollCounts] = field(default_factory=dict)


def _insert_for(session: AsyncSession):  # -> the dialect's insert with on_conflict
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


def _poll_snapshot(poll: Poll) -> dict[str, object]:
    return {
        "title": poll.title,
        "kind": poll.kind,
        "secret": poll.secret,
        "majority": poll.majority,
        "state": poll.state,
    }


# ---- prepare ------------------------------------------------------------------------------


def _choice_limits(spec: PollSpec, n_options: int) -> tuple[int, int]:
    if spec.kind is not PollKind.MULTIPLE:
        return 1, 1
    low = 1 if spec.min_choices is None else spec.min_choices
    high = n_options if spec.max_choices is None else spec.max_choices
    if not 0 <= low <= high <= n_options or high < 1:
        raise InvalidInput(
            f"choice limits must satisfy 0 <= min <= max <= {n_options} and max >= 1",
            min_choices=low,
            max_choices=high,
        )
    return low, high


async def create_poll(
    session: AsyncSession, actor: Actor, meeting: Meeting, spec: PollSpec
) -> Poll:
    """Prepare a draft poll on the meeting or one of its agenda items."""
    if meeting.state in attendance.CLOSED_MEETING_STATES:
        raise Conflict(f"the meeting is {meeting.state}", state=meeting.state)
    if spec.agenda_item_id is not None:
        item = await session.get(AgendaItem, spec.agenda_item_id)
        if item is None or item.meeting_id != meeting.id:
            raise InvalidInput(
                "agenda item not found in this meeting", agenda_item_id=spec.agenda_item_id
            )
    if spec.secret and spec.allow_change:
        # Changing a ballot means taking back its old choice, which a secret poll cannot know.
        raise InvalidInput("a secret ballot cannot be changed: allow_change needs a named poll")
    if spec.kind is PollKind.YES_NO_ABSTAIN:
        labels = list(YES_NO_ABSTAIN_LABELS)
    else:
        labels = [label.strip() for label in spec.options]
        if not 2 <= len(labels) <= MAX_OPTIONS or any(not label for label in labels):
            raise InvalidInput(f"a choice poll needs 2 to {MAX_OPTIONS} non-empty options")
        if len(set(labels)) != len(labels):
            raise InvalidInput("option labels must be different")
    low, high = _choice_limits(spec, len(labels))
    poll = Poll(
        meeting_id=meeting.id or 0,
        agenda_item_id=spec.agenda_item_id,
        title=spec.title.strip(),
        description=spec.description,
        kind=spec.kind.value,
        min_choices=low,
        max_choices=high,
        secret=spec.secret,
        allow_change=spec.allow_change,
        majority=spec.majority.value,
        quorum_required=spec.quorum_required,
        created_by=actor.key,
    )
    session.add(poll)
    await session.flush()
    for position, label in enumerate(labels):
        session.add(PollOption(poll_id=poll.id or 0, position=position, label=label))
    await session.flush()
    await audit.append(
        session,
        actor,
        "poll.created",
        "poll",
        poll.id,
        meeting_id=meeting.id,
        after={**_poll_snapshot(poll), "options": labels, "limits": [low, high]},
    )
    return poll


async def get_poll(session: AsyncSession, meeting: Meeting, poll_id: int) -> Poll:
    """A poll of this meeting (``NotFound`` for another meeting's poll)."""
    poll = await session.get(Poll, poll_id, populate_existing=True)
    if poll is None or poll.meeting_id != meeting.id:
        raise NotFound("poll not found", poll_id=poll_id)
    return poll


async def list_polls(session: AsyncSession, meeting: Meeting, drafts: bool) -> list[Poll]:
    """The meeting's polls in creation order (drafts only for those who prepare them)."""
    query = select(Poll).where(Poll.meeting_id == meeting.id).order_by(Poll.id)
    if not drafts:
        query = query.where(Poll.state != PollState.DRAFT.value)
    return list((await session.exec(query)).all())


async def options_of(session: AsyncSession, poll_ids: Sequence[int]) -> dict[int, list[PollOption]]:
    """Options of the given polls, in position order."""
    found: dict[int, list[PollOption]] = {p: [] for p in poll_ids}
    if poll_ids:
        query = (
            select(PollOption)
            .where(col(PollOption.poll_id).in_(poll_ids))
            .order_by(PollOption.poll_id, PollOption.position)
            .execution_options(populate_existing=True)
        )
        for option in (await session.exec(query)).all():
            found[option.poll_id].append(option)
    return found


async def delete_draft(session: AsyncSession, actor: Actor, meeting: Meeting, poll: Poll) -> None:
    """Remove a poll that was never opened."""
    if poll.state != PollState.DRAFT.value:
        raise PollNotOpen("only a draft poll can be deleted", state=poll.state)
    await session.exec(delete(PollOption).where(col(PollOption.poll_id) == poll.id))  # type: ignore[call-overload]
    await session.delete(poll)
    await session.flush()
    await audit.append(
        session,
        actor,
        "poll.deleted",
        "poll",
        poll.id,
        meeting_id=meeting.id,
        before=_poll_snapshot(poll),
    )


# ---- open ---------------------------------------------------------------------------------


async def _lock_in_state(
    session: AsyncSession, poll_id: int, current: PollState, **values: object
) -> bool:
    """Lock the poll's row if it is in ``current`` (setting ``values``); False if it is not."""
    result = await session.exec(  # type: ignore[call-overload]
        update(Poll)
        .where(col(Poll.id) == poll_id, col(Poll.state) == current.value)
        .values(**(values or {"ballot_count": Poll.ballot_count}))
    )
    return result.rowcount == 1


async def open_poll(session: AsyncSession, actor: Actor, meeting: Meeting, poll: Poll) -> Poll:
    """draft → open: the members present now become the poll's eligible voters."""
    if meeting.state != MeetingState.LIVE.value:
        raise Conflict("polls open only in a live meeting", state=meeting.state)
    now = utcnow()
    if not await _lock_in_state(
        session, poll.id or 0, PollState.DRAFT, state=PollState.OPEN.value, opened_at=now
    ):
        raise PollNotOpen("only a draft poll can be opened", state=poll.state)
    members, present = await attendance.present_members(session, meeting)
    rule = await attendance.quorum_rule(session, meeting.id or 0)
    if present:
        await session.exec(  # type: ignore[call-overload]
            _insert_for(session)(PollVoter).values(
                [{"poll_id": poll.id, "account_id": a} for a in sorted(present)]
            )
        )
    poll = await get_poll(session, meeting, poll.id or 0)
    poll.members_count = len(members)
    poll.present_count = len(present)
    poll.quorum_rule = rule.value
    poll.quorum_met = quorum_met(rule, len(members), len(present))
    session.add(poll)
    await session.flush()
    await audit.append(
        session,
        actor,
        "poll.opened",
        "poll",
        poll.id,
        meeting_id=meeting.id,
        before={"state": PollState.DRAFT.value},
        after={
            "state": poll.state,
            "eligible": [f"account:{a}" for a in sorted(present)],
            "members": len(members),
            "quorum_rule": rule.value,
            "quorum_met": poll.quorum_met,
        },
    )
    return poll


# ---- cast ---------------------------------------------------------------------------------


async def cast_ballots(
    session: AsyncSession, requests: Sequence[BallotRequest], polls: OpenPolls | None = None
) -> CastBatch:
    """Cast many ballots in the caller's transaction; each gets its own result.

    Precondition: at most one request per (poll, voter) — a voter's second ballot belongs in
    the next transaction, where it meets the first one's receipt. Domain refusals are results,
    not exceptions, so one bad ballot never undoes the others; the caller commits, and only
    then may anyone be told "accepted". ``polls`` (the caller's memory of open polls) saves
    reading a poll's options and voters again for every transaction.
    """
    seen = {(r.poll_id, r.actor.key) for r in requests}
    if len(seen) != len(requests):
        raise ValueError("one ballot per voter and poll per call")
    results: list[CastResult | None] = [None] * len(requests)
    by_poll: dict[int, list[int]] = defaultdict(list)
    for index, request in enumerate(requests):
        by_poll[request.poll_id].append(index)
    batch = CastBatch([])
    memory = polls if polls is not None else OpenPolls()
    for poll_id in sorted(by_poll):  # a fixed lock order across transactions
        counts = await _cast_on_poll(session, memory, poll_id, requests, by_poll[poll_id], results)
        if counts is not None:
            batch.counts[poll_id] = counts
    batch.results = [r or CastResult() for r in results]
    return batch


async def _open_poll_facts(
    session: AsyncSession, polls: OpenPolls, poll_id: int
) -> OpenPoll | None:
    """Lock the poll if it is open (the ballot transaction's first write) and return its facts.

    None when it is not open. The options and voters are read only on this process's first
    ballot of an opening.
    """
    row = (
        await session.exec(  # type: ignore[call-overload]
            update(Poll)
            .where(col(Poll.id) == poll_id, col(Poll.state) == PollState.OPEN.value)
            .values(ballot_count=Poll.ballot_count)
            .returning(
                col(Poll.meeting_id),
                col(Poll.opened_at),
                col(Poll.min_choices),
                col(Poll.max_choices),
                col(Poll.secret),
                col(Poll.allow_change),
                col(Poll.present_count),
            )
        )
    ).first()
    if row is None:
        polls.forget(poll_id)
        return None
    meeting_id, opened_at, low, high, secret, allow_change, present = row
    known = polls.get(poll_id, opened_at)
    if known is not None:
        return known
    options = await session.exec(
        select(PollOption.id).where(PollOption.poll_id == poll_id).order_by(PollOption.position)
    )
    voters = await session.exec(select(PollVoter.account_id).where(PollVoter.poll_id == poll_id))
    facts = OpenPoll(
        poll_id=poll_id,
        meeting_id=meeting_id,
        opened_at=opened_at,
        min_choices=low,
        max_choices=high,
        secret=secret,
        allow_change=allow_change,
        present_count=present,
        option_ids=tuple(o for o in options.all() if o is not None),
        voters=frozenset(voters.all()),
    )
    polls.remember(facts)
    return facts


async def _cast_on_poll(
    session: AsyncSession,
    polls: OpenPolls,
    poll_id: int,
    requests: Sequence[BallotRequest],
    indexes: list[int],
    results: list[CastResult | None],
) -> PollCounts | None:
    """The ballots of one poll; fills ``results`` at ``indexes``; counts if any was accepted."""

    def refuse(index: int, error: DomainError) -> None:
        results[index] = CastResult(error=error)

    poll = await _open_poll_facts(session, polls, poll_id)
    if poll is None:
        found = await session.get(Poll, poll_id)
        for index in indexes:
            if found is None or found.meeting_id != requests[index].meeting_id:
                refuse(index, NotFound("poll not found", poll_id=poll_id))
            else:
                refuse(index, PollNotOpen("the poll is not open", state=found.state))
        return None
    voters: dict[int, int] = {}
    for index in indexes:
        request = requests[index]
        error = poll.refusal(
            request.meeting_id, request.actor.kind, request.actor.id, request.choices
        )
        if error is not None:
            refuse(index, error)
        else:
            voters[request.actor.id] = index
    if not voters:
        return None
    # The uniqueness rule, enforced by the database: only new receipts come back. Rows go in
    # by account id, not arrival order.
    inserted = await session.exec(  # type: ignore[call-overload]
        _insert_for(session)(PollReceipt)
        .values([{"poll_id": poll_id, "account_id": a} for a in sorted(voters)])
        .on_conflict_do_nothing()
        .returning(col(PollReceipt.account_id))
    )
    new = set(inserted.scalars().all())
    changing = set() if not poll.allow_change else set(voters) - new
    for account_id in set(voters) - new - changing:
        refuse(voters[account_id], AlreadyVoted("a ballot from you is already counted"))
    accepted = new | changing
    if not accepted:
        return None
    delta: dict[int, int] = defaultdict(int)
    blank_delta = 0
    previous: dict[int, list[int]] = defaultdict(list)
    if changing:
        old = await session.exec(  # type: ignore[call-overload]
            delete(PollBallot)
            .where(col(PollBallot.poll_id) == poll_id, col(PollBallot.account_id).in_(changing))
            .returning(col(PollBallot.account_id), col(PollBallot.option_id))
        )
        for account_id, option_id in old.all():
            previous[account_id].append(option_id)
            delta[option_id] -= 1
        blank_delta -= sum(1 for a in changing if not previous.get(a))
    now = utcnow()
    named_rows = []
    for account_id in sorted(accepted):
        choices = requests[voters[account_id]].choices
        for option_id in choices:
            delta[option_id] += 1
        if not choices:
            blank_delta += 1
        if not poll.secret:
            named_rows += [
                {"poll_id": poll_id, "account_id": account_id, "option_id": o, "cast_at": now}
                for o in sorted(choices)
            ]
        results[voters[account_id]] = CastResult(changed=account_id in changing)
    if named_rows:
        await session.exec(_insert_for(session)(PollBallot).values(named_rows))  # type: ignore[call-overload]
    # Every option's counter is written, chosen or not: the rows' versions tell nothing.
    option_votes = await session.exec(  # type: ignore[call-overload]
        update(PollOption)
        .where(col(PollOption.poll_id) == poll_id)
        .values(
            votes=PollOption.votes
            + case({o: d for o, d in delta.items() if d}, value=PollOption.id, else_=0)
            if any(delta.values())
            else PollOption.votes + 0
        )
        .returning(col(PollOption.id), col(PollOption.votes))
    )
    votes = dict(option_votes.all())
    ballots = (
        await session.exec(  # type: ignore[call-overload]
            update(Poll)
            .where(col(Poll.id) == poll_id)
            .values(
                ballot_count=Poll.ballot_count + len(new),
                blank_count=Poll.blank_count + blank_delta,
            )
            .returning(col(Poll.ballot_count))
        )
    ).scalar_one()
    keys = [f"account:{a}" for a in sorted(accepted)]
    after: dict[str, object] = {"voters": keys}
    before: dict[str, object] | None = None
    if not poll.secret:
        after["choices"] = {
            f"account:{a}": sorted(requests[voters[a]].choices) for a in sorted(accepted)
        }
        if changing:
            before = {
                "choices": {f"account:{a}": sorted(previous.get(a, [])) for a in sorted(changing)}
            }
    # One entry per poll and transaction ("has voted"; with the choices only when named). The
    # actor is the voter when there is one, the ballot writer ("system") for a group.
    single = requests[voters[next(iter(accepted))]].actor if len(accepted) == 1 else None
    await audit.append(
        session,
        single,
        "poll.ballots_cast",
        "poll",
        poll_id,
        meeting_id=poll.meeting_id,
        before=before,
        after=after,
    )
    # A secret poll's per-option counts stay inside until it closes.
    options = None if poll.secret else [(o, votes[o]) for o in poll.option_ids]
    return PollCounts(poll.meeting_id, poll_id, ballots, poll.present_count, options)


async def poll_counts(session: AsyncSession, poll_id: int) -> PollCounts:
    """The live counts of a poll as this transaction sees them."""
    poll = await session.get(Poll, poll_id, populate_existing=True)
    assert poll is not None
    options = None
    if not poll.secret or poll.state == PollState.CLOSED.value:
        options = [(o.id or 0, o.votes) for o in (await options_of(session, [poll_id]))[poll_id]]
    return PollCounts(poll.meeting_id, poll_id, poll.ballot_count, poll.present_count, options)


async def has_voted(session: AsyncSession, poll_id: int, account_id: int) -> bool:
    """Whether the account's receipt exists."""
    row = await session.get(PollReceipt, (poll_id, account_id))
    return row is not None


async def voters(session: AsyncSession, poll: Poll) -> list[tuple[int, bool]]:
    """The eligible voters and whether each has voted ("has voted" is public, the choice is not)."""
    eligible = await session.exec(
        select(PollVoter.account_id)
        .where(PollVoter.poll_id == poll.id)
        .order_by(PollVoter.account_id)
    )
    voted = set(
        (
            await session.exec(select(PollReceipt.account_id).where(PollReceipt.poll_id == poll.id))
        ).all()
    )
    return [(a, a in voted) for a in eligible.all()]


async def named_ballots(session: AsyncSession, poll: Poll) -> dict[int, list[int]]:
    """Who chose what in a named poll (voter → option ids); refused for a secret poll."""
    if poll.secret:
        raise Conflict("a secret ballot keeps no link between voters and choices")
    rows = await session.exec(
        select(PollReceipt.account_id)
        .where(PollReceipt.poll_id == poll.id)
        .order_by(PollReceipt.account_id)
    )
    found: dict[int, list[int]] = {a: [] for a in rows.all()}
    choices = await session.exec(
        select(PollBallot.account_id, PollBallot.option_id)
        .where(PollBallot.poll_id == poll.id)
        .order_by(PollBallot.account_id, PollBallot.option_id)
    )
    for account_id, option_id in choices.all():
        found.setdefault(account_id, []).append(option_id)
    return found


async def recount(session: AsyncSession, poll: Poll) -> tuple[int, dict[int, int]]:
    """Count again from the stored ballots: (receipts, votes per option).

    For a named poll the votes come from ``poll_ballot`` rows, independent of the counters;
    a secret poll has no per-voter record by design, so only the receipts can be recounted.
    """
    receipts = (
        await session.exec(
            select(func.count()).select_from(PollReceipt).where(PollReceipt.poll_id == poll.id)
        )
    ).one()
    votes: dict[int, int] = {}
    if not poll.secret:
        rows = await session.exec(
            select(PollBallot.option_id, func.count())
            .where(PollBallot.poll_id == poll.id)
            .group_by(PollBallot.option_id)
        )
        votes = dict(rows.all())
    return receipts, votes


# ---- close --------------------------------------------------------------------------------


async def close_poll(session: AsyncSession, actor: Actor, meeting: Meeting, poll: Poll) -> Poll:
    """open → closed: tally, decide by the poll's majority rule, store the result."""
    now = utcnow()
    if not await _lock_in_state(
        session, poll.id or 0, PollState.OPEN, state=PollState.CLOSED.value, closed_at=now
    ):
        raise PollNotOpen("only an open poll can be closed", state=poll.state)
    poll = await get_poll(session, meeting, poll.id or 0)
    options = (await options_of(session, [poll.id or 0]))[poll.id or 0]
    receipts, _ = await recount(session, poll)
    if receipts != poll.ballot_count:  # the counter and the receipts are written together
        raise RuntimeError(
            f"poll {poll.id}: {receipts} receipts but ballot_count {poll.ballot_count}"
        )
    tally = Tally(
        kind=PollKind(poll.kind),
        options=[OptionCount(o.id or 0, o.label, o.votes) for o in options],
        ballots=poll.ballot_count,
        blank=poll.blank_count,
        members=poll.members_count,
        present=poll.present_count,
        quorum_required=poll.quorum_required,
        quorum_met=bool(poll.quorum_met),
    )
    decision = decide(Majority(poll.majority), tally)
    result = {
        "outcome": decision.outcome.value,
        "majority": poll.majority,
        "base": decision.base,
        "required": decision.required,
        "decided_by": decision.decided_by,
        "ballots": poll.ballot_count,
        "blank": poll.blank_count,
        "eligible": poll.present_count,
        "members": poll.members_count,
        "quorum_rule": poll.quorum_rule,
        "quorum_required": poll.quorum_required,
        "quorum_met": poll.quorum_met,
        "options": [
            {
                "id": o.option_id,
                "label": o.label,
                "votes": o.votes,
                "passed": o.option_id in decision.passed_option_ids,
            }
            for o in tally.options
        ],
        "passed_option_ids": decision.passed_option_ids,
    }
    poll.outcome = decision.outcome.value
    poll.decided_by = decision.decided_by
    poll.result_json = json.dumps(result, ensure_ascii=False, sort_keys=True)
    session.add(poll)
    await session.flush()
    await audit.append(
        session,
        actor,
        "poll.closed",
        "poll",
        poll.id,
        meeting_id=meeting.id,
        before={"state": PollState.OPEN.value},
        after={"state": poll.state, "result": result},
    )
    return poll


def result_of(poll: Poll) -> dict[str, object] | None:
    """The stored result of a closed poll."""
    return json.loads(poll.result_json) if poll.result_json else None
