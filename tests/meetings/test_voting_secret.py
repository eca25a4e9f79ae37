"""Secret ballot: nothing the service returns or the database stores links a voter to a choice.

Every table and column the poll touches is inspected after real ballots, including
PostgreSQL's row versions (``xmin``), which would otherwise tell which transaction last
changed which option's counter.
"""

import asyncio
import json
import random

import pytest
from sqlalchemy import inspect, text
from sqlalchemy import select as select_rows
from sqlmodel import SQLModel, select

from meetings import audit, db
from meetings.errors import Conflict
from meetings.models import InviteeKind
from meetings.voting import service
from meetings.voting.models import PollBallot, PollKind, PollOption, PollReceipt
from meetings.voting.rules import Majority
from meetings.voting.writer import BallotWriter
from tests.meetings.voting_support import add_delegates, add_meeting, check_in_all


async def _columns(sessions, table: str) -> set[str]:
    async with sessions() as s:
        conn = await s.connection()
        return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns(table)})


async def test_a_secret_ballot_cannot_be_linked_to_its_voter(sessions, org, engine):
    async with db.transaction(sessions) as s:
        meeting = await add_meeting(s, org, [(InviteeKind.UNIT, org.direct)])
        delegates = await add_delegates(s, org.direct, 12, "kin")
    actors = await check_in_all(sessions, meeting, delegates)
    spec = service.PollSpec(
        title="Bỏ phiếu kín bầu Chủ tịch",
        kind=PollKind.YES_NO_ABSTAIN,
        majority=Majority.ALL_MEMBERS,
        secret=True,
    )
    async with db.transaction(sessions) as s:
        poll = await service.create_poll(s, org.actor("chair"), meeting, spec)
        poll = await service.open_poll(s, org.actor("chair"), meeting, poll)
        options = {o.label: o.id for o in (await service.options_of(s, [poll.id]))[poll.id]}
    rng = random.Random(7)
    chosen = {a.id: rng.choice(list(options.values())) for a in actors}
    option_xmins: list[set[int]] = []
    # Half one by one (the worst case: a transaction holding a single ballot)...
    for actor in actors[:6]:
        async with db.transaction(sessions) as s:
            batch = await service.cast_ballots(
                s, [service.BallotRequest(actor, meeting.id, poll.id, (chosen[actor.id],))]
            )
            assert batch.results[0].error is None
            # What a live client is told: the number of ballots, never per-option counts.
            counts = batch.counts[poll.id]
            assert counts.options is None
            assert set(counts.as_dict()) == {"meeting_id", "poll_id", "ballots", "eligible"}
        if engine.dialect.name == "postgresql":
            async with sessions() as s:
                rows = await s.exec(
                    text("SELECT xmin::text::bigint FROM poll_option WHERE poll_id = :p"),
                    params={"p": poll.id},
                )
                option_xmins.append({x for (x,) in rows.all()})
    # ...and half together, through the group writer.
    writer = BallotWriter(lambda: db.transaction(sessions))
    results = await asyncio.gather(
        *(
            writer.cast(service.BallotRequest(a, meeting.id, poll.id, (chosen[a.id],)))
            for a in actors[6:]
        )
    )
    assert all(r.error is None for r in results)

    # PostgreSQL: every ballot transaction rewrote every option's counter, so all counters of
    # the poll always carry the same row version: it cannot tell which option was chosen.
    if engine.dialect.name == "postgresql":
        assert all(len(x) == 1 for x in option_xmins), option_xmins

    # The stored data, table by table.
    assert await _columns(sessions, "poll_receipt") == {"poll_id", "account_id"}
    assert await _columns(sessions, "poll_option") == {
        "id",
        "poll_id",
        "position",
        "label",
        "votes",
    }
    async with sessions() as s:
        assert (await s.exec(select(PollBallot).where(PollBallot.poll_id == poll.id))).all() == []
        receipts = (await s.exec(select(PollReceipt).where(PollReceipt.poll_id == poll.id))).all()
        stored = (await s.exec(select(PollOption).where(PollOption.poll_id == poll.id))).all()
    assert sorted(r.account_id for r in receipts) == sorted(chosen)
    assert {o.id: o.votes for o in stored} == {
        o: sum(1 for c in chosen.values() if c == o) for o in options.values()
    }
    # No other table refers to the poll's options or voters together: scan every row of every
    # table for a voter's id next to an option's id (or label) of this poll.
    voter_keys = {f"account:{a}" for a in chosen}
    option_ids = set(options.values())
    async with sessions() as s:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in ("poll_option", "poll_receipt", "account", "attendance", "poll_voter"):
                continue  # inspected above / hold no choice
            names = [c.name for c in table.columns]
            for row in (await s.exec(select_rows(table))).all():  # type: ignore[call-overload]
                values = dict(zip(names, row, strict=True))
                mentions_option = values.get("option_id") in option_ids
                mentions_voter = values.get("account_id") in chosen
                if table.name == "audit_entry":
                    document = values["before_json"] + values["after_json"]
                    if values["object_type"] == "poll" and values["object_id"] == str(poll.id):
                        after = json.loads(values["after_json"])
                        if values["action"] == "poll.ballots_cast":
                            # "Has voted", nothing else.
                            assert set(after) == {"voters"}, after
                            assert set(after["voters"]) <= voter_keys
                            assert values["before_json"] == "null"
                    mentions_voter = any(k in document for k in voter_keys)
                    mentions_option = values["action"] in ("poll.ballots_cast",) and any(
                        label in document for label in options
                    )
                assert not (mentions_option and mentions_voter), (table.name, values)

    # What the service returns: no per-voter choices, counts only once closed.
    async with sessions() as s:
        with pytest.raises(Conflict):
            await service.named_ballots(s, poll)
        voters = await service.voters(s, poll)
    assert voters == [(a, True) for a in sorted(chosen)]
    async with db.transaction(sessions) as s:
        closed = await service.close_poll(s, org.actor("chair"), meeting, poll)
    result = service.result_of(closed)
    assert set(result) >= {"options", "ballots", "outcome"}
    assert "voters" not in result and all(
        set(o) == {"id", "label", "votes", "passed"} for o in result["options"]
    )
    async with sessions() as s:
        assert all(r.ok for r in await audit.verify(s, audit.chain_for(meeting.id)))
