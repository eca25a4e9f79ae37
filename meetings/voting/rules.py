"""Majority rules and quorum: pure arithmetic over counts, exact (integers, no floats).

The *base* of each rule is what the threshold is a fraction of:

==================== ================================================ =====================
rule                 passes when the option's votes are ...           base
==================== ================================================ =====================
``simple_cast``      more than half of the base                       votes cast, without
                                                                      abstentions and blank
                                                                      ballots
``present``          more than half of the base                       members present when
                                                                      the poll opened
``all_members``      more than half of the base (absolute majority)   all members
``two_thirds_cast``  at least two thirds of the base                  votes cast, without
                                                                      abstentions and blank
                                                                      ballots
``two_thirds_all``   at least two thirds of the base                  all members
==================== ================================================ =====================

"Votes cast" for a yes/no/abstain poll is yes + no; for a choice poll it is the number of
ballots that chose at least one option. A yes/no/abstain poll passes when "yes" passes; a
choice poll lists every option that reaches the threshold (at most one can, for a single choice
under a "more than half" rule). Quorum: a poll that requires it is *invalid* when, at opening,
fewer members were present than the meeting's quorum rule asks for.
"""

from dataclasses import dataclass
from enum import StrEnum

from meetings.attendance_models import QuorumRule
from meetings.voting.models import PollKind


class Majority(StrEnum):
    """Which majority decides a poll (see the module's table)."""

    SIMPLE_CAST = "simple_cast"
    PRESENT = "present"
    ALL_MEMBERS = "all_members"
    TWO_THIRDS_CAST = "two_thirds_cast"
    TWO_THIRDS_ALL = "two_thirds_all"


class Outcome(StrEnum):
    """The stored result of a closed poll."""

    PASSED = "passed"
    FAILED = "failed"
    INVALID = "invalid"  # quorum was required and not met


YES, NO, ABSTAIN = "yes", "no", "abstain"
YES_NO_ABSTAIN_LABELS = (YES, NO, ABSTAIN)  # option labels are codes the client translates

_DESCRIPTION = {
    Majority.SIMPLE_CAST: "more than half of the votes cast (abstentions not counted)",
    Majority.PRESENT: "more than half of the members present",
    Majority.ALL_MEMBERS: "more than half of all members",
    Majority.TWO_THIRDS_CAST: "at least two thirds of the votes cast (abstentions not counted)",
    Majority.TWO_THIRDS_ALL: "at least two thirds of all members",
}


def more_than_half(base: int) -> int:
    """Smallest count strictly greater than half of ``base``."""
    return base // 2 + 1


def at_least_two_thirds(base: int) -> int:
    """Smallest count at least two thirds of ``base`` (never 0: nothing passes on no votes)."""
    return max(1, (2 * base + 2) // 3)


def quorum_required_count(rule: QuorumRule, members: int) -> int:
    """Members that must be present for ``rule`` to be met (at least one)."""
    if rule is QuorumRule.TWO_THIRDS:
        return at_least_two_thirds(members)
    return more_than_half(members)


def quorum_met(rule: QuorumRule, members: int, present: int) -> bool:
    """Whether ``present`` of ``members`` satisfies ``rule`` (no members: never)."""
    return members > 0 and present >= quorum_required_count(rule, members)


@dataclass(frozen=True, slots=True)
class OptionCount:
    """One option's label and votes."""

    option_id: int
    label: str
    votes: int


@dataclass(frozen=True, slots=True)
class Tally:
    """Everything a decision depends on."""

    kind: PollKind
    options: list[OptionCount]
    ballots: int  # receipts: voters who cast a ballot
    blank: int  # ballots choosing no option
    members: int  # all members when the poll opened
    present: int  # members present when it opened (the eligible voters)
    quorum_required: bool
    quorum_met: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """The result and the rule that decided it."""

    outcome: Outcome
    base: int
    required: int
    passed_option_ids: list[int]
    decided_by: str


def votes_cast(tally: Tally) -> int:
    """The base of the ``*_cast`` rules: votes for or against / non-blank ballots."""
    if tally.kind is PollKind.YES_NO_ABSTAIN:
        by_label = {o.label: o.votes for o in tally.options}
        return by_label.get(YES, 0) + by_label.get(NO, 0)
    return tally.ballots - tally.blank


def decide(majority: Majority, tally: Tally) -> Decision:
    """Apply ``majority`` to ``tally``."""
    if majority in (Majority.SIMPLE_CAST, Majority.TWO_THIRDS_CAST):
        base = votes_cast(tally)
    elif majority is Majority.PRESENT:
        base = tally.present
    else:
        base = tally.members
    if majority in (Majority.TWO_THIRDS_CAST, Majority.TWO_THIRDS_ALL):
        required = at_least_two_thirds(base)
    else:
        required = more_than_half(base)
    words = f"{_DESCRIPTION[majority]}: {required} of {base} needed"
    if tally.quorum_required and not tally.quorum_met:
        return Decision(Outcome.INVALID, base, required, [], f"quorum not met; {words}")
    candidates = (
        [o for o in tally.options if o.label == YES]
        if tally.kind is PollKind.YES_NO_ABSTAIN
        else tally.options
    )
    passed = sorted(
        (o for o in candidates if o.votes >= required), key=lambda o: (-o.votes, o.option_id)
    )
    outcome = Outcome.PASSED if passed else Outcome.FAILED
    return Decision(outcome, base, required, [o.option_id for o in passed], words)
