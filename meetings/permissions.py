"""The one permission table: every REST route and socket.io event names an ``Action`` here.

A rule grants an action to account roles installation-wide, and/or to actors standing in a
relation to the meeting concerned (its chair, its secretary, an invitee). Endpoint devices
only ever act through a meeting relation, or where ``endpoints`` allows a global action.
"""

from dataclasses import dataclass
from enum import StrEnum

from meetings.actor import Actor, ActorKind
from meetings.errors import Forbidden
from meetings.models import Role


class Relation(StrEnum):
    """How an actor stands to one meeting."""

    CHAIR = "chair"
    SECRETARY = "secretary"
    ORGANISER = "organiser"  # scheduled it (e.g. a secretary of the people's committee office)
    INVITED = "invited"


class Action(StrEnum):
    """Everything a client may ask for."""

    SELF_VIEW = "self.view"
    SELF_CHANGE_PASSWORD = "self.change_password"
    UNIT_LIST = "unit.list"
    UNIT_CREATE = "unit.create"
    ACCOUNT_LIST = "account.list"
    ACCOUNT_CREATE = "account.create"
    ACCOUNT_UPDATE = "account.update"
    ACCOUNT_RESET_PASSWORD = "account.reset_password"
    ENDPOINT_LIST = "endpoint.list"
    ENDPOINT_CREATE = "endpoint.create"
    ENDPOINT_ISSUE_TOKEN = "endpoint.issue_token"
    ENDPOINT_REVOKE_TOKEN = "endpoint.revoke_token"
    MEETING_LIST_MINE = "meeting.list_mine"
    MEETING_CREATE = "meeting.create"
    MEETING_VIEW = "meeting.view"
    MEETING_UPDATE = "meeting.update"
    MEETING_INVITE = "meeting.invite"
    MEETING_START = "meeting.start"
    MEETING_END = "meeting.end"
    MEETING_JOIN = "meeting.join"
    MEETING_MEDIA = "meeting.media"
    MEDIA_DIRECT = "media.direct"  # choose what everyone sees (spotlight) and page the grid


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may perform an action."""

    roles: frozenset[Role] = frozenset()
    relations: frozenset[Relation] = frozenset()
    endpoints: bool = False
    meeting_scoped: bool = False


_ALL_ROLES = frozenset(Role)
_ORGANISERS = frozenset({Role.ADMIN, Role.CHAIR, Role.SECRETARY})
_ADMIN = frozenset({Role.ADMIN})
_MEMBERS = frozenset({Relation.CHAIR, Relation.SECRETARY, Relation.ORGANISER, Relation.INVITED})
_HOSTS = frozenset({Relation.CHAIR, Relation.SECRETARY, Relation.ORGANISER})

PERMISSIONS: dict[Action, Rule] = {
    Action.SELF_VIEW: Rule(roles=_ALL_ROLES, endpoints=True),
    Action.SELF_CHANGE_PASSWORD: Rule(roles=_ALL_ROLES),
    Action.UNIT_LIST: Rule(roles=_ALL_ROLES),
    Action.UNIT_CREATE: Rule(roles=_ADMIN),
    Action.ACCOUNT_LIST: Rule(roles=_ORGANISERS),
    Action.ACCOUNT_CREATE: Rule(roles=_ADMIN),
    Action.ACCOUNT_UPDATE: Rule(roles=_ADMIN),
    Action.ACCOUNT_RESET_PASSWORD: Rule(roles=_ADMIN),
    Action.ENDPOINT_LIST: Rule(roles=_ORGANISERS),
    Action.ENDPOINT_CREATE: Rule(roles=_ADMIN),
    Action.ENDPOINT_ISSUE_TOKEN: Rule(roles=_ADMIN),
    Action.ENDPOINT_REVOKE_TOKEN: Rule(roles=_ADMIN),
    Action.MEETING_LIST_MINE: Rule(roles=_ALL_ROLES, endpoints=True),
    Action.MEETING_CREATE: Rule(roles=_ORGANISERS),
    Action.MEETING_VIEW: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.MEETING_UPDATE: Rule(roles=_ADMIN, relations=_HOSTS, meeting_scoped=True),
    Action.MEETING_INVITE: Rule(roles=_ADMIN, relations=_HOSTS, meeting_scoped=True),
    Action.MEETING_START: Rule(relations=frozenset({Relation.CHAIR}), meeting_scoped=True),
    Action.MEETING_END: Rule(relations=frozenset({Relation.CHAIR}), meeting_scoped=True),
    Action.MEETING_JOIN: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.MEETING_MEDIA: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.MEDIA_DIRECT: Rule(relations=frozenset({Relation.CHAIR}), meeting_scoped=True),
}


def is_allowed(actor: Actor, action: Action, relations: frozenset[Relation] = frozenset()) -> bool:
    """Decide from the table alone; ``relations`` is how ``actor`` stands to the meeting."""
    rule = PERMISSIONS[action]
    if actor.kind is ActorKind.ACCOUNT and actor.role in rule.roles:
        return True
    if rule.meeting_scoped:
        return bool(rule.relations & relations)
    return actor.kind is ActorKind.ENDPOINT and rule.endpoints


def authorize(actor: Actor, action: Action, relations: frozenset[Relation] = frozenset()) -> None:
    """Raise ``Forbidden`` unless the table allows ``action``."""
    if not is_allowed(actor, action, relations):
        raise Forbidden(f"not allowed: {action.value}", action=action.value)
