"""What a process remembers about open polls, so a ballot is checked without a query.

A poll's options, choice limits and eligible voters are written when it is prepared and
opened, and cannot change while it is open: they are read once per opening (keyed by the
poll's ``opened_at``, so a poll id reused after a deletion is never confused with an older
one) and every later ballot is checked against memory. The process also remembers who it has
seen committed as having voted, so a repeated ballot ("did my vote go through?" taps, a client
resending after a reconnect) is refused without a transaction.

Refusals from this memory are always true statements, whatever happened since in another
process: a voter outside the snapshot, an unknown option or a committed receipt stay so for
the whole opening. Acceptances are never decided here; the ballot transaction still locks the
poll in the open state and the receipt's primary key still refuses a duplicate.
"""

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from meetings.actor import ActorKind
from meetings.errors import DomainError, InvalidInput, NotFound
from meetings.voting.errors import AlreadyVoted, NotEligible


@dataclass(frozen=True, slots=True)
class OpenPoll:
    """The parts of an open poll that a ballot is checked against."""

    poll_id: int
    meeting_id: int
    opened_at: datetime
    min_choices: int
    max_choices: int
    secret: bool
    allow_change: bool
    present_count: int
    option_ids: tuple[int, ...]  # in position order
    voters: frozenset[int]

    def refusal(
        self, meeting_id: int, actor_kind: ActorKind, actor_id: int, choices: tuple[int, ...]
    ) -> DomainError | None:
        """Why this ballot cannot be accepted, or None if only the database can tell."""
        if meeting_id != self.meeting_id:
            return NotFound("poll not found", poll_id=self.poll_id)
        if actor_kind is not ActorKind.ACCOUNT:
            return NotEligible("only members' accounts vote, not endpoint devices")
        if len(set(choices)) != len(choices):
            return InvalidInput("an option is chosen twice")
        if not set(choices) <= set(self.option_ids):
            return InvalidInput("unknown option for this poll")
        if not self.min_choices <= len(choices) <= self.max_choices:
            return InvalidInput(
                f"choose between {self.min_choices} and {self.max_choices} options",
                min_choices=self.min_choices,
                max_choices=self.max_choices,
            )
        if actor_id not in self.voters:
            return NotEligible("not an eligible voter of this poll")
        return None


class OpenPolls:
    """Per-process memory of open polls and of the receipts seen committed (bounded)."""

    def __init__(self, limit: int = 64) -> None:
        self._limit = limit
        self._polls: OrderedDict[int, OpenPoll] = OrderedDict()
        self._voted: dict[int, set[int]] = {}

    def get(self, poll_id: int, opened_at: datetime | None = None) -> OpenPoll | None:
        """The remembered poll (only if it is the same opening, when ``opened_at`` is given)."""
        poll = self._polls.get(poll_id)
        if poll is None or (opened_at is not None and poll.opened_at != opened_at):
            return None
        self._polls.move_to_end(poll_id)
        return poll

    def remember(self, poll: OpenPoll) -> None:
        """Keep ``poll``, replacing an earlier opening and evicting the least recently used."""
        old = self._polls.get(poll.poll_id)
        if old is not None and old.opened_at != poll.opened_at:
            self._voted.pop(poll.poll_id, None)
        self._polls[poll.poll_id] = poll
        self._polls.move_to_end(poll.poll_id)
        while len(self._polls) > self._limit:
            evicted, _ = self._polls.popitem(last=False)
            self._voted.pop(evicted, None)

    def forget(self, poll_id: int) -> None:
        """The poll is no longer open (or no longer exists)."""
        self._polls.pop(poll_id, None)
        self._voted.pop(poll_id, None)

    def committed(self, poll_id: int, account_ids: Iterable[int]) -> None:
        """These voters' receipts are committed (call only after the commit)."""
        if poll_id in self._polls:
            self._voted.setdefault(poll_id, set()).update(account_ids)

    def refusal(
        self,
        poll_id: int,
        meeting_id: int,
        actor_kind: ActorKind,
        actor_id: int,
        choices: tuple[int, ...],
    ) -> DomainError | None:
        """Why a ballot is refused, from memory alone; None when the transaction must decide."""
        poll = self.get(poll_id)
        if poll is None:
            return None
        error = poll.refusal(meeting_id, actor_kind, actor_id, choices)
        if error is None and not poll.allow_change and actor_id in self._voted.get(poll_id, ()):
            error = AlreadyVoted("a ballot from you is already counted")
        return error
