"""Tables of voting.

A secret ballot is stored as two things that share nothing but the poll:

* ``poll_receipt`` — *who has voted*: (poll, account), no timestamp, no surrogate id;
* ``poll_option.votes`` — *what was voted*: one counter per option, updated in place.

Every transaction that adds secret ballots updates the counter of every option of the poll
(adding 0 where nobody chose it), so even PostgreSQL's row versions (``xmin``, ``ctid``) of
the counters say only "some ballots were added by this transaction", never which option.
Named (công khai) ballots are public by design and also keep one ``poll_ballot`` row per
chosen option, with the voter and the time.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKeyConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from meetings.clock import utcnow
from meetings.models import _ts


class PollKind(StrEnum):
    """What a ballot holds."""

    YES_NO_ABSTAIN = "yes_no_abstain"  # options "yes", "no", "abstain", exactly one chosen
    SINGLE = "single"  # exactly one of the options
    MULTIPLE = "multiple"  # between min_choices and max_choices of the options


class PollState(StrEnum):
    """draft → open → closed."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Poll(SQLModel, table=True):
    """A question put to the vote in a meeting, optionally on one agenda item."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_item.id", index=True)
    title: str = Field(max_length=500)
    description: str = Field(default="", max_length=4000)
    kind: str = Field(max_length=16)
    min_choices: int = 1
    max_choices: int = 1
    secret: bool = False
    allow_change: bool = False  # named polls only: a voter may change the ballot until close
    majority: str = Field(max_length=24)  # a ``rules.Majority``
    quorum_required: bool = True
    state: str = Field(default=PollState.DRAFT.value, max_length=16, index=True)
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # Snapshot taken when the poll opens.
    opened_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    members_count: int = 0
    present_count: int = 0
    quorum_rule: str = Field(default="", max_length=16)
    quorum_met: bool | None = None
    # Live: the number of ballots (receipts) committed so far.
    ballot_count: int = 0
    blank_count: int = 0  # ballots choosing nothing (multiple choice with min_choices = 0)
    # Result, stored when the poll closes.
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    outcome: str | None = Field(default=None, max_length=16)  # a ``rules.Outcome``
    decided_by: str = Field(default="", max_length=500)  # the rule and threshold, in words
    result_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PollOption(SQLModel, table=True):
    """One choice of a poll, with its live counter."""

    __tablename__ = "poll_option"
    __table_args__ = (UniqueConstraint("poll_id", "position", name="uq_poll_option_position"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    position: int
    label: str = Field(max_length=300)
    votes: int = 0


class PollVoter(SQLModel, table=True):
    """The eligible voters: members present when the poll opened (a snapshot)."""

    __tablename__ = "poll_voter"

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    account_id: int = Field(foreign_key="account.id", primary_key=True)


class PollReceipt(SQLModel, table=True):
    """ "Has voted": the primary key is the one-ballot-per-voter rule. No time, no id, no choice."""

    __tablename__ = "poll_receipt"
    __table_args__ = (
        ForeignKeyConstraint(
            ["poll_id", "account_id"], ["poll_voter.poll_id", "poll_voter.account_id"]
        ),
    )

    poll_id: int = Field(primary_key=True)
    account_id: int = Field(primary_key=True)


class PollBallot(SQLModel, table=True):
    """A named ballot's choice: one row per option chosen (never written for secret polls)."""

    __tablename__ = "poll_ballot"
    __table_args__ = (
        ForeignKeyConstraint(
            ["poll_id", "account_id"], ["poll_receipt.poll_id", "poll_receipt.account_id"]
        ),
    )

    poll_id: int = Field(primary_key=True)
    account_id: int = Field(primary_key=True)
    option_id: int = Field(foreign_key="poll_option.id", primary_key=True)
    cast_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
