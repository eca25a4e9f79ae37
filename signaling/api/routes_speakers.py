"""The list of speakers over REST (the same operations as the ``speaker.*`` socket.io events).

Every change sends ``speakers.changed`` (the whole list, coalesced) to the meeting's room; a grant
also spotlights the speaker and sends them ``media.unmute``; an end returns the spotlight.
"""

from meetings import speakers
from meetings.models import Meeting
from meetings.permissions import Action
from meetings.proceedings_models import SpeakerRequest
from signaling.api.convert_proceedings import speaker_json, speakers_json
from signaling.api.registry import RequestContext
from signaling.api.schemas_proceedings import (
    SpeakerListOut,
    SpeakerOut,
    SpeakerReorderIn,
    SpeakerRequestIn,
)
from signaling.api.table import API
from signaling.logs import get_logger
from signaling.realtime.proceedings_events import publish_speakers

log = get_logger("phonghop.speakers")
TAGS = ("speakers",)


def _meeting(ctx: RequestContext) -> Meeting:
    assert ctx.meeting is not None  # the registry loads it for meeting-scoped actions
    return ctx.meeting


def _changed(
    ctx: RequestContext, granted: SpeakerRequest | None = None, ended: bool = False
) -> None:
    """Tell the room after the commit (and put a granted speaker on air)."""
    meeting_id = _meeting(ctx).id or 0
    gateway = ctx.state.signaling
    ctx.after_commit.append(lambda: publish_speakers(gateway, meeting_id, granted, ended))


async def _listing(ctx: RequestContext) -> dict:
    """The list as it will be committed (the chair's operations answer with it)."""
    return speakers_json(await speakers.speaker_list(ctx.session, _meeting(ctx).id or 0))


@API.route(
    "GET",
    "/meetings/{meeting_id}/speakers",
    action=Action.SPEAKER_VIEW,
    response=SpeakerListOut,
    summary="The list of speakers: who speaks, the queue, the speeches given",
    tags=TAGS,
)
async def list_speakers(ctx: RequestContext) -> dict:
    """With each request's agenda item time budget and the server's clock."""
    return speakers_json(await speakers.speaker_list(ctx.session, _meeting(ctx).id or 0))


@API.route(
    "POST",
    "/meetings/{meeting_id}/speakers",
    action=Action.SPEAKER_REQUEST,
    body=SpeakerRequestIn,
    response=SpeakerOut,
    status=201,
    summary="Ask to speak (one open request per person)",
    tags=TAGS,
)
async def request_to_speak(ctx: RequestContext) -> dict:
    """On the named agenda item, or the current one."""
    b: SpeakerRequestIn = ctx.body
    request = await speakers.request_to_speak(
        ctx.session, ctx.actor, _meeting(ctx), b.topic, b.agenda_item_id
    )
    _changed(ctx)
    log.info("speaker.requested", request_id=request.id)
    return speaker_json(request, await speakers.item_budget(ctx.session, request))


@API.route(
    "POST",
    "/meetings/{meeting_id}/speakers/withdraw",
    action=Action.SPEAKER_REQUEST,
    response=SpeakerOut,
    summary="Withdraw one's own waiting request",
    tags=TAGS,
)
async def withdraw_speaker_request(ctx: RequestContext) -> dict:
    """A speech under way is ended by the chair, not withdrawn."""
    request = await speakers.withdraw(ctx.session, ctx.actor, _meeting(ctx))
    _changed(ctx)
    log.info("speaker.withdrawn", request_id=request.id)
    return speaker_json(request, await speakers.item_budget(ctx.session, request))


@API.route(
    "DELETE",
    "/meetings/{meeting_id}/speakers/{request_id}",
    action=Action.SPEAKER_MANAGE,
    status=204,
    summary="Take a waiting request off the queue (the chair)",
    tags=TAGS,
)
async def remove_speaker_request(ctx: RequestContext) -> None:
    """The request is kept as withdrawn, for the record."""
    await speakers.remove(ctx.session, ctx.actor, _meeting(ctx), ctx.params["request_id"])
    _changed(ctx)
    log.info("speaker.removed", request_id=ctx.params["request_id"])


@API.route(
    "POST",
    "/meetings/{meeting_id}/speakers/{request_id}/grant",
    action=Action.SPEAKER_MANAGE,
    response=SpeakerListOut,
    summary="Give the floor to a waiting request (ends the current speech); the chair, live",
    tags=TAGS,
)
async def grant_floor(ctx: RequestContext) -> dict:
    """The speaker is spotlighted for everyone and asked to unmute."""
    result = await speakers.grant(ctx.session, ctx.actor, _meeting(ctx), ctx.params["request_id"])
    _changed(ctx, granted=result.granted)
    log.info("speaker.granted", request_id=result.granted.id)
    return await _listing(ctx)


@API.route(
    "POST",
    "/meetings/{meeting_id}/speakers/end",
    action=Action.SPEAKER_MANAGE,
    response=SpeakerListOut,
    summary="End the current speech (its time is recorded); the chair",
    tags=TAGS,
)
async def end_speech(ctx: RequestContext) -> dict:
    """The spotlight returns to the chair."""
    ended = await speakers.end(ctx.session, ctx.actor, _meeting(ctx))
    _changed(ctx, ended=True)
    log.info("speaker.ended", request_id=ended.id, seconds=ended.seconds_spoken)
    return await _listing(ctx)


@API.route(
    "POST",
    "/meetings/{meeting_id}/speakers/reorder",
    action=Action.SPEAKER_MANAGE,
    body=SpeakerReorderIn,
    response=SpeakerListOut,
    summary="Put the waiting requests in a new order (the chair)",
    tags=TAGS,
)
async def reorder_speakers(ctx: RequestContext) -> dict:
    """``request_ids`` names every waiting request exactly once."""
    await speakers.reorder(ctx.session, ctx.actor, _meeting(ctx), ctx.body.request_ids)
    _changed(ctx)
    log.info("speakers.reordered")
    return await _listing(ctx)
