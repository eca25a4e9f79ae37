"""Invitation e-mail over SMTP (aiosmtplib): the background sender of ``meetings.notifications``.

The request that schedules, moves or cancels a meeting only writes outbox rows in its own
transaction and wakes this sender after the commit; it never waits for SMTP. The sender claims
due rows, sends them over one SMTP connection per round and marks each one sent right away, or
failed with an exponential back-off (the mail server may be down for hours: nothing is lost,
delivery resumes when it is back). Every attempt and every failure is logged.

Each mail is plain text + HTML (Vietnamese first, English below) with the invitation both as a
``text/calendar; method=…`` alternative (what Outlook and Gmail turn into accept buttons) and
as an ``invite.ics`` attachment (what everything else imports).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any

import aiosmtplib
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import notifications
from meetings.calendar import Method, Person, build_ics
from meetings.clock import utcnow
from meetings.invitation_text import compose
from meetings.notifications import MailKind, OutboxMail
from signaling.logs import get_logger
from signaling.settings import Settings

log = get_logger("phonghop.mail")
MAILER = "mailer"  # key of the running MailSender in AppState.extras
Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def public_base_url(settings: Settings) -> str:
    """How users reach the server (``PHONGHOP_PUBLIC_URL``), without a trailing slash."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def meeting_link(settings: Settings, meeting_id: int) -> str:
    """The link to a meeting in the web client, as written in e-mails and .ics files."""
    return f"{public_base_url(settings)}/meetings/{meeting_id}"


def sender_email(settings: Settings) -> str:
    """The bare address of ``PHONGHOP_SMTP_FROM`` (``Name <addr>`` or ``addr``)."""
    return parseaddr(settings.smtp_from)[1] or "phonghop@localhost"


def calendar_file(
    settings: Settings, mail_or_event: Any, method: Method, attendees: list[Person]
) -> bytes:
    """The .ics of an outbox mail's event (or of a ``CalendarEvent``), with links filled in."""
    event = mail_or_event.event if isinstance(mail_or_event, OutboxMail) else mail_or_event
    return build_ics(
        event,
        method,
        url=meeting_link(settings, event.meeting_id),
        attendees=attendees,
        sender_email=sender_email(settings),
    )


def build_message(settings: Settings, mail: OutboxMail) -> EmailMessage:
    """The complete MIME message of one outbox row."""
    event = mail.event
    method = Method(mail.method)
    words = compose(
        event, MailKind(mail.kind), mail.to_name, meeting_link(settings, event.meeting_id)
    )
    ics = calendar_file(settings, mail, method, [Person(mail.to_name, mail.to_address)])
    msg = EmailMessage()
    msg["Subject"] = words.subject
    msg["From"] = settings.smtp_from
    msg["To"] = formataddr((mail.to_name, mail.to_address))
    msg["Date"] = format_datetime(utcnow())
    domain = Address(addr_spec=sender_email(settings)).domain or "phonghop"
    msg["Message-ID"] = make_msgid(f"mail{mail.id}", domain=domain)
    msg.set_content(words.text)
    msg.add_alternative(words.html, subtype="html")
    msg.add_alternative(
        ics,
        maintype="text",
        subtype="calendar",
        params={"method": method.value, "charset": "utf-8"},
    )
    msg.add_attachment(
        ics,
        maintype="application",
        subtype="ics",
        filename="invite.ics",
        params={"method": method.value},
    )
    return msg


def _is_permanent(exc: Exception) -> bool:
    """A 5xx answer about this message (bad address, refused): retrying cannot help."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return 500 <= exc.code < 600
    return False


@dataclass
class Round:
    """What one delivery round did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0


class MailSender:
    """Delivers the outbox: woken after each change, and every ``mail_poll_seconds`` anyway."""

    def __init__(self, settings: Settings, transaction: Transaction) -> None:
        self.settings = settings
        self.transaction = transaction
        self._wake = asyncio.Event()
        # A claimed row is left alone by other rounds/processes for this long.
        self.lease_seconds = settings.smtp_timeout_seconds * (settings.mail_batch_size + 2)

    def wake(self) -> None:
        """Deliver now (called after a commit that queued mails)."""
        self._wake.set()

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            validate_certs=s.smtp_validate_certs,
            timeout=s.smtp_timeout_seconds,
        )

    async def _failed(self, mail: OutboxMail, exc: Exception) -> None:
        s = self.settings
        error = f"{type(exc).__name__}: {exc}"
        async with self.transaction() as session:
            row = await notifications.mark_failed(
                session,
                mail.id or 0,
                error,
                utcnow(),
                base_seconds=s.mail_retry_base_seconds,
                max_seconds=s.mail_retry_max_seconds,
                max_attempts=s.mail_max_attempts,
                permanent=_is_permanent(exc),
            )
        gave_up = row is not None and row.state == notifications.MailState.FAILED.value
        log.warning(
            "mail.failed",
            mail_id=mail.id,
            meeting_id=mail.meeting_id,
            account_id=mail.account_id,
            attempt=mail.attempts,
            error=error,
            gave_up=gave_up,
            retry_at=None if gave_up or row is None else row.next_attempt_at.isoformat(),
        )

    async def deliver_due(self) -> Round:
        """One round: claim due mails (committed first), send them, mark each outcome."""
        s = self.settings
        async with self.transaction() as session:
            mails = await notifications.claim_due(
                session, utcnow(), s.mail_batch_size, self.lease_seconds
            )
        done = Round(claimed=len(mails))
        if not mails:
            return done
        client = self._client()
        try:
            await client.connect()
        except Exception as exc:  # server down, refused, TLS or login failure: all retry later
            for mail in mails:
                await self._failed(mail, exc)
            done.failed = len(mails)
            return done
        try:
            for mail in mails:
                log.info(
                    "mail.attempt",
                    mail_id=mail.id,
                    meeting_id=mail.meeting_id,
                    account_id=mail.account_id,
                    kind=mail.kind,
                    attempt=mail.attempts,
                )
                try:
                    await client.send_message(
                        build_message(s, mail),
                        sender=sender_email(s),
                        recipients=[mail.to_address],
                    )
                except Exception as exc:
                    await self._failed(mail, exc)
                    done.failed += 1
                    if not client.is_connected:
                        with contextlib.suppress(Exception):
                            await client.connect()
                    continue
                async with self.transaction() as session:
                    await notifications.mark_sent(session, mail.id or 0, utcnow())
                done.sent += 1
                log.info("mail.sent", mail_id=mail.id, meeting_id=mail.meeting_id)
        finally:
            with contextlib.suppress(Exception):
                await client.quit()
        return done

    async def run(self) -> None:
        """Deliver until cancelled: full batches back to back, then wait for a wake-up."""
        while True:
            self._wake.clear()
            try:
                while (await self.deliver_due()).claimed >= self.settings.mail_batch_size:
                    pass
            except Exception:  # a database hiccup must not end delivery for good
                log.exception("mail.round_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.mail_poll_seconds)


async def wake(state: Any) -> None:
    """After-commit hook of the routes that queue mails (a no-op when mail is not configured)."""
    sender = state.extras.get(MAILER)
    if sender is not None:
        sender.wake()


@contextlib.asynccontextmanager
async def running(state: Any) -> AsyncIterator[None]:
    """Run the sender for the lifetime of the block, if an SMTP host is configured."""
    settings: Settings = state.settings
    if not settings.smtp_host:
        log.info("mail.disabled", reason="PHONGHOP_SMTP_HOST is not set; mails stay queued")
        yield
        return
    sender = MailSender(settings, state.transaction)
    state.extras[MAILER] = sender
    task = asyncio.create_task(sender.run(), name="mail-sender")
    log.info("mail.enabled", host=settings.smtp_host, port=settings.smtp_port)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        state.extras.pop(MAILER, None)
