"""The mail outbox: invitation e-mails written in the same transaction as the change they announce.

Scheduling a meeting, moving it, cancelling it or withdrawing an invitation queues one row per
recipient here, inside the caller's transaction: a change that rolls back queues nothing, a
committed change loses nothing. ``signaling.mail`` delivers the rows in the background
(claim → send → mark sent, or mark failed with a back-off), so a request never waits for SMTP
and a mail server outage only delays the mails.

Delivery is at least once: a process that dies between sending and marking re-sends that mail
after its lease runs out. Calendar clients treat a repeated invitation (same UID and SEQUENCE)
as the same one.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, Index, Text, bindparam, literal, update
from sqlalchemy.orm import aliased
from sqlmodel import Field, SQLModel, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.calendar import CalendarEvent, Method, event_for
from meetings.clock import utcnow
from meetings.models import Account, Invitation, Meeting, Unit, UTCDateTime
from meetings.units import MAX_DEPTH


class MailKind(StrEnum):
    """Why a mail is sent; decides its wording and its iTIP method."""

    INVITATION = "invitation"  # newly invited (REQUEST)
    UPDATE = "update"  # time, title or chair changed (REQUEST, higher SEQUENCE)
    CANCELLATION = "cancellation"  # the meeting is cancelled (CANCEL)
    WITHDRAWAL = "withdrawal"  # this recipient's invitation was withdrawn (CANCEL)

    @property
    def method(self) -> Method:
        """REQUEST or CANCEL."""
        cancels = self in (MailKind.CANCELLATION, MailKind.WITHDRAWAL)
        return Method.CANCEL if cancels else Method.REQUEST


class MailState(StrEnum):
    """pending → sent; or failed (gave up after the last attempt) or expired (too late)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"


class OutboxMail(SQLModel, table=True):
    """One e-mail to one recipient, with a frozen copy of the calendar event it carries."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    to_address: str = Field(max_length=254)
    to_name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    method: str = Field(max_length=8)
    sequence: int
    event_json: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=MailState.PENDING.value, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The meeting's planned end: an invitation still undelivered by then is pointless.
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))

    @property
    def event(self) -> CalendarEvent:
        """The calendar event as it was when the mail was queued."""
        return CalendarEvent.from_json(self.event_json)


def _invited_subtree():  # -> recursive CTE of (id, depth)
    """Units invited to ``meeting_id`` and every unit below them."""
    base = select(col(Invitation.unit_id).label("id"), literal(1).label("depth")).where(
        Invitation.meeting_id == bindparam("meeting_id"), col(Invitation.unit_id).is_not(None)
    )
    tree = base.cte("invited_units", recursive=True)
    child = aliased(Unit)
    return tree.union_all(
        select(child.id, tree.c.depth + 1)
        .where(child.parent_id == tree.c.id)
        .where(tree.c.depth < MAX_DEPTH)
    )


_SUBTREE = _invited_subtree()
_RECIPIENTS = (
    select(Account)
    .where(col(Account.active).is_(True), col(Account.email).is_not(None), Account.email != "")
    .where(
        or_(
            col(Account.id).in_(
                select(Invitation.account_id).where(
                    Invitation.meeting_id == bindparam("meeting_id")
                )
            ),
            col(Account.unit_id).in_(select(_SUBTREE.c.id)),
        )
    )
    .order_by(Account.id)
)


async def recipients(session: AsyncSession, meeting_id: int) -> list[Account]:
    """Active accounts with an e-mail address invited directly or through a unit above them.

    Accounts without an address are skipped (they see the meeting in the web client); endpoint
    devices have none.
    """
    rows = await session.exec(_RECIPIENTS, params={"meeting_id": meeting_id})
    return list(rows.all())


async def queue(
    session: AsyncSession, meeting: Meeting, kind: MailKind, accounts: Iterable[Account]
) -> list[OutboxMail]:
    """Queue one mail per account in the caller's transaction; nothing once the meeting is over."""
    now = utcnow()
    if meeting.ends_at <= now:
        return []
    chair = await session.get(Account, meeting.chair_id)
    event_json = event_for(meeting, chair, now).to_json()
    mails = [
        OutboxMail(
            meeting_id=meeting.id or 0,
            account_id=account.id,
            to_address=account.email or "",
            to_name=account.full_name,
            kind=kind.value,
            method=kind.method.value,
            sequence=meeting.calendar_sequence,
            event_json=event_json,
            next_attempt_at=now,
            expires_at=meeting.ends_at,
        )
        for account in accounts
        if account.email
    ]
    session.add_all(mails)
    await session.flush()
    return mails


async def pending_for(session: AsyncSession, meeting_id: int) -> list[OutboxMail]:
    """A meeting's mails in the order they were queued (for tests and operators)."""
    query = select(OutboxMail).where(OutboxMail.meeting_id == meeting_id).order_by(OutboxMail.id)
    return list((await session.exec(query)).all())


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, lease_seconds: float
) -> list[OutboxMail]:
    """Take up to ``limit`` due mails for one delivery round.

    Each claimed row's next attempt moves ``lease_seconds`` ahead and its attempt count goes up,
    so another process (or this one after a crash) retries it only once the lease has passed.
    On PostgreSQL, ``SKIP LOCKED`` lets several servers deliver side by side. Mails past their
    meeting's end are marked expired instead.
    """
    await session.exec(  # type: ignore[call-overload]
        update(OutboxMail)
        .where(col(OutboxMail.state) == MailState.PENDING.value)
        .where(col(OutboxMail.expires_at) <= now)
        .values(state=MailState.EXPIRED.value, last_error="the meeting was over before delivery")
    )
    query = (
        select(OutboxMail)
        .where(OutboxMail.state == MailState.PENDING.value, OutboxMail.next_attempt_at <= now)
        .order_by(OutboxMail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    mails = list((await session.exec(query)).all())
    for mail in mails:
        mail.attempts += 1
        mail.next_attempt_at = now + timedelta(seconds=lease_seconds)
        session.add(mail)
    await session.flush()
    return mails


async def mark_sent(session: AsyncSession, mail_id: int, now: datetime) -> None:
    """The SMTP server accepted the mail."""
    mail = await session.get(OutboxMail, mail_id)
    if mail is None:
        return
    mail.state = MailState.SENT.value
    mail.sent_at = now
    mail.last_error = ""
    session.add(mail)
    await session.flush()


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Exponential back-off: base, 2×base, 4×base … capped at ``max_seconds``."""
    return min(max_seconds, base_seconds * 2 ** max(0, attempts - 1))


async def mark_failed(
    session: AsyncSession,
    mail_id: int,
    error: str,
    now: datetime,
    *,
    base_seconds: float,
    max_seconds: float,
    max_attempts: int,
    permanent: bool = False,
) -> OutboxMail | None:
    """Record a failed attempt: retry after the back-off, or give up.

    It gives up after ``max_attempts``, or at once on a ``permanent`` failure (the server
    refused the address for good: retrying cannot help).
    """
    mail = await session.get(OutboxMail, mail_id)
    if mail is None:
        return None
    mail.last_error = error[:500]
    if permanent or mail.attempts >= max_attempts:
        mail.state = MailState.FAILED.value
    else:
        mail.next_attempt_at = now + timedelta(
            seconds=retry_delay(mail.attempts, base_seconds, max_seconds)
        )
    session.add(mail)
    await session.flush()
    return mail
