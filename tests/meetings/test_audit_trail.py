"""Every state change of the directory and scheduling services lands in the audit log.

Units, accounts and endpoints on the global chain; a meeting's changes on its own chain. Each
test checks the entries (who, what, before/after) and that ``audit.verify`` passes; secrets
(passwords, their hashes, device tokens) never reach the log.
"""

import json
from datetime import timedelta

from sqlmodel import select

from meetings import accounts, audit, db, endpoints, scheduling, units
from meetings.audit import AuditEntry
from meetings.clock import utcnow
from meetings.models import InviteeKind, Meeting, Role, UnitKind
from tests.meetings.support import PASSWORD


async def _chain(sessions, meeting_id: int | None) -> list[AuditEntry]:
    async with sessions() as s:
        query = (
            select(AuditEntry)
            .where(AuditEntry.chain == audit.chain_for(meeting_id))
            .order_by(AuditEntry.seq)
        )
        return list((await s.exec(query)).all())


async def _verified(sessions) -> None:
    async with sessions() as s:
        reports = await audit.verify(s)
    assert reports and all(r.ok for r in reports), [r.problems for r in reports]


def _data(entry: AuditEntry) -> tuple[object, object]:
    return json.loads(entry.before_json), json.loads(entry.after_json)


async def test_units_created_are_logged(sessions, org):
    seeded = len(await _chain(sessions, None))  # the org fixture's own units and endpoints
    async with db.transaction(sessions) as s:
        unit = await units.create_unit(
            s, org.actor("admin"), "Xã Hải Lạng", UnitKind.COMMUNE, org.district, "QN-HL"
        )
    entry = (await _chain(sessions, None))[seeded]
    assert (entry.actor, entry.action, entry.object_type, entry.object_id) == (
        org.actor("admin").key,
        "unit.created",
        "unit",
        str(unit.id),
    )
    assert _data(entry) == (
        None,
        {
            "id": unit.id,
            "name": "Xã Hải Lạng",
            "kind": "commune",
            "code": "QN-HL",
            "parent_id": org.district,
        },
    )
    await _verified(sessions)


async def test_account_changes_are_logged_without_secrets(sessions, org):
    seeded = len(await _chain(sessions, None))
    admin = org.actor("admin")
    async with db.transaction(sessions) as s:
        account = await accounts.create_account(
            s,
            admin,
            "hoangvane",
            "Hoàng Văn E",
            org.commune,
            Role.DELEGATE,
            PASSWORD,
            "HoangVanE@ThanhSon.QuangNinh.gov.vn",
        )
    async with db.transaction(sessions) as s:
        await accounts.update_account(
            s, admin, account.id, role=Role.OBSERVER, email=None, full_name="Hoàng Văn Ê"
        )
        await accounts.update_account(s, admin, account.id, full_name="Hoàng Văn Ê")  # no change
    async with db.transaction(sessions) as s:
        await accounts.set_password(s, admin, account.id, "Mật khẩu đặt lại 1")
    async with db.transaction(sessions) as s:
        own = org.accounts["delegate"]
        await accounts.set_password(s, org.actor("delegate"), own.id, "Mật khẩu của tôi 2")
    created, updated, reset, changed = (await _chain(sessions, None))[seeded:]
    assert [e.action for e in (created, updated, reset, changed)] == [
        "account.created",
        "account.updated",
        "account.password_reset",
        "account.password_changed",
    ]
    assert created.actor == admin.key and changed.actor == org.actor("delegate").key
    _, after = _data(created)
    assert after["email"] == "HoangVanE@thanhson.quangninh.gov.vn"  # domain normalised
    before, after = _data(updated)
    assert (before["role"], after["role"]) == ("delegate", "observer")
    assert (before["email"], after["email"]) == ("HoangVanE@thanhson.quangninh.gov.vn", None)
    assert after["full_name"] == "Hoàng Văn Ê"
    assert set(_data(reset)[1]) == {"password_changed_at"}
    for entry in (created, updated, reset, changed):
        text = entry.before_json + entry.after_json
        assert "password_hash" not in text and "argon2" not in text
        assert "Mật khẩu" not in text and PASSWORD not in text
    await _verified(sessions)


async def test_endpoint_changes_are_logged_without_tokens(sessions, org):
    seeded = len(await _chain(sessions, None))
    admin = org.actor("admin")
    async with db.transaction(sessions) as s:
        endpoint, first = await endpoints.create_endpoint(
            s, admin, "Điểm cầu Hải Lạng", org.commune
        )
        _, second = await endpoints.issue_token(s, admin, endpoint.id)
        await endpoints.revoke_token(s, admin, endpoint.id)
    entries = (await _chain(sessions, None))[seeded:]
    assert [e.action for e in entries] == [
        "endpoint.created",
        "endpoint.token_issued",
        "endpoint.token_revoked",
    ]
    before, after = _data(entries[2])
    assert before["revoked_at"] is None and after["revoked_at"] is not None
    for entry in entries:
        text = entry.before_json + entry.after_json
        assert first not in text and second not in text and "token_hash" not in text
    await _verified(sessions)


async def test_a_meetings_life_is_on_its_own_chain(sessions, org):
    chair, secretary = org.actor("chair"), org.actor("secretary")
    starts = utcnow() + timedelta(days=3)
    async with db.transaction(sessions) as s:
        meeting = await scheduling.create_meeting(
            s, secretary, "Họp Ban chỉ đạo", starts, org.accounts["chair"].id, None
        )
        (district,) = await scheduling.invite(
            s, secretary, meeting, [(InviteeKind.UNIT, org.district)]
        )
        await scheduling.invite(s, secretary, meeting, [(InviteeKind.UNIT, org.district)])  # no-op
        await scheduling.update_meeting(s, chair, meeting, starts_at=starts + timedelta(hours=1))
        await scheduling.remove_invitation(s, chair, meeting, district.id)
        await scheduling.start_meeting(s, chair, meeting)
        await scheduling.end_meeting(s, chair, meeting)
        other = await scheduling.create_meeting(
            s, secretary, "Họp bị hủy", starts, org.accounts["chair"].id, None
        )
        await scheduling.cancel_meeting(s, chair, other, "Lùi sang quý sau")
    entries = await _chain(sessions, meeting.id)
    assert [(e.actor, e.action, e.object_type) for e in entries] == [
        (secretary.key, "meeting.created", "meeting"),
        (secretary.key, "meeting.invited", "meeting"),
        (chair.key, "meeting.updated", "meeting"),
        (chair.key, "meeting.uninvited", "invitation"),
        (chair.key, "meeting.started", "meeting"),
        (chair.key, "meeting.ended", "meeting"),
    ]
    _, invited = _data(entries[1])
    assert invited == {"invitations": [{"id": district.id, "invitee_key": f"unit:{org.district}"}]}
    before, after = _data(entries[2])
    assert after["calendar_sequence"] == before["calendar_sequence"] + 1
    assert after["starts_at"] != before["starts_at"]
    assert _data(entries[3]) == ({"id": district.id, "invitee_key": f"unit:{org.district}"}, None)
    before, after = _data(entries[5])
    assert (before["state"], after["state"]) == ("live", "ended")
    (_created, cancelled) = await _chain(sessions, other.id)
    before, after = _data(cancelled)
    assert cancelled.action == "meeting.cancelled"
    assert (before["state"], after["state"], after["cancel_reason"]) == (
        "scheduled",
        "cancelled",
        "Lùi sang quý sau",
    )
    # Nothing of a meeting leaks onto the global chain.
    assert not [e for e in await _chain(sessions, None) if e.action.startswith("meeting.")]
    async with sessions() as s:
        assert (await s.get(Meeting, meeting.id)).state == "ended"
    await _verified(sessions)
