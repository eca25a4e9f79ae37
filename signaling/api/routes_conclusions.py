"""Conclusions (kết luận) per agenda item: read by members, written by the secretary or chair.

Every change sends ``conclusions.changed`` (``change``: created, updated or deleted, and the
conclusion) to the meeting's room.
"""

from typing import Any

from meetings import conclusions
from meetings.models import Meeting
from meetings.permissions import Action
from signaling.api.convert_proceedings import conclusion_json
from signaling.api.registry import RequestContext
from signaling.api.schemas_proceedings import (
    ConclusionFilter,
    ConclusionIn,
    ConclusionOut,
    ConclusionPatch,
)
from signaling.api.table import API
from signaling.logs import get_logger
from signaling.realtime.proceedings_events import announce

log = get_logger("phonghop.conclusions")
TAGS = ("conclusions",)


def _meeting(ctx: RequestContext) -> Meeting:
    assert ctx.meeting is not None  # the registry loads it for meeting-scoped actions
    return ctx.meeting


def _changed(ctx: RequestContext, change: str, conclusion: dict[str, Any]) -> None:
    meeting_id = _meeting(ctx).id or 0
    data = {"change": change, "conclusion": conclusion}
    ctx.after_commit.append(
        lambda: announce(ctx.state.signaling, meeting_id, "conclusions.changed", data)
    )


@API.route(
    "GET",
    "/meetings/{meeting_id}/conclusions",
    action=Action.CONCLUSION_VIEW,
    query=ConclusionFilter,
    response=list[ConclusionOut],
    summary="The meeting's conclusions (optionally of one agenda item)",
    tags=TAGS,
)
async def list_conclusions(ctx: RequestContext) -> list:
    """In the order they were recorded."""
    return await conclusions.list_conclusions(
        ctx.session, _meeting(ctx).id or 0, ctx.query.agenda_item_id
    )


@API.route(
    "POST",
    "/meetings/{meeting_id}/conclusions",
    action=Action.CONCLUSION_WRITE,
    body=ConclusionIn,
    response=ConclusionOut,
    status=201,
    summary="Record a conclusion on an agenda item (secretary or chair)",
    tags=TAGS,
)
async def record_conclusion(ctx: RequestContext) -> dict:
    """Optionally assigned to an account or a unit (not both), with a deadline."""
    b: ConclusionIn = ctx.body
    conclusion = await conclusions.record(
        ctx.session,
        ctx.actor,
        _meeting(ctx),
        agenda_item_id=b.agenda_item_id,
        content=b.content,
        assignee_account_id=b.assignee_account_id,
        assignee_unit_id=b.assignee_unit_id,
        deadline=b.deadline,
    )
    out = conclusion_json(conclusion)
    _changed(ctx, "created", out)
    log.info("conclusion.recorded", conclusion_id=conclusion.id)
    return out


@API.route(
    "PATCH",
    "/meetings/{meeting_id}/conclusions/{conclusion_id}",
    action=Action.CONCLUSION_WRITE,
    body=ConclusionPatch,
    response=ConclusionOut,
    summary="Edit a conclusion (secretary or chair)",
    tags=TAGS,
)
async def update_conclusion(ctx: RequestContext) -> dict:
    """Only the fields sent change; ``null`` clears an assignee or the deadline."""
    conclusion = await conclusions.update(
        ctx.session, ctx.actor, _meeting(ctx), ctx.params["conclusion_id"], **ctx.body.changes()
    )
    out = conclusion_json(conclusion)
    _changed(ctx, "updated", out)
    log.info("conclusion.updated", conclusion_id=conclusion.id)
    return out


@API.route(
    "DELETE",
    "/meetings/{meeting_id}/conclusions/{conclusion_id}",
    action=Action.CONCLUSION_WRITE,
    status=204,
    summary="Remove a conclusion (secretary or chair; the audit log keeps it)",
    tags=TAGS,
)
async def delete_conclusion(ctx: RequestContext) -> None:
    """The room is told which conclusion went."""
    meeting = _meeting(ctx)
    conclusion = await conclusions.get_conclusion(
        ctx.session, meeting.id or 0, ctx.params["conclusion_id"]
    )
    out = conclusion_json(conclusion)
    await conclusions.delete(ctx.session, ctx.actor, meeting, ctx.params["conclusion_id"])
    _changed(ctx, "deleted", out)
    log.info("conclusion.deleted", conclusion_id=ctx.params["conclusion_id"])
