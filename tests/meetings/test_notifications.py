"""Invitation mails in the outbox: who gets what for each change, and the delivery bookkeeping.

On SQLite and PostgreSQL. The SMTP side (real server, real mails) is in
``tests/signaling/test_mail.py``.
"""

from datetime import timedelta

import pytest
from sqlmodel import select

from meetings import audit, db, notifications, scheduling
from meetings.audit import AuditEntry
from meetings.clock import utcnow
from meetings.errors import Conflict
from meetings.models import Account, InviteeKind, Meeting, MeetingState, Role
from meetings.notifications import MailState, OutboxMail, retry_delay
from tests.meetings.support import add_account

EMAILS = {
    "chair": "chutri@quangninh.gov.vn",
    "delegate": "daibieu.thanhson@quangninh.gov.vn",  # Thanh Sơn, under the district
    "district_delegate": "daibieu.bache@quangninh.gov.vn",  # the district itself
    "observer": "quansat@quangninh.gov.vn",  # the province: above the district
    "outsider": "ngoaitinh@langson.gov.vn",  # another province
}


async def _with_emails(sessions, org) -> None:
    """Give the seeded accounts addresses (the secretary has none)."""
    async with db.transaction(sessions) as s:
        for name, email in EMAILS.items():
            account = await s.get(Account, org.accounts[name].id)
            account.email = email
            s.add(account)


async def _schedule(s, org, days: float = 7) -> Meeting:
    return await scheduling.create_meeting(
        s,
        org.actor("chair"),
        "Họp triển khai kế hoạch năm 2027",
        utcnow() + timedelta(days=days),
        org.accounts["chair"].id,
        org.accounts["secretary"].id,
        "Phòng họp trực tuyến",
    )


async def _mails(sessions, meeting_id: int) -> list[OutboxMail]:
    async with sessions() as s:
        return await notifications.pending_for(s, meeting_id)


def _summary(mails: list[OutboxMail]) -> list[tuple[str, str, str, int]]:
    return sorted((m.to_address, m.kind, m.method, m.sequence) for m in mails)


async def test_recipients_follow_invitations_down_the_unit_tree(sessions, org):
    await _with_emails(sessions, org)
    async with db.transaction(sessions) as s:
        await add_account(
            s, "nghi_huu", org.commune, Role.DELEGATE, active=False, email="nghihuu@qn.gov.vn"
        )
        await add_account(s, "khong_thu", org.commune, Role.DELEGATE)  # no address
        meeting = await _schedule(s, org)
        await scheduling.invite(s, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.district)])
        await scheduling.invite(
            s,
            org.actor("chair"),
            meeting,
            [
                (InviteeKind.ACCOUNT, org.accounts["outsider"].id),
                (InviteeKind.ENDPOINT, org.endpoints["quangla"].id),  # devices have no mail
            ],
        )
        found = [a.email for a in await notifications.recipients(s, meeting.id)]
    # The district and the commune below it, plus the direct invitation; not the province
    # above, not the disabled account, not the account without an address.
    assert sorted(found) == sorted(
        [EMAILS["delegate"], EMAILS["district_delegate"], EMAILS["outsider"]]
    )


async def test_inviting_mails_each_new_invitee_once(sessions, org):
    await _with_emails(sessions, org)
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org)
        await scheduling.invite(s, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.district)])
    mails = await _mails(sessions, meeting.id)
    assert _summary(mails) == sorted(
        [
            (EMAILS["delegate"], "invitation", "REQUEST", 0),
            (EMAILS["district_delegate"], "invitation", "REQUEST", 0),
        ]
    )
    first = mails[0]
    assert first.state == MailState.PENDING.value and first.attempts == 0
    assert first.event.title == "Họp triển khai kế hoạch năm 2027"
    assert first.event.organizer.email == EMAILS["chair"]
    assert first.expires_at == meeting.ends_at
    # Again with one more invitee (also covered by the district already) and one new one.
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, meeting.id)
        await scheduling.invite(
            s,
            org.actor("secretary"),
            meeting,
            [
                (InviteeKind.UNIT, org.district),
                (InviteeKind.ACCOUNT, org.accounts["delegate"].id),
                (InviteeKind.ACCOUNT, org.accounts["outsider"].id),
            ],
        )
    mails = await _mails(sessions, meeting.id)
    assert len(mails) == 3
    assert _summary(mails[2:]) == [(EMAILS["outsider"], "invitation", "REQUEST", 0)]


async def test_moving_the_meeting_mails_an_update_with_the_next_sequence(sessions, org):
    await _with_emails(sessions, org)
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org)
        await scheduling.invite(s, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.commune)])
    later = meeting.starts_at + timedelta(days=1, hours=2)
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, meeting.id)
        moved = await scheduling.update_meeting(
            s, org.actor("chair"), meeting, starts_at=later, duration_minutes=90
        )
    assert moved.calendar_sequence == 1
    update = (await _mails(sessions, meeting.id))[-1]
    assert (update.to_address, update.kind, update.method, update.sequence) == (
        EMAILS["delegate"],
        "update",
        "REQUEST",
        1,
    )
    assert update.event.starts_at == later
    assert update.event.ends_at == later + timedelta(minutes=90)
    # What calendars do not show (the secretary), or no change at all: no mail, same sequence.
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, meeting.id)
        same = await scheduling.update_meeting(
            s,
            org.actor("chair"),
            meeting,
            title=meeting.title,
            secretary_id=org.accounts["chair"].id,
        )
    assert same.calendar_sequence == 1
    assert len(await _mails(sessions, meeting.id)) == 2


async def test_cancelling_mails_a_cancel_and_closes_the_meeting(sessions, org):
    await _with_emails(sessions, org)
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org)
        await scheduling.invite(s, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.district)])
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, meeting.id)
        cancelled = await scheduling.cancel_meeting(
            s, org.actor("secretary"), meeting, "  Trùng lịch họp HĐND tỉnh "
        )
    assert cancelled.state == MeetingState.CANCELLED.value
    assert cancelled.cancel_reason == "Trùng lịch họp HĐND tỉnh"
    assert cancelled.cancelled_at is not None and cancelled.calendar_sequence == 1
    cancels = [m for m in await _mails(sessions, meeting.id) if m.kind == "cancellation"]
    assert _summary(cancels) == sorted(
        [
            (EMAILS["delegate"], "cancellation", "CANCEL", 1),
            (EMAILS["district_delegate"], "cancellation", "CANCEL", 1),
        ]
    )
    assert cancels[0].event.cancelled and cancels[0].event.cancel_reason.startswith("Trùng")
    # A cancelled meeting cannot start, change, take invitations or be cancelled again.
    async with sessions() as s:
        meeting = await s.get(Meeting, meeting.id)
        chair = org.actor("chair")
        with pytest.raises(Conflict):
            await scheduling.start_meeting(s, chair, meeting)
        with pytest.raises(Conflict):
            await scheduling.update_meeting(s, chair, meeting, title="Mở lại")
        with pytest.raises(Conflict):
            await scheduling.invite(s, chair, meeting, [(InviteeKind.UNIT, org.province)])
        with pytest.raises(Conflict):
            await scheduling.cancel_meeting(s, chair, meeting)
    async with sessions() as s:
        stored = await s.get(Meeting, meeting.id)
        assert (stored.state, stored.title, stored.calendar_sequence) == (
            "cancelled",
            meeting.title,
            1,
        )


async def test_live_and_ended_meetings_cannot_be_cancelled(sessions, org):
    chair = org.actor("chair")
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org)
        await scheduling.start_meeting(s, chair, meeting)
    for step in (None, scheduling.end_meeting):
        async with db.transaction(sessions) as s:
            meeting = await s.get(Meeting, meeting.id)
            if step is not None:
                await step(s, chair, meeting)
        async with sessions() as s:
            meeting = await s.get(Meeting, meeting.id)
            before = meeting.state
            with pytest.raises(Conflict):
                await scheduling.cancel_meeting(s, chair, meeting)
        async with sessions() as s:
            assert (await s.get(Meeting, meeting.id)).state == before


async def test_withdrawing_an_invitation_cancels_for_those_no_longer_invited(sessions, org):
    await _with_emails(sessions, org)
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org)
        district, _direct = await scheduling.invite(
            s,
            org.actor("chair"),
            meeting,
            [
                (InviteeKind.UNIT, org.district),
                (InviteeKind.ACCOUNT, org.accounts["delegate"].id),
            ],
        )
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, meeting.id)
        await scheduling.remove_invitation(s, org.actor("chair"), meeting, district.id)
    withdrawn = [m for m in await _mails(sessions, meeting.id) if m.kind == "withdrawal"]
    # The Thanh Sơn delegate is still invited by name: only the district's own delegate loses it.
    assert _summary(withdrawn) == [(EMAILS["district_delegate"], "withdrawal", "CANCEL", 0)]


async def test_a_change_that_rolls_back_queues_nothing(sessions, org):
    await _with_emails(sessions, org)
    async with db.transaction(sessions) as s:
        meeting_id = (await _schedule(s, org)).id
    chair = org.actor("chair")
    with pytest.raises(RuntimeError):
        async with db.transaction(sessions) as s:
            meeting = await s.get(Meeting, meeting_id)
            await scheduling.invite(s, chair, meeting, [(InviteeKind.UNIT, org.province)])
            await scheduling.cancel_meeting(s, chair, meeting)
            assert (
                len(await notifications.pending_for(s, meeting_id)) == 8
            )  # 4 invited, 4 cancelled
            raise RuntimeError("the request failed after the changes")
    assert await _mails(sessions, meeting_id) == []
    async with sessions() as s:
        assert (await s.get(Meeting, meeting_id)).state == "scheduled"
        actions = (
            await s.exec(
                select(AuditEntry.action).where(AuditEntry.chain == audit.chain_for(meeting_id))
            )
        ).all()
    assert actions == ["meeting.created"]


async def test_a_meeting_that_is_already_over_mails_nobody(sessions, org):
    await _with_emails(sessions, org)
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org, days=-1)
        await scheduling.invite(s, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.province)])
    assert await _mails(sessions, meeting.id) == []


def test_retry_delay_doubles_up_to_the_cap():
    assert [retry_delay(n, 30, 1800) for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1800,
        1800,
    ]


async def test_claim_back_off_give_up_and_expiry(sessions, org):
    await _with_emails(sessions, org)
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org)
        await scheduling.invite(s, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.province)])
    now = utcnow()
    backoff = {"base_seconds": 10.0, "max_seconds": 100.0, "max_attempts": 3}
    async with db.transaction(sessions) as s:
        first = await notifications.claim_due(s, now, limit=2, lease_seconds=60)
    assert len(first) == 2 and all(m.attempts == 1 for m in first)
    async with db.transaction(sessions) as s:
        rest = await notifications.claim_due(s, now, limit=10, lease_seconds=60)
        # Leased: nothing else is due until the lease runs out.
        assert await notifications.claim_due(s, now + timedelta(seconds=30), 10, 60) == []
    assert len(rest) == 2  # four invitees with addresses in the province
    a, b = first
    async with db.transaction(sessions) as s:
        await notifications.mark_sent(s, a.id, now)
        failed = await notifications.mark_failed(s, b.id, "SMTPConnectError: down", now, **backoff)
        gone = await notifications.mark_failed(
            s, rest[0].id, "550 no such user", now, permanent=True, **backoff
        )
    assert failed.state == "pending" and failed.next_attempt_at == now + timedelta(seconds=10)
    assert gone.state == "failed" and gone.last_error == "550 no such user"
    # The second attempt waits twice as long; the third is the last.
    for attempt, delay in ((2, 20), (3, None)):
        at = now + timedelta(seconds=200 * attempt)
        async with db.transaction(sessions) as s:
            claimed = await notifications.claim_due(s, at, limit=10, lease_seconds=60)
            mine = [m for m in claimed if m.id == b.id]
            assert mine and mine[0].attempts == attempt
            row = await notifications.mark_failed(s, b.id, "timeout", at, **backoff)
            for other in claimed:
                if other.id != b.id:
                    await notifications.mark_failed(s, other.id, "timeout", at, **backoff)
        if delay is None:
            assert row.state == "failed"
        else:
            assert row.next_attempt_at == at + timedelta(seconds=delay)
    # Past the meeting's end, what is still pending expires instead of going out late.
    async with sessions() as s:
        states = {m.id: m.state for m in await notifications.pending_for(s, meeting.id)}
    assert sorted(states.values()) == ["failed", "failed", "failed", "sent"]
    async with db.transaction(sessions) as s:
        meeting2 = await _schedule(s, org)
        await scheduling.invite(
            s, org.actor("chair"), meeting2, [(InviteeKind.ACCOUNT, org.accounts["outsider"].id)]
        )
    async with db.transaction(sessions) as s:
        late = meeting2.ends_at + timedelta(seconds=1)
        assert await notifications.claim_due(s, late, limit=10, lease_seconds=60) == []
    (expired,) = await _mails(sessions, meeting2.id)
    assert expired.state == "expired" and expired.attempts == 0
