"""The agenda: read (members), edit and reorder (hosts), move the current item (chair).

Edits send ``agenda.changed`` (the whole agenda) to the meeting's room; moves send
``agenda.current`` (the previous and the new current item) and ``agenda.changed``.
"""

from meetings import agenda
from meetings.models import Meeting
from meetings.permissions import Action
from signaling.api.convert_proceedings import agenda_json, current_json
from signaling.api.registry import RequestContext
from signaling.api.schemas_proceedings import (
    AgendaCurrentIn,
    AgendaCurrentOut,
    AgendaItemIn,
    AgendaItemOut,
    AgendaItemPatch,
    AgendaReorderIn,
)
from signaling.api.table import API
from signaling.logs import get_logger
from signaling.realtime.proceedings_events import announce

log = get_logger("phonghop.agenda")
TAGS = ("agenda",)


def _meeting(ctx: RequestContext) -> Meeting:
    assert ctx.meeting is not None  # the registry loads it for meeting-scoped actions
    return ctx.meeting


async def _agenda_changed(ctx: RequestContext, meeting_id: int) -> None:
    """Queue ``agenda.changed`` with the agenda as committed."""
    items = agenda_json(await agenda.list_items(ctx.session, meeting_id))
    ctx.after_commit.append(
        lambda: announce(ctx.state.signaling, meeting_id, "agenda.changed", {"items": items})
    )


@API.route(
    "GET",
    "/meetings/{meeting_id}/agenda",
    action=Action.AGENDA_VIEW,
    response=list[AgendaItemOut],
    summary="The agenda, in reading order (items followed by their sub-items)",
    tags=TAGS,
)
async def list_agenda(ctx: RequestContext) -> list:
    """Visible to the meeting's members."""
    return await agenda.list_items(ctx.session, _meeting(ctx).id or 0)


@API.route(
    "POST",
    "/meetings/{meeting_id}/agenda",
    action=Action.AGENDA_EDIT,
    body=AgendaItemIn,
    response=AgendaItemOut,
    status=201,
    summary="Add an agenda item (or a sub-item) at the end of its level",
    tags=TAGS,
)
async def create_agenda_item(ctx: RequestContext) -> object:
    """Hosts only; the presenter is an account or a free name, the budget in minutes."""
    b: AgendaItemIn = ctx.body
    meeting = _meeting(ctx)
    item = await agenda.create_item(
        ctx.session,
        ctx.actor,
        meeting,
        title=b.title,
        description=b.description,
        parent_id=b.parent_id,
        presenter_id=b.presenter_id,
        presenter_name=b.presenter_name,
        minutes_budget=b.minutes_budget,
    )
    await _agenda_changed(ctx, meeting.id or 0)
    log.info("agenda_item.created", item_id=item.id)
    return item


@API.route(
    "PATCH",
    "/meetings/{meeting_id}/agenda/{item_id}",
    action=Action.AGENDA_EDIT,
    body=AgendaItemPatch,
    response=AgendaItemOut,
    summary="Change an agenda item; a new parent moves it to the end of that level",
    tags=TAGS,
)
async def update_agenda_item(ctx: RequestContext) -> object:
    """Only the fields sent change; a parent cannot be the item itself or one of its sub-items."""
    meeting = _meeting(ctx)
    item = await agenda.update_item(
        ctx.session, ctx.actor, meeting, ctx.params["item_id"], **ctx.body.changes()
    )
    await _agenda_changed(ctx, meeting.id or 0)
    log.info("agenda_item.updated", item_id=item.id)
    return item


@API.route(
    "DELETE",
    "/meetings/{meeting_id}/agenda/{item_id}",
    action=Action.AGENDA_EDIT,
    status=204,
    summary="Delete an agenda item and its sub-items (refused once started)",
    tags=TAGS,
)
async def delete_agenda_item(ctx: RequestContext) -> None:
    """Also refused while documents, speakers, conclusions or polls refer to the item."""
    meeting = _meeting(ctx)
    await agenda.delete_item(ctx.session, ctx.actor, meeting, ctx.params["item_id"])
    await _agenda_changed(ctx, meeting.id or 0)
    log.info("agenda_item.deleted", item_id=ctx.params["item_id"])


@API.route(
    "POST",
    "/meetings/{meeting_id}/agenda/reorder",
    action=Action.AGENDA_EDIT,
    body=AgendaReorderIn,
    response=list[AgendaItemOut],
    summary="Put the items of one level in a new order (positions stay dense)",
    tags=TAGS,
)
async def reorder_agenda(ctx: RequestContext) -> list:
    """``item_ids`` names every item of that level exactly once."""
    b: AgendaReorderIn = ctx.body
    meeting = _meeting(ctx)
    items = await agenda.reorder(ctx.session, ctx.actor, meeting, b.parent_id, b.item_ids)
    await _agenda_changed(ctx, meeting.id or 0)
    log.info("agenda.reordered", parent_id=b.parent_id)
    return items


async def _moved(ctx: RequestContext, change: agenda.CurrentChange) -> dict:
    meeting_id = _meeting(ctx).id or 0
    out = current_json(change)
    items = agenda_json(agenda.tree_order(change.items))
    gateway = ctx.state.signaling

    async def tell() -> None:
        await announce(gateway, meeting_id, "agenda.current", out)
        await announce(gateway, meeting_id, "agenda.changed", {"items": items})

    ctx.after_commit.append(tell)
    log.info(
        "agenda.current_changed",
        previous=change.previous.id if change.previous else None,
        current=change.current.id if change.current else None,
    )
    return out


@API.route(
    "POST",
    "/meetings/{meeting_id}/agenda/current",
    action=Action.AGENDA_DIRECT,
    body=AgendaCurrentIn,
    response=AgendaCurrentOut,
    summary="Make a pending item current (null: close the current one); the chair, live",
    tags=TAGS,
)
async def set_current_agenda_item(ctx: RequestContext) -> dict:
    """The previous current item becomes done; the room gets ``agenda.current``."""
    change = await agenda.set_current(ctx.session, ctx.actor, _meeting(ctx), ctx.body.item_id)
    return await _moved(ctx, change)


@API.route(
    "POST",
    "/meetings/{meeting_id}/agenda/next",
    action=Action.AGENDA_DIRECT,
    response=AgendaCurrentOut,
    summary="Close the current item and open the next pending one; the chair, live",
    tags=TAGS,
)
async def next_agenda_item(ctx: RequestContext) -> dict:
    """In reading order; with nothing pending left, the current item is closed."""
    change = await agenda.next_item(ctx.session, ctx.actor, _meeting(ctx))
    return await _moved(ctx, change)
