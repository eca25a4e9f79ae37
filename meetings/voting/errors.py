"""Errors of voting, with their own codes so the client can say exactly what went wrong."""

from meetings.errors import Conflict


class NotEligible(Conflict):
    """The voter is not on the poll's list (not a member, or not present when it opened)."""

    code = "not_eligible"


class AlreadyVoted(Conflict):
    """A ballot from this voter is already committed (and the poll allows no change)."""

    code = "already_voted"


class PollNotOpen(Conflict):
    """The poll is still a draft or already closed."""

    code = "poll_not_open"
