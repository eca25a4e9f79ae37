"""Polls (biểu quyết): prepare, open, vote, close, results; voters and named ballots."""

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import access
from meetings.actor import Actor, ActorKind
from meetings.errors import NotFound
from meetings.models import Meeting
from meetings.permissions import Action, is_allowed
from meetings.voting import service
from meetings.voting.models import Poll, PollState
from signaling.api.registry import RequestContext
from signaling.api.schemas_voting import (
    NamedBallotOut,
    PollIn,
    PollOut,
    VoteIn,
    VoteOut,
    VoterOut,
)
from signaling.api.table import API
from signaling.logs import get_logger
from signaling.realtime.voting_events import feature_of

log = get_logger("phonghop.polls")
TAGS = ("polls",)


def _meeting(ctx: RequestContext) -> Meeting:
    assert ctx.meeting is not None  # the registry loads it for meeting-scoped actions
    return ctx.meeting


async def poll_json(
    session: AsyncSession, polls: list[Poll], viewer: Actor | None
) -> list[dict[str, Any]]:
    """Polls as ``PollOut``: a secret poll's counts stay hidden until it is closed."""
    options = await service.options_of(session, [p.id or 0 for p in polls])
    out = []
    for poll in polls:
        hidden = poll.secret and poll.state != PollState.CLOSED.value
        has_voted = None
        if viewer is not None and viewer.kind is ActorKind.ACCOUNT and poll.state != "draft":
            has_voted = await service.has_voted(session, poll.id or 0, viewer.id)
        body = PollOut(
            **poll.model_dump(exclude={"result_json", "blank_count", "created_by"}),
            options=[
                {
                    "id": o.id,
                    "position": o.position,
                    "label": o.label,
                    "votes": None if hidden else o.votes,
                }
                for o in options[poll.id or 0]
            ],
            result=service.result_of(poll),
            has_voted=has_voted,
        )
        out.append(body.model_dump(mode="json"))
    return out


async def _one(ctx: RequestContext, poll: Poll) -> dict[str, Any]:
    return (await poll_json(ctx.session, [poll], ctx.actor))[0]


def _announce(ctx: RequestContext, meeting_id: int, event: str, body: dict[str, Any]) -> None:
    async def publish() -> None:
        await ctx.state.signaling.meeting_event(
            meeting_id, event, {"meeting_id": meeting_id, "poll": body}
        )

    ctx.after_commit.append(publish)


@API.route(
    "GET",
    "/meetings/{meeting_id}/polls",
    action=Action.POLL_VIEW,
    response=list[PollOut],
    summary="The meeting's polls (drafts only for those who prepare them)",
    tags=TAGS,
)
async def list_polls(ctx: RequestContext) -> list:
    """In creation order, with results once closed."""
    meeting = _meeting(ctx)
    relations = await access.relations_to(ctx.session, ctx.actor, meeting)
    drafts = is_allowed(ctx.actor, Action.POLL_PREPARE, relations)
    return await poll_json(
        ctx.session, await service.list_polls(ctx.session, meeting, drafts), ctx.actor
    )


@API.route(
    "POST",
    "/meetings/{meeting_id}/polls",
    action=Action.POLL_PREPARE,
    body=PollIn,
    response=PollOut,
    status=201,
    summary="Prepare a poll (a draft) on the meeting or one of its agenda items",
    tags=TAGS,
)
async def create_poll(ctx: RequestContext) -> dict:
    """yes/no/abstain, single or multiple choice; named or secret; a majority rule."""
    b: PollIn = ctx.body
    spec = service.PollSpec(
        title=b.title,
        kind=b.kind,
        majority=b.majority,
        options=b.options,
        description=b.description,
        min_choices=b.min_choices,
        max_choices=b.max_choices,
        secret=b.secret,
        allow_change=b.allow_change,
        quorum_required=b.quorum_required,
        agenda_item_id=b.agenda_item_id,
    )
    poll = await service.create_poll(ctx.session, ctx.actor, _meeting(ctx), spec)
    log.info("poll.created", meeting_id=poll.meeting_id, poll_id=poll.id, secret=poll.secret)
    return await _one(ctx, poll)


async def _poll(ctx: RequestContext) -> Poll:
    return await service.get_poll(ctx.session, _meeting(ctx), ctx.params["poll_id"])


async def _visible_poll(ctx: RequestContext) -> Poll:
    """A poll, where a draft is only visible to those who prepare polls."""
    poll = await _poll(ctx)
    if poll.state == PollState.DRAFT.value:
        relations = await access.relations_to(ctx.session, ctx.actor, _meeting(ctx))
        if not is_allowed(ctx.actor, Action.POLL_PREPARE, relations):
            raise NotFound("poll not found", poll_id=poll.id)
    return poll


@API.route(
    "GET",
    "/meetings/{meeting_id}/polls/{poll_id}",
    action=Action.POLL_VIEW,
    response=PollOut,
    summary="One poll, and whether the caller has voted",
    tags=TAGS,
)
async def get_poll(ctx: RequestContext) -> dict:
    """Counts of a secret poll are null until it is closed."""
    return await _one(ctx, await _visible_poll(ctx))


@API.route(
    "DELETE",
    "/meetings/{meeting_id}/polls/{poll_id}",
    action=Action.POLL_PREPARE,
    status=204,
    summary="Delete a draft poll",
    tags=TAGS,
)
async def delete_poll(ctx: RequestContext) -> None:
    """Only drafts: an opened poll is part of the record."""
    await service.delete_draft(ctx.session, ctx.actor, _meeting(ctx), await _poll(ctx))
    log.info("poll.deleted", meeting_id=ctx.params["meeting_id"], poll_id=ctx.params["poll_id"])


@API.route(
    "POST",
    "/meetings/{meeting_id}/polls/{poll_id}/open",
    action=Action.POLL_CONDUCT,
    response=PollOut,
    summary="Open a poll (chair): the members present now are its voters",
    tags=TAGS,
)
async def open_poll(ctx: RequestContext) -> dict:
    """The room gets ``poll.opened``."""
    poll = await service.open_poll(ctx.session, ctx.actor, _meeting(ctx), await _poll(ctx))
    body = await _one(ctx, poll)
    body["has_voted"] = None  # the event goes to everyone: nothing about the caller
    _announce(ctx, poll.meeting_id, "poll.opened", body)
    log.info(
        "poll.opened", meeting_id=poll.meeting_id, poll_id=poll.id, eligible=poll.present_count
    )
    return await _one(ctx, poll)


@API.route(
    "POST",
    "/meetings/{meeting_id}/polls/{poll_id}/close",
    action=Action.POLL_CONDUCT,
    response=PollOut,
    summary="Close a poll (chair): the result is decided and stored",
    tags=TAGS,
)
async def close_poll(ctx: RequestContext) -> dict:
    """The room gets ``poll.closed`` with the result and the rule that decided it."""
    poll = await service.close_poll(ctx.session, ctx.actor, _meeting(ctx), await _poll(ctx))
    # This process's ballot writer stops answering from memory (a later ballot is told
    # "poll_not_open"); other processes find out at their next ballot's lock.
    feature_of(ctx.state.signaling).writer.polls.forget(poll.id or 0)
    body = await _one(ctx, poll)
    body["has_voted"] = None
    _announce(ctx, poll.meeting_id, "poll.closed", body)
    log.info("poll.closed", meeting_id=poll.meeting_id, poll_id=poll.id, outcome=poll.outcome)
    return await _one(ctx, poll)


@API.route(
    "POST",
    "/meetings/{meeting_id}/polls/{poll_id}/votes",
    action=Action.VOTE_CAST,
    body=VoteIn,
    response=VoteOut,
    status=201,
    summary="Cast (or, where allowed, change) one's ballot",
    tags=TAGS,
)
async def cast_vote(ctx: RequestContext) -> dict:
    """Answered after the commit; ``409`` with ``already_voted``, ``not_eligible`` or
    ``poll_not_open`` otherwise."""
    b: VoteIn = ctx.body
    meeting = _meeting(ctx)
    request = service.BallotRequest(
        ctx.actor, meeting.id or 0, ctx.params["poll_id"], tuple(b.choices)
    )
    batch = await service.cast_ballots(ctx.session, [request])
    result = batch.results[0]
    if result.error is not None:
        raise result.error
    counts = list(batch.counts.values())

    async def publish() -> None:
        await feature_of(ctx.state.signaling).counts_changed(counts)

    ctx.after_commit.append(publish)
    log.info(
        "poll.vote_cast", meeting_id=meeting.id, poll_id=request.poll_id, changed=result.changed
    )
    return {"poll_id": request.poll_id, "changed": result.changed}


@API.route(
    "GET",
    "/meetings/{meeting_id}/polls/{poll_id}/voters",
    action=Action.POLL_VIEW,
    response=list[VoterOut],
    summary="The poll's voters and whether each has voted (never what)",
    tags=TAGS,
)
async def list_voters(ctx: RequestContext) -> list:
    """The list taken when the poll opened (members present then)."""
    poll = await _visible_poll(ctx)
    return [{"account_id": a, "has_voted": v} for a, v in await service.voters(ctx.session, poll)]


@API.route(
    "GET",
    "/meetings/{meeting_id}/polls/{poll_id}/ballots",
    action=Action.POLL_VIEW,
    response=list[NamedBallotOut],
    summary="Who chose what, for a named poll (409 for a secret one: nothing links them)",
    tags=TAGS,
)
async def list_ballots(ctx: RequestContext) -> list:
    """Named (công khai) polls only."""
    poll = await _visible_poll(ctx)
    ballots = await service.named_ballots(ctx.session, poll)
    return [{"account_id": a, "choices": c} for a, c in ballots.items()]
