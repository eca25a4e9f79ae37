"""socket.io side of attendance and voting.

Client → server events (acknowledged ``{"ok": true, ...}`` only after the commit):

* ``vote.cast`` ``{meeting_id, poll_id, choices: [option ids]}`` → ``{poll_id, changed}``;
  errors ``not_eligible``, ``already_voted``, ``poll_not_open``, ``invalid_input``.
  Ballots go through this process's group-commit ``BallotWriter``.
* ``attendance.check_in`` ``{meeting_id, mode, account_ids}`` → ``{records, quorum}``.

Server → room events, coalesced to at most one per poll (or meeting) every ``INTERVAL``
seconds or more in large rooms (see ``LiveUpdates``), because each one is a websocket write
per participant and a vote or check-in burst would otherwise cost N² writes:
``poll.counts`` (ballots so far; per-option counts only for a named poll) and
``attendance.changed`` (the changed records and the quorum). ``poll.opened`` and
``poll.closed`` are sent by the REST routes after their commit.
"""

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from meetings import attendance
from meetings.attendance_models import Attendance, AttendanceMode
from meetings.errors import NotFound
from meetings.models import Meeting
from meetings.permissions import Action
from meetings.voting.service import BallotRequest, PollCounts
from meetings.voting.writer import BallotWriter
from signaling.api.schemas_voting import AttendanceOut, QuorumOut
from signaling.logs import get_logger
from signaling.realtime.events import Connection, EventSpec
from signaling.realtime.payloads import MeetingId, Payload

if TYPE_CHECKING:
    from signaling.realtime.gateway import SignalingGateway

log = get_logger("phonghop.voting")
INTERVAL = 0.2  # seconds between two coalesced updates of one poll or meeting
Emit = Callable[[int, str, dict[str, Any]], Awaitable[None]]
Count = Callable[[int], Awaitable[int]]
Merge = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class VotePayload(Payload):
    meeting_id: MeetingId
    poll_id: MeetingId
    choices: Annotated[list[MeetingId], Field(max_length=50)]


class CheckInPayload(Payload):
    meeting_id: MeetingId
    mode: Annotated[AttendanceMode, Field(strict=False)] = AttendanceMode.ONLINE  # from a string
    account_ids: Annotated[list[MeetingId], Field(max_length=500)] = Field(default_factory=list)


def _latest(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return new


class LiveUpdates:
    """Per (meeting, event, key): keep the newest body, send it at most every ``interval``.

    The interval grows with the room, as presence broadcasts do: a flush costs one websocket
    write per participant, so a room of N waits max(interval, N / RECIPIENTS_PER_SECOND)
    (capped at ``MAX_INTERVAL``): a 30-person meeting sees counts move every 0.2 s, a
    600-delegate session every 0.6 s, at a bounded cost whatever N is.
    """

    RECIPIENTS_PER_SECOND = 1000.0
    MAX_INTERVAL = 2.0

    def __init__(self, emit: Emit, count: Count, interval: float = INTERVAL) -> None:
        self._emit = emit
        self._count = count
        self._interval = interval
        self._pending: dict[tuple[int, str, Any], dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None

    def push(
        self, meeting_id: int, event: str, key: Any, data: dict[str, Any], merge: Merge = _latest
    ) -> None:
        """Queue ``data`` (merged into what is already queued under the same key)."""
        slot = (meeting_id, event, key)
        old = self._pending.get(slot)
        self._pending[slot] = data if old is None else merge(old, data)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_later(), name="live-updates")

    async def _flush_later(self) -> None:
        while self._pending:
            sizes = [await self._count(m) for m in {slot[0] for slot in self._pending}]
            room = max(sizes, default=0)
            delay = max(self._interval, room / self.RECIPIENTS_PER_SECOND)
            await asyncio.sleep(min(self.MAX_INTERVAL, delay))  # gather the burst
            pending, self._pending = self._pending, {}
            for (meeting_id, event, _), data in pending.items():
                try:
                    await self._emit(meeting_id, event, data)
                except Exception:
                    log.exception("voting.publish_failed", meeting_id=meeting_id, event=event)


def _merge_attendance(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    records = {r["attendee_key"]: r for r in old["records"]}
    records.update({r["attendee_key"]: r for r in new["records"]})
    return {**new, "records": list(records.values())}


def attendance_json(records: list[Attendance], status: attendance.QuorumStatus) -> dict[str, Any]:
    """``{records, quorum}`` as the API and the events show them."""
    return {
        "records": [AttendanceOut.model_validate(r).model_dump(mode="json") for r in records],
        "quorum": QuorumOut(**asdict(status)).model_dump(mode="json"),
    }


class VotingFeature:
    """The ballot writer and the live updates of one gateway."""

    def __init__(self, gateway: "SignalingGateway") -> None:
        self.gateway = gateway
        self.live = LiveUpdates(gateway.meeting_event, gateway.presence.count)
        self.writer = BallotWriter(gateway.transaction, on_committed=self.counts_changed)

    async def counts_changed(self, counts: list[PollCounts]) -> None:
        """Committed ballots: queue ``poll.counts`` for each poll."""
        for c in counts:
            self.live.push(c.meeting_id, "poll.counts", c.poll_id, c.as_dict())

    def attendance_changed(self, meeting_id: int, body: dict[str, Any]) -> None:
        """A committed attendance change: queue ``attendance.changed``."""
        self.live.push(
            meeting_id,
            "attendance.changed",
            None,
            {"meeting_id": meeting_id, **body},
            _merge_attendance,
        )

    async def vote(self, conn: Connection, payload: VotePayload) -> dict[str, Any]:
        """``vote.cast``: answered once the ballot's transaction has committed."""
        request = BallotRequest(
            conn.principal.actor, payload.meeting_id, payload.poll_id, tuple(payload.choices)
        )
        result = await self.writer.cast(request)
        if result.error is not None:
            raise result.error
        return {"poll_id": payload.poll_id, "changed": result.changed}

    async def check_in(self, conn: Connection, payload: CheckInPayload) -> dict[str, Any]:
        """``attendance.check_in``: oneself, and for an endpoint the members in its room."""
        async with self.gateway.transaction() as session:
            meeting = await session.get(Meeting, payload.meeting_id)
            if meeting is None:
                raise NotFound("meeting not found")
            records = await attendance.check_in(
                session, conn.principal.actor, meeting, payload.mode, payload.account_ids
            )
            body = attendance_json(records, await attendance.quorum(session, meeting))
        self.attendance_changed(payload.meeting_id, body)
        log.info("attendance.checked_in", meeting_id=payload.meeting_id, records=len(records))
        return body


_FEATURES: "weakref.WeakKeyDictionary[SignalingGateway, VotingFeature]" = (
    weakref.WeakKeyDictionary()
)


def feature_of(gateway: "SignalingGateway") -> VotingFeature:
    """The voting feature installed on ``gateway`` (REST routes publish through it)."""
    return _FEATURES[gateway]


def install(gateway: "SignalingGateway") -> None:
    """Register ``vote.cast`` and ``attendance.check_in`` on the gateway."""
    feature = VotingFeature(gateway)
    _FEATURES[gateway] = feature
    gateway.events.add(EventSpec("vote.cast", VotePayload, Action.VOTE_CAST, feature.vote))
    gateway.events.add(
        EventSpec(
            "attendance.check_in", CheckInPayload, Action.ATTENDANCE_CHECK_IN, feature.check_in
        )
    )
