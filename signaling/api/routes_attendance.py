"""Attendance (điểm danh): the sheet, check-in, host records, and the quorum."""

from dataclasses import asdict

from meetings import attendance
from meetings.models import Meeting
from meetings.permissions import Action
from signaling.api.registry import RequestContext
from signaling.api.schemas_voting import (
    AttendanceOut,
    AttendanceRecordIn,
    AttendanceSheetOut,
    CheckInIn,
    CheckInOut,
    QuorumOut,
    QuorumRuleIn,
)
from signaling.api.table import API
from signaling.logs import get_logger
from signaling.realtime.voting_events import attendance_json, feature_of

log = get_logger("phonghop.attendance")
TAGS = ("attendance",)


def _meeting(ctx: RequestContext) -> Meeting:
    assert ctx.meeting is not None  # the registry loads it for meeting-scoped actions
    return ctx.meeting


def _publish(ctx: RequestContext, meeting_id: int, body: dict) -> None:
    async def publish() -> None:
        feature_of(ctx.state.signaling).attendance_changed(meeting_id, body)

    ctx.after_commit.append(publish)


@API.route(
    "GET",
    "/meetings/{meeting_id}/attendance",
    action=Action.ATTENDANCE_VIEW,
    response=AttendanceSheetOut,
    summary="The attendance sheet: every member (absent until checked in) and the quorum",
    tags=TAGS,
)
async def get_sheet(ctx: RequestContext) -> dict:
    """Members first (by account id), then other attendees (observers, endpoints...)."""
    sheet = await attendance.sheet(ctx.session, _meeting(ctx))
    return {"attendees": [asdict(r) for r in sheet.rows], "quorum": asdict(sheet.quorum)}


@API.route(
    "POST",
    "/meetings/{meeting_id}/attendance/check-in",
    action=Action.ATTENDANCE_CHECK_IN,
    body=CheckInIn,
    response=CheckInOut,
    summary="Check in (an endpoint may also check in members of its unit in its room)",
    tags=TAGS,
)
async def check_in(ctx: RequestContext) -> dict:
    """Present, online or in person; the room gets ``attendance.changed``."""
    meeting = _meeting(ctx)
    b: CheckInIn = ctx.body
    records = await attendance.check_in(ctx.session, ctx.actor, meeting, b.mode, b.account_ids)
    body = attendance_json(records, await attendance.quorum(ctx.session, meeting))
    _publish(ctx, meeting.id or 0, body)
    log.info("attendance.checked_in", meeting_id=meeting.id, records=len(records))
    return body


@API.route(
    "PUT",
    "/meetings/{meeting_id}/attendance/accounts/{account_id}",
    action=Action.ATTENDANCE_RECORD,
    body=AttendanceRecordIn,
    response=AttendanceOut,
    summary="Record an account's attendance (present, absent, excused with a reason)",
    tags=TAGS,
)
async def record(ctx: RequestContext) -> object:
    """By the chair or the secretary; "present" without a mode means in person."""
    meeting = _meeting(ctx)
    b: AttendanceRecordIn = ctx.body
    row = await attendance.record(
        ctx.session, ctx.actor, meeting, ctx.params["account_id"], b.state, b.mode, b.reason
    )
    _publish(
        ctx, meeting.id or 0, attendance_json([row], await attendance.quorum(ctx.session, meeting))
    )
    log.info(
        "attendance.recorded", meeting_id=meeting.id, attendee=row.attendee_key, state=row.state
    )
    return row


@API.route(
    "GET",
    "/meetings/{meeting_id}/quorum",
    action=Action.ATTENDANCE_VIEW,
    response=QuorumOut,
    summary="The quorum now",
    tags=TAGS,
)
async def get_quorum(ctx: RequestContext) -> dict:
    """Members, members present, how many are needed and whether that is met."""
    return asdict(await attendance.quorum(ctx.session, _meeting(ctx)))


@API.route(
    "PUT",
    "/meetings/{meeting_id}/quorum",
    action=Action.ATTENDANCE_RECORD,
    body=QuorumRuleIn,
    response=QuorumOut,
    summary="Choose the quorum rule (two thirds of the members, or more than half)",
    tags=TAGS,
)
async def set_quorum(ctx: RequestContext) -> dict:
    """Polls opened afterwards are judged by the new rule; open polls keep theirs."""
    meeting = _meeting(ctx)
    await attendance.set_quorum_rule(ctx.session, ctx.actor, meeting, ctx.body.rule)
    status = await attendance.quorum(ctx.session, meeting)
    _publish(
        ctx,
        meeting.id or 0,
        {"records": [], "quorum": QuorumOut(**asdict(status)).model_dump(mode="json")},
    )
    log.info("quorum.rule_set", meeting_id=meeting.id, rule=status.rule.value)
    return asdict(status)
