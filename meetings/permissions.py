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
    MEETING_CANCEL = "meeting.cancel"
    MEETING_JOIN = "meeting.join"
    MEETING_MEDIA = "meeting.media"
    MEDIA_DIRECT = "media.direct"  # choose what everyone sees (spotlight) and page the grid
    MINUTES_EDIT = "minutes.edit"  # read and edit the draft, submit it
    MINUTES_APPROVE = "minutes.approve"
    MINUTES_READ = "minutes.read"  # the approved PDF and its verification
    MINUTES_ARCHIVE = "minutes.archive"  # the meeting's archive bundle (ZIP)
    AGENDA_VIEW = "agenda.view"
    AGENDA_EDIT = "agenda.edit"  # create, change, reorder, delete items
    AGENDA_DIRECT = "agenda.direct"  # move the current item
    SPEAKER_VIEW = "speaker.view"
    SPEAKER_REQUEST = "speaker.request"  # ask to speak, withdraw one's own request
    SPEAKER_MANAGE = "speaker.manage"  # order, grant, end, remove requests
    CONCLUSION_VIEW = "conclusion.view"
    CONCLUSION_WRITE = "conclusion.write"
    AUDIT_VIEW = "audit.view"  # a meeting's audit chain
    AUDIT_VERIFY = "audit.verify"  # recompute every chain
    DOCUMENT_VIEW = "document.view"  # published documents (drafts too with document.manage)
    DOCUMENT_MANAGE = "document.manage"  # upload, publish, receipts; drafts and originals
    DOCUMENT_COMMENT = "document.comment"
    ATTENDANCE_VIEW = "attendance.view"  # the attendance sheet and the quorum
    ATTENDANCE_CHECK_IN = "attendance.check_in"  # oneself (an endpoint: also its unit's members)
    ATTENDANCE_RECORD = "attendance.record"  # anyone's state (excused...), the quorum rule
    POLL_VIEW = "poll.view"
    POLL_PREPARE = "poll.prepare"  # create and delete draft polls
    POLL_CONDUCT = "poll.conduct"  # open and close polls
    VOTE_CAST = "vote.cast"  # the poll's voter list (members present at opening) decides


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
    Action.MEETING_CANCEL: Rule(roles=_ADMIN, relations=_HOSTS, meeting_scoped=True),
    Action.MEETING_JOIN: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.MEETING_MEDIA: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.MEDIA_DIRECT: Rule(relations=frozenset({Relation.CHAIR}), meeting_scoped=True),
    Action.MINUTES_EDIT: Rule(
        relations=frozenset({Relation.CHAIR, Relation.SECRETARY}), meeting_scoped=True
    ),
    Action.MINUTES_APPROVE: Rule(relations=frozenset({Relation.CHAIR}), meeting_scoped=True),
    Action.MINUTES_READ: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.MINUTES_ARCHIVE: Rule(roles=_ADMIN, relations=_HOSTS, meeting_scoped=True),
    Action.AGENDA_VIEW: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.AGENDA_EDIT: Rule(roles=_ADMIN, relations=_HOSTS, meeting_scoped=True),
    Action.AGENDA_DIRECT: Rule(relations=frozenset({Relation.CHAIR}), meeting_scoped=True),
    Action.SPEAKER_VIEW: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.SPEAKER_REQUEST: Rule(relations=_MEMBERS, meeting_scoped=True),
    Action.SPEAKER_MANAGE: Rule(relations=frozenset({Relation.CHAIR}), meeting_scoped=True),
    Action.CONCLUSION_VIEW: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.CONCLUSION_WRITE: Rule(
        relations=frozenset({Relation.CHAIR, Relation.SECRETARY}), meeting_scoped=True
    ),
    Action.AUDIT_VIEW: Rule(roles=_ADMIN, relations=_HOSTS, meeting_scoped=True),
    Action.AUDIT_VERIFY: Rule(roles=_ADMIN),
    Action.DOCUMENT_VIEW: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.DOCUMENT_MANAGE: Rule(roles=_ADMIN, relations=_HOSTS, meeting_scoped=True),
    Action.DOCUMENT_COMMENT: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.ATTENDANCE_VIEW: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    # Those who attend: not the organiser as such (an office that scheduled the meeting).
    Action.ATTENDANCE_CHECK_IN: Rule(
        relations=frozenset({Relation.CHAIR, Relation.SECRETARY, Relation.INVITED}),
        meeting_scoped=True,
    ),
    Action.ATTENDANCE_RECORD: Rule(
        relations=frozenset({Relation.CHAIR, Relation.SECRETARY}), meeting_scoped=True
    ),
    Action.POLL_VIEW: Rule(roles=_ADMIN, relations=_MEMBERS, meeting_scoped=True),
    Action.POLL_PREPARE: Rule(
        relations=frozenset({Relation.CHAIR, Relation.SECRETARY}), meeting_scoped=True
    ),
    # The chair puts a question to the vote and announces the result (chủ tọa biểu quyết).
    Action.POLL_CONDUCT: Rule(relations=frozenset({Relation.CHAIR}), meeting_scoped=True),
    Action.VOTE_CAST: Rule(
        relations=frozenset({Relation.CHAIR, Relation.INVITED}), meeting_scoped=True
    ),
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
