"""A meeting's invitation as an iCalendar file, for members to download."""

from aiohttp import web

from meetings.actor import ActorKind
from meetings.calendar import Method, Person, event_for
from meetings.clock import utcnow
from meetings.models import Account, MeetingState
from meetings.permissions import Action
from signaling import mail
from signaling.api.content import Produces
from signaling.api.registry import RequestContext
from signaling.api.table import API


@API.route(
    "GET",
    "/meetings/{meeting_id}/calendar.ics",
    action=Action.MEETING_VIEW,
    summary="The meeting as an iCalendar (.ics) file",
    produces=Produces(
        "text/calendar",
        "One VEVENT (METHOD:REQUEST, or METHOD:CANCEL once the meeting is cancelled), UTF-8",
        {"Content-Disposition": '`attachment; filename="meeting-{meeting_id}.ics"`'},
    ),
    tags=("meetings",),
)
async def meeting_calendar(ctx: RequestContext) -> web.Response:
    """The invitation the mails carry: same UID and SEQUENCE; METHOD:CANCEL once cancelled.

    The caller (an account with an e-mail address) is its attendee, as in their own mail.
    """
    meeting = ctx.meeting
    assert meeting is not None  # the registry loads it for meeting-scoped actions
    chair = await ctx.session.get(Account, meeting.chair_id)
    attendees: list[Person] = []
    if ctx.actor.kind is ActorKind.ACCOUNT:
        me = await ctx.session.get(Account, ctx.actor.id)
        if me is not None and me.email:
            attendees.append(Person(me.full_name, me.email))
    cancelled = meeting.state == MeetingState.CANCELLED.value
    body = mail.calendar_file(
        ctx.state.settings,
        event_for(meeting, chair, utcnow()),
        Method.CANCEL if cancelled else Method.REQUEST,
        attendees,
    )
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="meeting-{meeting.id}.ics"'},
    )
