"""Meetings: create (with role checks), invite (idempotent), list "my meetings", life cycle."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from meetings import db, endpoints, scheduling
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import Invitation, InviteeKind, Meeting, MeetingState, Role
from tests.meetings.support import add_account, endpoint_actor

ICT = timezone(timedelta(hours=7))
MORNING = datetime(2026, 11, 24, 8, 0, tzinfo=ICT)


async def _schedule(session, org, title="Giao ban", starts_at=MORNING, **kw) -> Meeting:
    kw.setdefault("chair_id", org.accounts["chair"].id)
    kw.setdefault("secretary_id", org.accounts["secretary"].id)
    return await scheduling.create_meeting(
        session, org.actor("chair"), title, starts_at, kw["chair_id"], kw["secretary_id"]
    )


async def test_create_meeting(sessions, org):
    async with db.transaction(sessions) as s:
        meeting = await scheduling.create_meeting(
            s,
            org.actor("secretary"),
            "  Giao ban tháng 11  ",
            MORNING,
            org.accounts["chair"].id,
            org.accounts["secretary"].id,
            "Họp trực tuyến",
        )
    assert meeting.id is not None
    async with sessions() as s:
        loaded = await s.get(Meeting, meeting.id)
    assert loaded.title == "Giao ban tháng 11"
    assert loaded.description == "Họp trực tuyến"
    assert loaded.state == MeetingState.SCHEDULED.value
    assert loaded.created_by_id == org.accounts["secretary"].id
    assert loaded.started_at is None and loaded.ended_at is None
    # Stored and read back as aware UTC on both backends.
    assert loaded.starts_at == MORNING
    assert loaded.starts_at.utcoffset() == timedelta(0)
    assert loaded.starts_at.hour == 1


async def test_naive_start_times_are_taken_as_utc(session, org):
    meeting = await _schedule(session, org, starts_at=datetime(2026, 11, 24, 1, 0))
    assert meeting.starts_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


async def test_chair_and_secretary_roles_are_checked(session, org):
    a = org.accounts
    # An admin may chair; a chair may be the secretary; the secretary is optional.
    await _schedule(session, org, chair_id=a["admin"].id, secretary_id=a["chair"].id)
    await _schedule(session, org, chair_id=a["chair"].id, secretary_id=None)
    same = await _schedule(session, org, chair_id=a["chair"].id, secretary_id=a["chair"].id)
    assert same.chair_id == same.secretary_id

    for chair in ("secretary", "delegate", "observer"):
        with pytest.raises(InvalidInput):
            await _schedule(session, org, chair_id=a[chair].id)
    for secretary in ("delegate", "observer"):
        with pytest.raises(InvalidInput):
            await _schedule(session, org, secretary_id=a[secretary].id)
    with pytest.raises(InvalidInput):
        await _schedule(session, org, chair_id=999_999)
    with pytest.raises(InvalidInput):
        await _schedule(session, org, secretary_id=999_999)

    retired = await add_account(session, "retired", org.province, Role.CHAIR, active=False)
    with pytest.raises(InvalidInput):
        await _schedule(session, org, chair_id=retired.id)
    with pytest.raises(InvalidInput):
        await _schedule(session, org, secretary_id=retired.id)


async def test_update_meeting(session, org):
    meeting = await _schedule(session, org)
    later = MORNING + timedelta(days=1)
    updated = await scheduling.update_meeting(
        session,
        org.actor("chair"),
        meeting,
        title=" Giao ban (dời lịch) ",
        description="Dời sang thứ Ba",
        starts_at=later,
        chair_id=org.accounts["admin"].id,
        secretary_id=org.accounts["chair"].id,
    )
    assert updated.title == "Giao ban (dời lịch)"
    assert updated.starts_at == later and updated.starts_at.tzinfo is not None
    assert (updated.chair_id, updated.secretary_id) == (
        org.accounts["admin"].id,
        org.accounts["chair"].id,
    )
    with pytest.raises(InvalidInput):
        await scheduling.update_meeting(
            session, org.actor("chair"), meeting, chair_id=org.accounts["delegate"].id
        )
    with pytest.raises(InvalidInput):
        await scheduling.update_meeting(
            session, org.actor("chair"), meeting, secretary_id=org.accounts["observer"].id
        )


async def test_invitations_are_idempotent(sessions, org):
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org)
        first = await scheduling.invite(
            s,
            org.actor("chair"),
            meeting,
            [
                (InviteeKind.UNIT, org.district),
                (InviteeKind.ACCOUNT, org.accounts["observer"].id),
                (InviteeKind.ENDPOINT, org.endpoints["quangla"].id),
                (InviteeKind.ACCOUNT, org.accounts["observer"].id),  # twice in one call
            ],
        )
    assert first[1] is first[3]
    keys = [i.invitee_key for i in first[:3]]
    assert keys == [
        f"unit:{org.district}",
        f"account:{org.accounts['observer'].id}",
        f"endpoint:{org.endpoints['quangla'].id}",
    ]
    unit_inv = first[0]
    assert (unit_inv.invitee_kind, unit_inv.unit_id, unit_inv.account_id, unit_inv.endpoint_id) == (
        "unit",
        org.district,
        None,
        None,
    )

    # Inviting again (in a later transaction) returns the existing rows and adds the new one.
    async with db.transaction(sessions) as s:
        again = await scheduling.invite(
            s,
            org.actor("chair"),
            meeting,
            [(InviteeKind.UNIT, org.district), (InviteeKind.UNIT, org.other_province)],
        )
    assert again[0].id == unit_inv.id
    async with sessions() as s:
        listed = await scheduling.list_invitations(s, meeting.id)
    assert [i.invitee_key for i in listed] == [*keys, f"unit:{org.other_province}"]


async def test_inviting_what_does_not_exist_is_invalid(session, org):
    meeting = await _schedule(session, org)
    for kind in InviteeKind:
        with pytest.raises(InvalidInput):
            await scheduling.invite(session, org.actor("chair"), meeting, [(kind, 999_999)])
    assert await scheduling.list_invitations(session, meeting.id) == []


async def test_the_database_enforces_one_invitation_per_invitee(sessions, org):
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org)
        await scheduling.invite(s, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.commune)])

    def duplicate() -> Invitation:
        return Invitation(
            meeting_id=meeting.id,
            invitee_kind="unit",
            invitee_key=f"unit:{org.commune}",
            unit_id=org.commune,
        )

    # Against a committed row, bypassing the service.
    async with sessions() as s:
        s.add(duplicate())
        with pytest.raises(IntegrityError):
            await s.commit()
    # Two new rows in one flush.
    async with sessions() as s:
        other = await _schedule(s, org, title="Another")
        await s.commit()
    async with sessions() as s:
        first, second = duplicate(), duplicate()
        first.meeting_id = second.meeting_id = other.id
        s.add_all([first, second])
        with pytest.raises(IntegrityError):
            await s.commit()
    async with sessions() as s:
        assert len(await scheduling.list_invitations(s, meeting.id)) == 1
        assert await scheduling.list_invitations(s, other.id) == []


async def test_remove_invitation(session, org):
    meeting = await _schedule(session, org)
    other = await _schedule(session, org, title="Other")
    (inv,) = await scheduling.invite(
        session, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.commune)]
    )
    (other_inv,) = await scheduling.invite(
        session, org.actor("chair"), other, [(InviteeKind.UNIT, org.commune)]
    )
    with pytest.raises(NotFound):  # an invitation of another meeting
        await scheduling.remove_invitation(session, org.actor("chair"), meeting, other_inv.id)
    with pytest.raises(NotFound):
        await scheduling.remove_invitation(session, org.actor("chair"), meeting, 999_999)
    await scheduling.remove_invitation(session, org.actor("chair"), meeting, inv.id)
    assert await scheduling.list_invitations(session, meeting.id) == []
    assert [i.id for i in await scheduling.list_invitations(session, other.id)] == [other_inv.id]
    # Invited again after removal: a fresh row.
    (again,) = await scheduling.invite(
        session, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.commune)]
    )
    assert again.id != inv.id


async def test_list_meetings_for_each_actor(sessions, org):
    a = org.accounts
    async with db.transaction(sessions) as s:
        # One meeting per way of being invited, at distinct times (newest first in the list).
        def at(day: int) -> datetime:
            return MORNING + timedelta(days=day)

        province_wide = await _schedule(s, org, "province-wide", at(1))
        await scheduling.invite(
            s, org.actor("chair"), province_wide, [(InviteeKind.UNIT, org.province)]
        )
        district = await _schedule(s, org, "district", at(2))
        await scheduling.invite(s, org.actor("chair"), district, [(InviteeKind.UNIT, org.district)])
        sibling = await _schedule(s, org, "sibling commune", at(3))
        await scheduling.invite(s, org.actor("chair"), sibling, [(InviteeKind.UNIT, org.sibling)])
        direct = await _schedule(s, org, "direct invitations", at(4))
        await scheduling.invite(
            s,
            org.actor("chair"),
            direct,
            [
                (InviteeKind.ACCOUNT, a["outsider"].id),
                (InviteeKind.ENDPOINT, org.endpoints["bacson"].id),
            ],
        )
        elsewhere = await scheduling.create_meeting(
            s, org.actor("other_chair"), "Lạng Sơn", at(5), a["other_chair"].id, None
        )
        await scheduling.invite(
            s, org.actor("chair"), elsewhere, [(InviteeKind.UNIT, org.other_province)]
        )
        hosted_only = await _schedule(s, org, "no invitations", at(6))

    async def titles(who: str) -> list[str]:
        async with sessions() as s:
            return [m.title for m in await scheduling.list_meetings_for(s, org.actor(who))]

    everything = [
        "no invitations",
        "Lạng Sơn",
        "direct invitations",
        "sibling commune",
        "district",
        "province-wide",
    ]
    assert await titles("admin") == everything
    # Chair and secretary host every meeting of Quảng Ninh, invited or not.
    hosted = [t for t in everything if t != "Lạng Sơn"]
    assert await titles("chair") == hosted
    assert await titles("secretary") == hosted
    # A commune delegate: invitations of its commune's ancestors, not of a sibling commune.
    assert await titles("delegate") == ["district", "province-wide"]
    assert await titles("thanhson") == ["district", "province-wide"]
    assert await titles("dondac") == ["sibling commune", "district", "province-wide"]
    # A commune directly under the province skips the district level.
    assert await titles("quangla") == ["province-wide"]
    # Inviting a district does not reach up to the province's own accounts.
    assert await titles("observer") == ["province-wide"]
    assert await titles("district_delegate") == ["district", "province-wide"]
    # The other province: direct invitations and its own province's meetings.
    assert await titles("outsider") == ["Lạng Sơn", "direct invitations"]
    assert await titles("bacson") == ["Lạng Sơn", "direct invitations"]
    assert await titles("other_chair") == ["Lạng Sơn"]
    assert hosted_only.id is not None


async def test_account_and_endpoint_ids_do_not_mix(sessions, org):
    """Endpoint 5 is not account 5: neither hosting nor an invitation leaks across kinds."""
    async with db.transaction(sessions) as s:
        endpoint = org.endpoints["bacson"]  # in the other province
        twin = await add_account(s, "twin", org.province, Role.CHAIR)
        while twin.id < endpoint.id:
            twin = await add_account(s, f"twin{twin.id}", org.province, Role.CHAIR)
        while endpoint.id < twin.id:
            endpoint, _ = await endpoints.create_endpoint(s, None, "twin", org.other_commune)
        assert endpoint.id == twin.id
        hosted = await _schedule(s, org, "hosted by the twin account", chair_id=twin.id)
        invited = await _schedule(s, org, "invites the twin account")
        await scheduling.invite(s, org.actor("chair"), invited, [(InviteeKind.ACCOUNT, twin.id)])
    async with sessions() as s:
        seen = await scheduling.list_meetings_for(s, endpoint_actor(endpoint))
    assert hosted.id not in [m.id for m in seen]
    assert invited.id not in [m.id for m in seen]


async def test_life_cycle(sessions, org):
    async with db.transaction(sessions) as s:
        meeting = await _schedule(s, org)
        with pytest.raises(Conflict):
            await scheduling.end_meeting(s, org.actor("chair"), meeting)  # not started yet
        assert await scheduling.count_live(s) == 0
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, meeting.id)
        started = await scheduling.start_meeting(s, org.actor("chair"), meeting)
        assert started.state == "live" and started.started_at is not None
        assert await scheduling.count_live(s) == 1
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, meeting.id)
        assert meeting.state == "live" and meeting.started_at.tzinfo is not None
        with pytest.raises(Conflict):
            await scheduling.start_meeting(s, org.actor("chair"), meeting)
        # A live meeting can still be changed and take invitations.
        await scheduling.update_meeting(s, org.actor("chair"), meeting, title="Giao ban (đang họp)")
        await scheduling.invite(s, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.commune)])
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, meeting.id)
        ended = await scheduling.end_meeting(s, org.actor("chair"), meeting)
        assert ended.state == "ended" and ended.ended_at >= ended.started_at
        assert await scheduling.count_live(s) == 0
    async with sessions() as s:
        meeting = await s.get(Meeting, meeting.id)
        assert meeting.state == "ended" and meeting.title == "Giao ban (đang họp)"
        for step in (scheduling.start_meeting, scheduling.end_meeting):
            with pytest.raises(Conflict):
                await step(s, org.actor("chair"), meeting)
        with pytest.raises(Conflict):
            await scheduling.update_meeting(s, org.actor("chair"), meeting, title="too late")
        with pytest.raises(Conflict):
            await scheduling.invite(
                s, org.actor("chair"), meeting, [(InviteeKind.UNIT, org.province)]
            )
