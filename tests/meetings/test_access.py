"""How an actor stands to a meeting, and ``access.check``: NotFound versus Forbidden."""

from datetime import UTC, datetime

import pytest

from meetings import access, db, scheduling
from meetings.errors import Forbidden, NotFound
from meetings.models import InviteeKind, Meeting
from meetings.permissions import Action, Relation

CHAIR, SECRETARY, INVITED = Relation.CHAIR, Relation.SECRETARY, Relation.INVITED
ORGANISER = Relation.ORGANISER


@pytest.fixture
async def meeting(sessions, org) -> Meeting:
    """Chaired by ``chair``, with ``secretary``; invites the district and ``observer``."""
    async with db.transaction(sessions) as s:
        meeting = await scheduling.create_meeting(
            s,
            org.actor("chair"),
            "Giao ban",
            datetime(2026, 11, 24, 1, 0, tzinfo=UTC),
            org.accounts["chair"].id,
            org.accounts["secretary"].id,
        )
        await scheduling.invite(
            s,
            None,
            meeting,
            [(InviteeKind.UNIT, org.district), (InviteeKind.ACCOUNT, org.accounts["observer"].id)],
        )
    return meeting


# How each seeded actor stands to the ``meeting`` fixture.
EXPECTED_RELATIONS: dict[str, set[Relation]] = {
    "chair": {CHAIR, ORGANISER},  # it scheduled the meeting too
    "secretary": {SECRETARY},
    "observer": {INVITED},  # invited by name
    "delegate": {INVITED},  # in a commune of the invited district
    "district_delegate": {INVITED},  # in the invited district itself
    "thanhson": {INVITED},  # an endpoint under the district
    "dondac": {INVITED},
    "quangla": set(),  # a commune of the province, outside the district
    "admin": set(),  # administrators hold no relation, only a role
    "outsider": set(),
    "other_chair": set(),
    "bacson": set(),
}


async def test_relations_to(session, org, meeting):
    found = {
        who: set(await access.relations_to(session, org.actor(who), meeting))
        for who in EXPECTED_RELATIONS
    }
    assert found == EXPECTED_RELATIONS


async def test_a_host_can_also_be_invited(session, org, meeting):
    await scheduling.invite(session, None, meeting, [(InviteeKind.UNIT, org.province)])
    assert await access.relations_to(session, org.actor("chair"), meeting) == {
        CHAIR,
        ORGANISER,
        INVITED,
    }
    both = await scheduling.create_meeting(
        session,
        org.actor("chair"),
        "Chair takes the minutes",
        meeting.starts_at,
        org.accounts["chair"].id,
        org.accounts["chair"].id,
    )
    assert await access.relations_to(session, org.actor("chair"), both) == {
        CHAIR,
        SECRETARY,
        ORGANISER,
    }


async def test_invitations_of_other_meetings_do_not_count(session, org, meeting):
    other = await scheduling.create_meeting(
        session,
        org.actor("chair"),
        "Another",
        meeting.starts_at,
        org.accounts["chair"].id,
        None,
    )
    await scheduling.invite(session, None, other, [(InviteeKind.UNIT, org.province)])
    assert await access.relations_to(session, org.actor("quangla"), other) == {INVITED}
    assert await access.relations_to(session, org.actor("quangla"), meeting) == frozenset()


async def test_check_returns_the_meeting_when_allowed(session, org, meeting):
    for who, action in (
        ("chair", Action.MEETING_START),
        ("chair", Action.MEETING_END),
        ("secretary", Action.MEETING_INVITE),
        ("delegate", Action.MEETING_JOIN),
        ("thanhson", Action.MEETING_MEDIA),
        ("admin", Action.MEETING_VIEW),  # by role, without any relation
        ("admin", Action.MEETING_UPDATE),
    ):
        found = await access.check(session, org.actor(who), action, meeting.id)
        assert found is not None and found.id == meeting.id, (who, action)


async def test_check_forbids_what_the_relation_does_not_allow(session, org, meeting):
    for who, action in (
        ("secretary", Action.MEETING_START),  # only the chair starts
        ("admin", Action.MEETING_START),  # not even an administrator
        ("delegate", Action.MEETING_INVITE),
        ("thanhson", Action.MEETING_UPDATE),
        ("quangla", Action.MEETING_JOIN),  # not invited
        ("outsider", Action.MEETING_VIEW),
        ("bacson", Action.MEETING_MEDIA),
    ):
        with pytest.raises(Forbidden) as err:
            await access.check(session, org.actor(who), action, meeting.id)
        assert err.value.details == {"action": action.value}


async def test_check_missing_meeting_is_not_found_for_everyone(session, org, meeting):
    for who in ("admin", "chair", "outsider", "bacson"):
        with pytest.raises(NotFound):
            await access.check(session, org.actor(who), Action.MEETING_VIEW, 999_999)
        with pytest.raises(NotFound):
            await access.check(session, org.actor(who), Action.MEETING_JOIN, None)


async def test_check_global_actions_need_no_meeting(session, org):
    assert await access.check(session, org.actor("admin"), Action.UNIT_CREATE) is None
    assert await access.check(session, org.actor("thanhson"), Action.MEETING_LIST_MINE) is None
    with pytest.raises(Forbidden):
        await access.check(session, org.actor("chair"), Action.UNIT_CREATE)
    with pytest.raises(Forbidden):
        await access.check(session, org.actor("thanhson"), Action.MEETING_CREATE)
    # A meeting id given with a global action is ignored, even an unknown one.
    assert await access.check(session, org.actor("admin"), Action.ACCOUNT_LIST, 999_999) is None


async def test_the_organiser_manages_a_meeting_it_scheduled_for_another_chair(session, org):
    # Failed before the organiser relation: the secretary lost sight of its own meeting.
    scheduled = await scheduling.create_meeting(
        session,
        org.actor("secretary"),
        "Họp chuyên đề",
        datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
        org.accounts["chair"].id,
        None,
    )
    relations = await access.relations_to(session, org.actor("secretary"), scheduled)
    assert relations == {ORGANISER}
    for action in (Action.MEETING_VIEW, Action.MEETING_UPDATE, Action.MEETING_INVITE):
        await access.check(session, org.actor("secretary"), action, scheduled.id)
    with pytest.raises(Forbidden):
        await access.check(session, org.actor("secretary"), Action.MEETING_START, scheduled.id)
    mine = await scheduling.list_meetings_for(session, org.actor("secretary"))
    assert scheduled.id in {m.id for m in mine}
