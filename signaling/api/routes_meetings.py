"""Meetings: schedule, invite, list mine, start, end, cancel, and lock the room.

Invitations, moves, cancellations and withdrawn invitations queue e-mails in the same
transaction (``meetings.scheduling``); after the commit the background sender is woken so they
go out at once, without the request waiting for SMTP.
"""

from meetings import scheduling
from meetings.models import Meeting
from meetings.permissions import Action
from signaling import mail
from signaling.api.registry import RequestContext
from signaling.api.schemas import (
    InvitationOut,
    InvitationsIn,
    MeetingCancelIn,
    MeetingIn,
    MeetingOut,
    MeetingPatch,
    ParticipantOut,
)
from signaling.api.table import API
from signaling.ice import IceServersOut, ice_servers_for
from signaling.logs import get_logger
from signaling.realtime.proceedings_events import announce

log = get_logger("phonghop.meetings")


def _meeting(ctx: RequestContext) -> Meeting:
    assert ctx.meeting is not None  # the registry loads it for meeting-scoped actions
    return ctx.meeting


def _wake_mailer(ctx: RequestContext) -> None:
    """Once committed, let the sender deliver what this request queued."""
    ctx.after_commit.append(lambda: mail.wake(ctx.state))


@API.route(
    "GET",
    "/meetings",
    action=Action.MEETING_LIST_MINE,
    response=list[MeetingOut],
    summary="My meetings (all of them for an administrator)",
    tags=("meetings",),
)
async def list_my_meetings(ctx: RequestContext) -> list:
    """Meetings the caller hosts or is invited to, directly or through its unit."""
    return await scheduling.list_meetings_for(ctx.session, ctx.actor)


@API.route(
    "POST",
    "/meetings",
    action=Action.MEETING_CREATE,
    body=MeetingIn,
    response=MeetingOut,
    status=201,
    summary="Schedule a meeting",
    tags=("meetings",),
)
async def create_meeting(ctx: RequestContext) -> object:
    """The chair must be a chair or admin account; the secretary a secretary, chair or admin."""
    b: MeetingIn = ctx.body
    meeting = await scheduling.create_meeting(
        ctx.session,
        ctx.actor,
        b.title,
        b.starts_at,
        b.chair_id,
        b.secretary_id,
        b.description,
        b.duration_minutes,
    )
    log.info("meeting.created", meeting_id=meeting.id, actor=ctx.actor.key)
    return meeting


@API.route(
    "GET",
    "/meetings/{meeting_id}",
    action=Action.MEETING_VIEW,
    response=MeetingOut,
    summary="One meeting",
    tags=("meetings",),
)
async def get_meeting(ctx: RequestContext) -> object:
    """Visible to its hosts, its invitees and administrators."""
    return _meeting(ctx)


@API.route(
    "PATCH",
    "/meetings/{meeting_id}",
    action=Action.MEETING_UPDATE,
    body=MeetingPatch,
    response=MeetingOut,
    summary="Change a meeting",
    tags=("meetings",),
)
async def update_meeting(ctx: RequestContext) -> object:
    """Title, description, time, length, chair or secretary of a meeting not ended or cancelled.

    A change invitees see in their calendars mails them an update (iCalendar SEQUENCE + 1).
    """
    b: MeetingPatch = ctx.body
    meeting = await scheduling.update_meeting(
        ctx.session,
        ctx.actor,
        _meeting(ctx),
        title=b.title,
        description=b.description,
        starts_at=b.starts_at,
        duration_minutes=b.duration_minutes,
        chair_id=b.chair_id,
        secretary_id=b.secretary_id,
    )
    _wake_mailer(ctx)
    out = MeetingOut.model_validate(meeting).model_dump(mode="json")
    ctx.after_commit.append(
        lambda: ctx.state.signaling.meeting_event(meeting.id or 0, "meeting.updated", out)
    )
    log.info("meeting.updated", meeting_id=meeting.id, actor=ctx.actor.key)
    return meeting


@API.route(
    "GET",
    "/meetings/{meeting_id}/invitations",
    action=Action.MEETING_VIEW,
    response=list[InvitationOut],
    summary="A meeting's invitations",
    tags=("meetings",),
)
async def list_invitations(ctx: RequestContext) -> list:
    """Units, accounts and endpoints invited."""
    return await scheduling.list_invitations(ctx.session, _meeting(ctx).id or 0)


@API.route(
    "POST",
    "/meetings/{meeting_id}/invitations",
    action=Action.MEETING_INVITE,
    body=InvitationsIn,
    response=list[InvitationOut],
    status=201,
    summary="Invite units, accounts or endpoints",
    tags=("meetings",),
)
async def invite(ctx: RequestContext) -> list:
    """Idempotent: an existing invitation is returned, not duplicated; new invitees are mailed."""
    meeting = _meeting(ctx)
    invitations = await scheduling.invite(
        ctx.session, ctx.actor, meeting, [(i.kind, i.id) for i in ctx.body.invitees]
    )
    _wake_mailer(ctx)
    log.info("meeting.invited", meeting_id=meeting.id, actor=ctx.actor.key, count=len(invitations))
    return invitations


@API.route(
    "DELETE",
    "/meetings/{meeting_id}/invitations/{invitation_id}",
    action=Action.MEETING_INVITE,
    status=204,
    summary="Withdraw an invitation",
    tags=("meetings",),
)
async def remove_invitation(ctx: RequestContext) -> None:
    """The invitee can no longer join (current connections stay until they leave).

    Accounts no longer invited at all are mailed a cancellation for their calendars.
    """
    await scheduling.remove_invitation(
        ctx.session, ctx.actor, _meeting(ctx), ctx.params["invitation_id"]
    )
    _wake_mailer(ctx)
    log.info("meeting.uninvited", meeting_id=ctx.params["meeting_id"], actor=ctx.actor.key)


@API.route(
    "POST",
    "/meetings/{meeting_id}/start",
    action=Action.MEETING_START,
    response=MeetingOut,
    summary="Start the meeting (chair)",
    tags=("meetings",),
)
async def start_meeting(ctx: RequestContext) -> object:
    """scheduled → live; participants in the room get ``meeting.started``."""
    meeting = await scheduling.start_meeting(ctx.session, ctx.actor, _meeting(ctx))
    out = MeetingOut.model_validate(meeting).model_dump(mode="json")
    ctx.after_commit.append(lambda: ctx.state.signaling.meeting_started(meeting.id or 0, out))
    log.info("meeting.started", meeting_id=meeting.id, actor=ctx.actor.key)
    return meeting


@API.route(
    "POST",
    "/meetings/{meeting_id}/end",
    action=Action.MEETING_END,
    response=MeetingOut,
    summary="End the meeting (chair)",
    tags=("meetings",),
)
async def end_meeting(ctx: RequestContext) -> object:
    """live → ended; everyone is told and removed from the room."""
    meeting = await scheduling.end_meeting(ctx.session, ctx.actor, _meeting(ctx))
    out = MeetingOut.model_validate(meeting).model_dump(mode="json")
    ctx.after_commit.append(lambda: ctx.state.signaling.meeting_ended(meeting.id or 0, out))
    log.info("meeting.ended", meeting_id=meeting.id, actor=ctx.actor.key)
    return meeting


@API.route(
    "POST",
    "/meetings/{meeting_id}/cancel",
    action=Action.MEETING_CANCEL,
    body=MeetingCancelIn,
    response=MeetingOut,
    summary="Cancel a scheduled meeting (hosts)",
    tags=("meetings",),
)
async def cancel_meeting(ctx: RequestContext) -> object:
    """scheduled → cancelled; invitees are mailed a cancellation (METHOD:CANCEL).

    A live meeting is ended, not cancelled; an ended or cancelled one is refused (409).
    """
    meeting = await scheduling.cancel_meeting(
        ctx.session, ctx.actor, _meeting(ctx), ctx.body.reason
    )
    out = MeetingOut.model_validate(meeting).model_dump(mode="json")
    ctx.after_commit.append(lambda: ctx.state.signaling.meeting_cancelled(meeting.id or 0, out))
    _wake_mailer(ctx)
    log.info("meeting.cancelled", meeting_id=meeting.id, actor=ctx.actor.key)
    return meeting


async def _set_lock(ctx: RequestContext, locked: bool) -> Meeting:
    meeting = _meeting(ctx)
    if await scheduling.set_locked(ctx.session, ctx.actor, meeting, locked):
        body = {"locked": locked}
        ctx.after_commit.append(
            lambda: announce(ctx.state.signaling, meeting.id or 0, "meeting.locked", body)
        )
        log.info("meeting.locked", meeting_id=meeting.id, actor=ctx.actor.key, locked=locked)
    return meeting


@API.route(
    "POST",
    "/meetings/{meeting_id}/lock",
    action=Action.MEDIA_DIRECT,
    response=MeetingOut,
    summary="Lock the meeting room (chair)",
    tags=("meetings",),
)
async def lock_meeting(ctx: RequestContext) -> object:
    """Only those already present, the chair and the secretary may join from now on.

    One of the chair's controls of the room (``media.direct``, as spotlight and mute). Audited
    and announced as ``meeting.locked``; locking a locked room changes nothing. An ended or
    cancelled meeting is refused (409).
    """
    return await _set_lock(ctx, True)


@API.route(
    "DELETE",
    "/meetings/{meeting_id}/lock",
    action=Action.MEDIA_DIRECT,
    response=MeetingOut,
    summary="Unlock the meeting room (chair)",
    tags=("meetings",),
)
async def unlock_meeting(ctx: RequestContext) -> object:
    """Every invitee may join again; audited and announced as ``meeting.locked``."""
    return await _set_lock(ctx, False)


@API.route(
    "GET",
    "/meetings/{meeting_id}/participants",
    action=Action.MEETING_VIEW,
    response=list[ParticipantOut],
    summary="Who is in the meeting now",
    tags=("meetings",),
)
async def list_participants(ctx: RequestContext) -> list:
    """Presence: connected participants, and those within their reconnect grace period."""
    return await ctx.state.presence.snapshot(_meeting(ctx).id or 0)


@API.route(
    "GET",
    "/meetings/{meeting_id}/ice-servers",
    action=Action.MEETING_MEDIA,
    response=IceServersOut,
    summary="STUN/TURN servers for the meeting's media, with fresh TURN credentials",
    tags=("meetings",),
)
async def get_ice_servers(ctx: RequestContext) -> dict:
    """``{"ice_servers": [...]}`` for ``new RTCPeerConnection({iceServers})``; empty on a LAN."""
    return {"ice_servers": ice_servers_for(ctx.state.settings, ctx.actor.key)}
