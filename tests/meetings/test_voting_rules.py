"""Majority rules and quorum arithmetic (pure functions: no database)."""

import pytest

from meetings.attendance_models import QuorumRule
from meetings.voting.models import PollKind
from meetings.voting.rules import (
    Majority,
    OptionCount,
    Outcome,
    Tally,
    at_least_two_thirds,
    decide,
    more_than_half,
    quorum_met,
)


def yes_no(yes: int, no: int, abstain: int, members: int = 30, present: int = 25, **kw) -> Tally:
    options = [
        OptionCount(1, "yes", yes),
        OptionCount(2, "no", no),
        OptionCount(3, "abstain", abstain),
    ]
    return Tally(
        PollKind.YES_NO_ABSTAIN,
        options,
        ballots=yes + no + abstain,
        blank=0,
        members=members,
        present=present,
        quorum_required=kw.get("quorum_required", True),
        quorum_met=kw.get("quorum_met", True),
    )


@pytest.mark.parametrize(
    ("base", "half", "two_thirds"),
    [
        (0, 1, 1),
        (1, 1, 1),
        (2, 2, 2),
        (3, 2, 2),
        (4, 3, 3),
        (30, 16, 20),
        (31, 16, 21),
        (600, 301, 400),
    ],
)
def test_thresholds_are_exact(base, half, two_thirds):
    assert more_than_half(base) == half
    assert at_least_two_thirds(base) == two_thirds


def test_quorum_rules():
    assert quorum_met(QuorumRule.TWO_THIRDS, 30, 20)
    assert not quorum_met(QuorumRule.TWO_THIRDS, 30, 19)
    assert quorum_met(QuorumRule.MAJORITY, 30, 16)
    assert not quorum_met(QuorumRule.MAJORITY, 30, 15)
    assert not quorum_met(QuorumRule.MAJORITY, 0, 0)


def test_each_rule_has_its_own_base():
    # 30 members, 25 present, 12 yes, 8 no, 5 abstain.
    tally = yes_no(12, 8, 5)
    cases = {
        Majority.SIMPLE_CAST: (Outcome.PASSED, 20, 11),  # 12 > 20/2
        Majority.PRESENT: (Outcome.FAILED, 25, 13),
        Majority.ALL_MEMBERS: (Outcome.FAILED, 30, 16),
        Majority.TWO_THIRDS_CAST: (Outcome.FAILED, 20, 14),
        Majority.TWO_THIRDS_ALL: (Outcome.FAILED, 30, 20),
    }
    for majority, (outcome, base, required) in cases.items():
        decision = decide(majority, tally)
        assert (decision.outcome, decision.base, decision.required) == (outcome, base, required)
        assert f"{required} of {base}" in decision.decided_by
    assert decide(Majority.SIMPLE_CAST, tally).passed_option_ids == [1]
    assert decide(Majority.TWO_THIRDS_ALL, yes_no(20, 0, 0)).outcome is Outcome.PASSED
    # A tie is not a majority.
    assert decide(Majority.SIMPLE_CAST, yes_no(10, 10, 0)).outcome is Outcome.FAILED
    # Nothing passes on no votes at all.
    assert decide(Majority.TWO_THIRDS_CAST, yes_no(0, 0, 4)).outcome is Outcome.FAILED


def test_without_quorum_the_result_is_invalid_unless_not_required():
    tally = yes_no(20, 0, 0, quorum_met=False)
    decision = decide(Majority.SIMPLE_CAST, tally)
    assert decision.outcome is Outcome.INVALID and decision.passed_option_ids == []
    assert decision.decided_by.startswith("quorum not met")
    relaxed = yes_no(20, 0, 0, quorum_met=False, quorum_required=False)
    assert decide(Majority.SIMPLE_CAST, relaxed).outcome is Outcome.PASSED


def test_choice_polls_list_every_option_reaching_the_threshold():
    options = [OptionCount(10, "Ông A", 7), OptionCount(11, "Bà B", 6), OptionCount(12, "Ông C", 2)]
    # Choose up to 2 of 3; 10 ballots, 1 of them blank: base 9 non-blank ballots, 5 needed.
    tally = Tally(
        PollKind.MULTIPLE,
        options,
        ballots=10,
        blank=1,
        members=12,
        present=10,
        quorum_required=True,
        quorum_met=True,
    )
    decision = decide(Majority.SIMPLE_CAST, tally)
    assert (decision.base, decision.required) == (9, 5)
    assert decision.passed_option_ids == [10, 11]
    assert decide(Majority.ALL_MEMBERS, tally).passed_option_ids == [10]
    assert decide(Majority.TWO_THIRDS_ALL, tally).outcome is Outcome.FAILED
