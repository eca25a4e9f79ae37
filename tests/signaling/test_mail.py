"""Invitation e-mail end to end: a real server, a real local SMTP server (aiosmtpd), real mails.

Schedule → an invitation with a parseable .ics; move → SEQUENCE + 1 and the new time; cancel →
METHOD:CANCEL; no address → no mail; SMTP down → retried with back-off and delivered once the
server is back. Runs on SQLite and PostgreSQL.
"""

import asyncio
import email
import email.policy
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from meetings import notifications
from meetings.models import Account
from tests.harness import Api, Server, build_world, free_port, make_settings

PUBLIC_URL = "https://hop.quangninh.gov.vn"
DELEGATE_EMAIL = "le.van.daibieu@quangninh.gov.vn"


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every accepted message."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        """Accept and keep the message."""
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@dataclass
class Smtp:
    """A local SMTP server that can go down and come back on the same port."""

    port: int
    inbox: Inbox = field(default_factory=Inbox)
    controller: Controller | None = None

    def start(self) -> None:
        """Listen on 127.0.0.1:port."""
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start``."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    """A running local SMTP server."""
    server = Smtp(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def mail_server(tmp_path, database_url, smtp: Smtp) -> AsyncIterator[Server]:
    """The real application, mailing through ``smtp``, retrying quickly."""
    settings = make_settings(
        tmp_path / "data",
        database_url,
        public_url=PUBLIC_URL,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_from="Phòng họp không giấy <phonghop@quangninh.gov.vn>",
        smtp_timeout_seconds=5,
        mail_poll_seconds=0.2,
        mail_retry_base_seconds=0.2,
        mail_retry_max_seconds=0.5,
    )
    server = Server(settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 15.0) -> None:
    """Poll a condition (plain or async) until it holds: delivery happens in the background."""
    deadline = asyncio.get_running_loop().time() + within

    async def holds() -> bool:
        result = check()
        return await result if inspect.isawaitable(result) else bool(result)

    while not await holds():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def mail_rows(server: Server, meeting_id: int) -> list[notifications.OutboxMail]:
    """The meeting's outbox rows, read from the server's database."""
    async with server.state.transaction() as s:
        return await notifications.pending_for(s, meeting_id)


def calendar_of(message: EmailMessage) -> tuple[Calendar, object]:
    """The invitation inside a mail: the attachment and the calendar alternative agree."""
    parts = {p.get_content_type(): p for p in message.walk()}
    attached = parts["application/ics"]
    inline = parts["text/calendar"]
    assert attached.get_filename() == "invite.ics"
    assert inline.get_content_charset() == "utf-8"
    assert attached.get_content() == inline.get_content().encode("utf-8")
    cal = Calendar.from_ical(inline.get_content())
    assert inline.get_param("method") == str(cal["METHOD"])
    (event,) = cal.walk("VEVENT")
    return cal, event


def text_of(message: EmailMessage) -> str:
    """The plain-text body."""
    return message.get_body(preferencelist=("plain",)).get_content()


async def _setup(server: Server, http) -> tuple[Api, Api, Api, dict]:
    """The world, the delegate with an address (the observer has none), a meeting next week."""
    world = await build_world(server, http)
    admin = Api(server.url, http, token=world.tokens["admin"])
    chair = Api(server.url, http, token=world.tokens["chair"])
    delegate = Api(server.url, http, token=world.tokens["delegate"])
    status, account = await admin.patch(
        f"/api/v1/accounts/{world.accounts['delegate']}", {"email": DELEGATE_EMAIL}
    )
    assert status == 200 and account["email"] == DELEGATE_EMAIL, account
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    status, meeting = await chair.post(
        "/api/v1/meetings",
        {
            "title": "Họp triển khai chuyển đổi số",
            "starts_at": starts.isoformat(),
            "duration_minutes": 90,
            "chair_id": world.accounts["chair"],
            "secretary_id": world.accounts["secretary"],
        },
    )
    assert status == 201, meeting
    assert datetime.fromisoformat(meeting["ends_at"]) == starts + timedelta(minutes=90)
    return admin, chair, delegate, {"world": world, "meeting": meeting, "starts": starts}


async def test_schedule_move_and_cancel_mail_a_parseable_invitation(mail_server, http, smtp):
    _, chair, delegate, ctx = await _setup(mail_server, http)
    world, meeting, starts = ctx["world"], ctx["meeting"], ctx["starts"]
    mid = meeting["id"]
    inbox = smtp.inbox.messages
    status, _ = await chair.post(
        f"/api/v1/meetings/{mid}/invitations",
        {
            "invitees": [
                {"kind": "account", "id": world.accounts["delegate"]},
                {"kind": "account", "id": world.accounts["observer"]},  # no address: skipped
            ]
        },
    )
    assert status == 201
    await eventually(lambda: len(inbox) >= 1)
    recipients, invitation = inbox[0]
    assert recipients == [DELEGATE_EMAIL]
    assert invitation["To"].addresses[0].addr_spec == DELEGATE_EMAIL
    assert invitation["From"].addresses[0].addr_spec == "phonghop@quangninh.gov.vn"
    assert (
        invitation["Subject"] == "[Giấy mời họp / Meeting invitation] Họp triển khai chuyển đổi số"
    )
    link = f"{PUBLIC_URL}/meetings/{mid}"
    assert link in text_of(invitation)
    cal, event = calendar_of(invitation)
    uid = str(event["UID"])
    assert str(cal["METHOD"]) == "REQUEST"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == starts
    assert event.decoded("DTEND") == starts + timedelta(minutes=90)
    assert str(event["URL"]) == link
    assert str(event["ATTENDEE"]) == f"mailto:{DELEGATE_EMAIL}"

    # The same invitation, downloaded by a member.
    status, _ = await delegate.get(f"/api/v1/meetings/{mid}/calendar.ics")
    assert status == 200
    async with http.get(
        f"{mail_server.url}/api/v1/meetings/{mid}/calendar.ics",
        headers={"Authorization": f"Bearer {world.tokens['delegate']}"},
    ) as r:
        assert r.content_type == "text/calendar"
        assert "meeting-" in r.headers["Content-Disposition"]
        downloaded = Calendar.from_ical(await r.read())
    (dl_event,) = downloaded.walk("VEVENT")
    assert (str(dl_event["UID"]), int(dl_event["SEQUENCE"])) == (uid, 0)
    assert str(dl_event["ATTENDEE"]) == f"mailto:{DELEGATE_EMAIL}"

    # Moved: the next SEQUENCE and the new time, same UID.
    later = starts + timedelta(days=1, hours=1)
    status, moved = await chair.patch(f"/api/v1/meetings/{mid}", {"starts_at": later.isoformat()})
    assert status == 200 and moved["calendar_sequence"] == 1
    await eventually(lambda: len(inbox) >= 2)
    _, update = inbox[1]
    assert update["Subject"].startswith("[Thay đổi lịch họp / Meeting changed]")
    cal, event = calendar_of(update)
    assert (str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])) == ("REQUEST", uid, 1)
    assert event.decoded("DTSTART") == later

    # Cancelled: METHOD:CANCEL with the next SEQUENCE.
    status, cancelled = await chair.post(
        f"/api/v1/meetings/{mid}/cancel", {"reason": "Trùng lịch họp Tỉnh ủy"}
    )
    assert status == 200, cancelled
    assert cancelled["state"] == "cancelled" and cancelled["cancel_reason"].startswith("Trùng")
    await eventually(lambda: len(inbox) >= 3)
    _, cancel = inbox[2]
    cal, event = calendar_of(cancel)
    assert (str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])) == ("CANCEL", uid, 2)
    assert str(event["STATUS"]) == "CANCELLED"
    assert "Trùng lịch họp Tỉnh ủy" in text_of(cancel)
    status, body = await delegate.get(f"/api/v1/meetings/{mid}/calendar.ics")
    assert status == 200 and "METHOD:CANCEL" in body

    # Only the delegate was ever mailed, and every row is marked sent.
    assert [r for r, _ in inbox] == [[DELEGATE_EMAIL]] * 3
    rows = await mail_rows(mail_server, mid)
    assert [(r.kind, r.state) for r in rows] == [
        ("invitation", "sent"),
        ("update", "sent"),
        ("cancellation", "sent"),
    ]

    # A cancelled meeting cannot start or be cancelled again; nothing changes.
    for path in ("start", "cancel"):
        status, body = await chair.post(f"/api/v1/meetings/{mid}/{path}", {})
        assert status == 409 and body["error"]["code"] == "conflict", body
    status, again = await chair.get(f"/api/v1/meetings/{mid}")
    assert again == cancelled
    assert len(await mail_rows(mail_server, mid)) == 3


async def test_a_mail_server_outage_delays_but_loses_nothing(mail_server, http, smtp):
    _, chair, _, ctx = await _setup(mail_server, http)
    world, mid = ctx["world"], ctx["meeting"]["id"]
    smtp.stop()
    status, _ = await chair.post(
        f"/api/v1/meetings/{mid}/invitations",
        {"invitees": [{"kind": "account", "id": world.accounts["delegate"]}]},
    )
    assert status == 201  # the request does not wait for (or fail on) SMTP

    async def retried() -> bool:
        rows = await mail_rows(mail_server, mid)
        return len(rows) == 1 and rows[0].attempts >= 2

    await eventually(retried)
    (row,) = await mail_rows(mail_server, mid)
    assert row.state == "pending" and row.sent_at is None
    assert "SMTPConnect" in row.last_error
    assert smtp.inbox.messages == []

    smtp.start()
    await eventually(lambda: len(smtp.inbox.messages) == 1)

    async def sent() -> bool:
        return (await mail_rows(mail_server, mid))[0].state == "sent"

    await eventually(sent)
    (row,) = await mail_rows(mail_server, mid)
    assert row.sent_at is not None and row.last_error == ""
    recipients, message = smtp.inbox.messages[0]
    assert recipients == [DELEGATE_EMAIL]
    _, event = calendar_of(message)
    assert int(event["SEQUENCE"]) == 0


async def test_bad_input_changes_nothing(mail_server, http, smtp):
    admin, chair, delegate, ctx = await _setup(mail_server, http)
    world, mid = ctx["world"], ctx["meeting"]["id"]
    account_path = f"/api/v1/accounts/{world.accounts['delegate']}"
    for bad in ("không-phải-email", "a@", "x" * 250 + "@qn.gov.vn", 42):
        status, body = await admin.patch(account_path, {"email": bad})
        assert status == 422 and body["error"]["code"] == "validation_error", (bad, body)
    status, body = await admin.post(
        "/api/v1/accounts",
        {
            "username": "bad_mail",
            "full_name": "Sai thư",
            "unit_id": world.province,
            "role": "delegate",
            "password": "mật khẩu đủ dài",
            "email": "@@",
        },
    )
    assert status == 422
    async with mail_server.state.transaction() as s:
        stored = await s.get(Account, world.accounts["delegate"])
    assert stored.email == DELEGATE_EMAIL
    # Removing the address is explicit (null); leaving the field out keeps it.
    status, body = await admin.patch(account_path, {"full_name": "Lê Văn Đại Biểu"})
    assert status == 200 and body["email"] == DELEGATE_EMAIL
    status, body = await admin.patch(account_path, {"email": None})
    assert status == 200 and body["email"] is None

    # Cancel: unknown fields, a delegate, an ended meeting.
    before = (await chair.get(f"/api/v1/meetings/{mid}"))[1]
    status, body = await chair.post(f"/api/v1/meetings/{mid}/cancel", {"why": "x"})
    assert status == 422
    status, body = await delegate.post(f"/api/v1/meetings/{mid}/cancel", {})
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await chair.patch(f"/api/v1/meetings/{mid}", {"duration_minutes": 2})
    assert status == 422
    assert (await chair.get(f"/api/v1/meetings/{mid}"))[1] == before
    for step in ("start", "end"):
        assert (await chair.post(f"/api/v1/meetings/{mid}/{step}"))[0] == 200
    status, body = await chair.post(f"/api/v1/meetings/{mid}/cancel", {})
    assert status == 409
    status, ended = await chair.get(f"/api/v1/meetings/{mid}")
    assert ended["state"] == "ended" and ended["cancelled_at"] is None
    assert await mail_rows(mail_server, mid) == []
    assert smtp.inbox.messages == []
