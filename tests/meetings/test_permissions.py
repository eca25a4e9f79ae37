"""The one permission table: complete, consistent, and read the way the docstring says."""

from itertools import combinations

import pytest

from meetings.actor import Actor, ActorKind
from meetings.errors import Forbidden
from meetings.models import Role
from meetings.permissions import PERMISSIONS, Action, Relation, Rule, authorize, is_allowed

ADMIN, CHAIR, SECRETARY, DELEGATE, OBSERVER = (
    Role.ADMIN,
    Role.CHAIR,
    Role.SECRETARY,
    Role.DELEGATE,
    Role.OBSERVER,
)
ALL_ROLES = set(Role)
HOSTS = {Relation.CHAIR, Relation.SECRETARY, Relation.ORGANISER}
MEMBERS = {*HOSTS, Relation.INVITED}

# The policy, written out by hand: (roles granted installation-wide, meeting relations granted,
# endpoints allowed for a global action, meeting-scoped).
POLICY: dict[Action, tuple[set[Role], set[Relation], bool, bool]] = {
    Action.SELF_VIEW: (ALL_ROLES, set(), True, False),
    Action.SELF_CHANGE_PASSWORD: (ALL_ROLES, set(), False, False),
    Action.UNIT_LIST: (ALL_ROLES, set(), False, False),
    Action.UNIT_CREATE: ({ADMIN}, set(), False, False),
    Action.ACCOUNT_LIST: ({ADMIN, CHAIR, SECRETARY}, set(), False, False),
    Action.ACCOUNT_CREATE: ({ADMIN}, set(), False, False),
    Action.ACCOUNT_UPDATE: ({ADMIN}, set(), False, False),
    Action.ACCOUNT_RESET_PASSWORD: ({ADMIN}, set(), False, False),
    Action.ENDPOINT_LIST: ({ADMIN, CHAIR, SECRETARY}, set(), False, False),
    Action.ENDPOINT_CREATE: ({ADMIN}, set(), False, False),
    Action.ENDPOINT_ISSUE_TOKEN: ({ADMIN}, set(), False, False),
    Action.ENDPOINT_REVOKE_TOKEN: ({ADMIN}, set(), False, False),
    Action.MEETING_LIST_MINE: (ALL_ROLES, set(), True, False),
    Action.MEETING_CREATE: ({ADMIN, CHAIR, SECRETARY}, set(), False, False),
    Action.MEETING_VIEW: ({ADMIN}, MEMBERS, False, True),
    Action.MEETING_UPDATE: ({ADMIN}, HOSTS, False, True),
    Action.MEETING_INVITE: ({ADMIN}, HOSTS, False, True),
    Action.MEETING_START: (set(), {Relation.CHAIR}, False, True),
    Action.MEETING_END: (set(), {Relation.CHAIR}, False, True),
    Action.MEETING_CANCEL: ({ADMIN}, HOSTS, False, True),  # a scheduled meeting only
    Action.MEETING_JOIN: ({ADMIN}, MEMBERS, False, True),
    Action.MEETING_MEDIA: ({ADMIN}, MEMBERS, False, True),
    Action.MEDIA_DIRECT: (set(), {Relation.CHAIR}, False, True),  # spotlight, grid pages
    Action.MINUTES_EDIT: (set(), {Relation.CHAIR, Relation.SECRETARY}, False, True),
    Action.MINUTES_APPROVE: (set(), {Relation.CHAIR}, False, True),
    Action.MINUTES_READ: ({ADMIN}, MEMBERS, False, True),  # the approved PDF and its check
    Action.MINUTES_ARCHIVE: ({ADMIN}, HOSTS, False, True),
    Action.AGENDA_VIEW: ({ADMIN}, MEMBERS, False, True),
    Action.AGENDA_EDIT: ({ADMIN}, HOSTS, False, True),
    Action.AGENDA_DIRECT: (set(), {Relation.CHAIR}, False, True),  # the current item
    Action.SPEAKER_VIEW: ({ADMIN}, MEMBERS, False, True),
    Action.SPEAKER_REQUEST: (set(), MEMBERS, False, True),
    Action.SPEAKER_MANAGE: (set(), {Relation.CHAIR}, False, True),  # order, grant, end
    Action.CONCLUSION_VIEW: ({ADMIN}, MEMBERS, False, True),
    Action.CONCLUSION_WRITE: (set(), {Relation.CHAIR, Relation.SECRETARY}, False, True),
    Action.AUDIT_VIEW: ({ADMIN}, HOSTS, False, True),
    Action.AUDIT_VERIFY: ({ADMIN}, set(), False, False),
    Action.DOCUMENT_VIEW: ({ADMIN}, MEMBERS, False, True),  # drafts need document.manage
    Action.DOCUMENT_MANAGE: ({ADMIN}, HOSTS, False, True),
    Action.DOCUMENT_COMMENT: ({ADMIN}, MEMBERS, False, True),
    Action.ATTENDANCE_VIEW: ({ADMIN}, MEMBERS, False, True),
    Action.ATTENDANCE_CHECK_IN: (set(), MEMBERS - {Relation.ORGANISER}, False, True),  # oneself
    Action.ATTENDANCE_RECORD: (set(), {Relation.CHAIR, Relation.SECRETARY}, False, True),
    Action.POLL_VIEW: ({ADMIN}, MEMBERS, False, True),
    Action.POLL_PREPARE: (set(), {Relation.CHAIR, Relation.SECRETARY}, False, True),  # drafts
    Action.POLL_CONDUCT: (set(), {Relation.CHAIR}, False, True),  # open and close
    # The poll's voter list (members present at opening) decides who of these may vote.
    Action.VOTE_CAST: (set(), {Relation.CHAIR, Relation.INVITED}, False, True),
}

RELATION_SETS = [
    frozenset(c) for n in range(len(Relation) + 1) for c in combinations(list(Relation), n)
]


def account(role: Role) -> Actor:
    return Actor(ActorKind.ACCOUNT, 7, 1, f"Người {role.value}", role)


ENDPOINT = Actor(ActorKind.ENDPOINT, 7, 3, "Điểm cầu Xã Thanh Sơn")


def test_every_action_has_exactly_one_rule():
    assert set(PERMISSIONS) == set(Action)
    assert all(isinstance(rule, Rule) for rule in PERMISSIONS.values())


def test_the_table_is_the_documented_policy():
    assert set(POLICY) == set(Action)
    for action, (roles, relations, endpoints, scoped) in POLICY.items():
        rule = PERMISSIONS[action]
        assert (set(rule.roles), set(rule.relations), rule.endpoints, rule.meeting_scoped) == (
            roles,
            relations,
            endpoints,
            scoped,
        ), action


@pytest.mark.parametrize("action", list(Action))
def test_rules_are_consistent(action):
    rule = PERMISSIONS[action]
    # Someone may do it.
    assert rule.roles or rule.relations or rule.endpoints
    # Relations only mean something for a meeting; a device acts on one only through a relation.
    if rule.relations:
        assert rule.meeting_scoped
    if rule.meeting_scoped:
        assert not rule.endpoints


@pytest.mark.parametrize("action", list(Action))
def test_is_allowed_for_every_role_and_relation(action):
    roles, relations, endpoints, scoped = POLICY[action]
    for rels in RELATION_SETS:
        for role in Role:
            # A role grant holds whatever the relation; otherwise a fitting relation is needed.
            expected = role in roles or (scoped and bool(relations & rels))
            assert is_allowed(account(role), action, rels) is expected, (role, rels)
        # A device has no role: a relation to the meeting, or the global ``endpoints`` flag.
        expected = bool(relations & rels) if scoped else endpoints
        assert is_allowed(ENDPOINT, action, rels) is expected, ("endpoint", rels)


def test_relations_do_not_leak_into_global_actions():
    # A chair of some meeting is still no administrator.
    everything = frozenset(Relation)
    assert not is_allowed(account(DELEGATE), Action.UNIT_CREATE, everything)
    assert not is_allowed(ENDPOINT, Action.MEETING_CREATE, everything)
    assert not is_allowed(ENDPOINT, Action.SELF_CHANGE_PASSWORD, everything)


def test_examples():
    invited = frozenset({Relation.INVITED})
    chair = frozenset({Relation.CHAIR})
    assert is_allowed(account(ADMIN), Action.MEETING_VIEW)
    assert not is_allowed(account(ADMIN), Action.MEETING_START)
    assert is_allowed(account(OBSERVER), Action.MEETING_START, chair)
    assert not is_allowed(account(CHAIR), Action.MEETING_START)
    assert is_allowed(account(OBSERVER), Action.MEETING_JOIN, invited)
    assert not is_allowed(account(OBSERVER), Action.MEETING_INVITE, invited)
    assert is_allowed(ENDPOINT, Action.MEETING_JOIN, invited)
    assert not is_allowed(ENDPOINT, Action.MEETING_JOIN)
    assert is_allowed(ENDPOINT, Action.SELF_VIEW)
    assert not is_allowed(account(OBSERVER), Action.MEETING_CREATE)


def test_authorize_raises_forbidden_naming_the_action():
    authorize(account(ADMIN), Action.UNIT_CREATE)
    authorize(ENDPOINT, Action.MEETING_MEDIA, frozenset({Relation.INVITED}))
    with pytest.raises(Forbidden) as err:
        authorize(account(SECRETARY), Action.MEETING_END, frozenset({Relation.SECRETARY}))
    assert err.value.code == "forbidden"
    assert err.value.details == {"action": "meeting.end"}
    assert "meeting.end" in err.value.message
