"""Attendance: who the members are, check-in by accounts and endpoints, host records, quorum."""

import pytest
from sqlmodel import select

from meetings import attendance, audit, db
from meetings.attendance_models import (
    Attendance,
    AttendanceMode,
    AttendanceState,
    QuorumRule,
)
from meetings.errors import Conflict, InvalidInput
from meetings.members import member_ids
from meetings.models import InviteeKind, MeetingState, Role
from tests.meetings.support import account_actor, add_account
from tests.meetings.voting_support import add_meeting, standard_invitees


async def _rows(sessions, meeting_id: int) -> list[tuple]:
    async with sessions() as s:
        rows = await s.exec(select(Attendance).where(Attendance.meeting_id == meeting_id))
        return sorted((r.attendee_key, r.state, r.mode, r.reason) for r in rows.all())


async def test_members_are_the_chair_and_invited_delegates_and_chairs(sessions, org):
    a = org.accounts
    async with db.transaction(sessions) as s:
        meeting = await add_meeting(s, org, standard_invitees(org))
        inactive = await add_account(s, "nghi_huu", org.commune, Role.DELEGATE, active=False)
        sibling = await add_account(s, "dondac_dbieu", org.sibling, Role.DELEGATE)
        direct = await add_account(s, "quangla_dbieu", org.direct, Role.DELEGATE)
        members = await member_ids(s, meeting)
    # The chair; delegates under the invited district (its communes too); never the
    # secretary, observer (invited by name), admin, endpoints, inactive accounts or a
    # delegate of a commune that is not under an invited unit.
    assert members == {a["chair"].id, a["delegate"].id, a["district_delegate"].id, sibling.id}
    assert inactive.id not in members and direct.id not in members

    async with db.transaction(sessions) as s:
        # Inviting a province reaches its chairs and every delegate below it.
        other = await add_meeting(s, org, [(InviteeKind.UNIT, org.other_province)])
        assert await member_ids(s, other) == {
            a["chair"].id,
            a["outsider"].id,
            a["other_chair"].id,
        }
        # A delegate invited by name is a member; the secretary never is, even if invited.
        named = await add_meeting(
            s,
            org,
            [
                (InviteeKind.ACCOUNT, direct.id),
                (InviteeKind.ACCOUNT, a["secretary"].id),
                (InviteeKind.ACCOUNT, a["observer"].id),
            ],
        )
        assert await member_ids(s, named) == {a["chair"].id, direct.id}


async def test_check_in_and_live_quorum(sessions, org):
    a = org.accounts
    async with db.transaction(sessions) as s:
        meeting = await add_meeting(s, org, standard_invitees(org))
    async with db.transaction(sessions) as s:
        status = await attendance.quorum(s, meeting)
    # 3 members, two thirds by default: 2 needed.
    assert (status.rule, status.members, status.present, status.required, status.met) == (
        QuorumRule.TWO_THIRDS,
        3,
        0,
        2,
        False,
    )
    async with db.transaction(sessions) as s:
        await attendance.check_in(s, org.actor("chair"), meeting, AttendanceMode.IN_PERSON)
        # The observer may check in; it does not count towards quorum.
        await attendance.check_in(s, org.actor("observer"), meeting)
        status = await attendance.quorum(s, meeting)
    assert (status.present, status.met) == (1, False)

    # Thanh Sơn's room checks itself and its delegate in.
    async with db.transaction(sessions) as s:
        records = await attendance.check_in(
            s, org.actor("thanhson"), meeting, AttendanceMode.ONLINE, [a["delegate"].id]
        )
        assert [r.attendee_key for r in records] == [
            f"endpoint:{org.endpoints['thanhson'].id}",
            f"account:{a['delegate'].id}",
        ]
        status = await attendance.quorum(s, meeting)
    assert (status.present, status.required, status.met) == (2, 2, True)

    async with db.transaction(sessions) as s:
        sheet = await attendance.sheet(s, meeting)
    by_key = {r.attendee_key: r for r in sheet.rows}
    assert [r.member for r in sheet.rows[:3]] == [True, True, True]
    assert by_key[f"account:{a['chair'].id}"].mode is AttendanceMode.IN_PERSON
    assert by_key[f"account:{a['delegate'].id}"].mode is AttendanceMode.ONLINE
    assert by_key[f"account:{a['delegate'].id}"].recorded_by == org.actor("thanhson").key
    assert by_key[f"account:{a['district_delegate'].id}"].state is AttendanceState.ABSENT
    assert by_key[f"account:{a['observer'].id}"].member is False
    assert by_key[f"endpoint:{org.endpoints['thanhson'].id}"].name == "Điểm cầu thanhson"
    assert sheet.quorum.met

    # The host records an excused absence; then the majority rule.
    async with db.transaction(sessions) as s:
        await attendance.record(
            s,
            org.actor("secretary"),
            meeting,
            a["district_delegate"].id,
            AttendanceState.EXCUSED,
            reason="Đi công tác tại Hà Nội",
        )
        await attendance.set_quorum_rule(s, org.actor("chair"), meeting, QuorumRule.MAJORITY)
        status = await attendance.quorum(s, meeting)
    assert (status.rule, status.excused, status.required, status.met) == (
        QuorumRule.MAJORITY,
        1,
        2,
        True,
    )
    async with db.transaction(sessions) as s:
        await attendance.record(
            s, org.actor("chair"), meeting, a["delegate"].id, AttendanceState.ABSENT
        )
        status = await attendance.quorum(s, meeting)
    assert (status.present, status.met) == (1, False)

    async with sessions() as s:
        reports = await audit.verify(s, audit.chain_for(meeting.id))
        actions = [e.action for e in await audit.entries(s, meeting.id)]
    assert reports and all(r.ok for r in reports)
    assert actions.count("attendance.check_in") == 4
    assert actions.count("attendance.recorded") == 2
    assert "quorum.rule_set" in actions


async def test_refusals_leave_attendance_unchanged(sessions, org):
    a = org.accounts
    async with db.transaction(sessions) as s:
        meeting = await add_meeting(s, org, standard_invitees(org))
        await attendance.check_in(s, org.actor("delegate"), meeting)
    before = await _rows(sessions, meeting.id)
    refusals = [
        # An account checks in only itself.
        lambda s: attendance.check_in(
            s, org.actor("delegate"), meeting, account_ids=[a["district_delegate"].id]
        ),
        # A room checks in only members of its own unit (the district delegate is not in it).
        lambda s: attendance.check_in(
            s, org.actor("thanhson"), meeting, account_ids=[a["district_delegate"].id]
        ),
        # ...and only members: not the observer, not an unknown account.
        lambda s: attendance.check_in(
            s, org.actor("thanhson"), meeting, account_ids=[a["observer"].id]
        ),
        lambda s: attendance.check_in(s, org.actor("thanhson"), meeting, account_ids=[999_999]),
        # Excused needs a reason; the account must take part in the meeting.
        lambda s: attendance.record(
            s, org.actor("chair"), meeting, a["delegate"].id, AttendanceState.EXCUSED, reason="  "
        ),
        lambda s: attendance.record(
            s, org.actor("chair"), meeting, a["outsider"].id, AttendanceState.PRESENT
        ),
        lambda s: attendance.record(
            s, org.actor("chair"), meeting, 999_999, AttendanceState.PRESENT
        ),
    ]
    for attempt in refusals:
        with pytest.raises(InvalidInput):
            async with db.transaction(sessions) as s:
                await attempt(s)
    assert await _rows(sessions, meeting.id) == before

    async with db.transaction(sessions) as s:
        ended = await add_meeting(s, org, standard_invitees(org), state=MeetingState.ENDED)
    with pytest.raises(Conflict):
        async with db.transaction(sessions) as s:
            await attendance.check_in(s, account_actor(a["delegate"]), ended)
    with pytest.raises(Conflict):
        async with db.transaction(sessions) as s:
            await attendance.set_quorum_rule(s, org.actor("chair"), ended, QuorumRule.MAJORITY)
    assert await _rows(sessions, ended.id) == []


async def test_checking_in_twice_keeps_one_record(sessions, org):
    async with db.transaction(sessions) as s:
        meeting = await add_meeting(s, org, standard_invitees(org))
    for mode in (AttendanceMode.ONLINE, AttendanceMode.IN_PERSON):
        async with db.transaction(sessions) as s:
            await attendance.check_in(s, org.actor("delegate"), meeting, mode)
    key = f"account:{org.accounts['delegate'].id}"
    assert await _rows(sessions, meeting.id) == [(key, "present", "in_person", "")]
