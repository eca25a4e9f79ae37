"""The socket.io side of signaling: connect/disconnect, rooms, presence, negotiation relay."""

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import socketio
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from media.worker import Worker
from meetings import access
from meetings.actor import Actor, ActorKind
from meetings.errors import Conflict, NotFound
from meetings.models import Meeting, MeetingState, Unit
from meetings.permissions import Action, Relation
from signaling.api.schemas import MeetingOut
from signaling.auth.authenticator import Authenticator
from signaling.logs import bound_context, get_logger
from signaling.metrics import Metrics
from signaling.realtime import recording_events, room_events
from signaling.realtime.broadcast import PresenceBroadcaster, meeting_room
from signaling.realtime.conference import ConferenceCoordinator
from signaling.realtime.events import Connection, EventRegistry, EventSpec
from signaling.realtime.features import install_all as install_features
from signaling.realtime.payloads import (
    JoinPayload,
    LeavePayload,
    MediaPage,
    MediaSpotlight,
    MediaView,
    RtcAnswer,
    RtcCandidate,
    RtcOffer,
)
from signaling.realtime.presence import Participant, PresenceStore

log = get_logger("phonghop.signaling")
Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def principal_room(key: str) -> str:
    """Room holding every connection of one principal (for direct messages across processes)."""
    return f"principal:{key}"


def _meeting_role(actor: Actor, meeting: Meeting) -> str:
    if actor.kind is ActorKind.ACCOUNT and meeting.chair_id == actor.id:
        return "chair"
    if actor.kind is ActorKind.ACCOUNT and meeting.secretary_id == actor.id:
        return "secretary"
    return "endpoint" if actor.kind is ActorKind.ENDPOINT else "participant"


class SignalingGateway:
    """Owns the socket.io server's handlers and the presence of every meeting."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        transaction: Transaction,
        authenticator: Authenticator,
        presence: PresenceStore,
        metrics: Metrics,
        grace_seconds: float,
        flush_seconds: float,
        redis: Redis | None = None,
        control_channel: str = "phonghop:control",
        media_worker: Worker | None = None,
        ice_servers: Callable[[str], list[dict[str, Any]]] = lambda key: [],
        data_dir: Path | None = None,
        recording_tracks: bool = False,
    ) -> None:
        self.sio = sio
        self.transaction = transaction
        self.authenticator = authenticator
        self.presence = presence
        self.metrics = metrics
        self.grace_seconds = grace_seconds
        self.redis = redis
        self.control_channel = control_channel
        self.connections: dict[str, Connection] = {}
        self._grace: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._control_task: asyncio.Task[None] | None = None
        self.broadcaster = PresenceBroadcaster(self._emit, presence.count, flush_seconds)
        self.events = EventRegistry()
        # This process's SFU. With several signaling processes each has its own: a meeting's
        # endpoints must reach the same process (nginx ip_hash) until Workers are piped.
        self.media = ConferenceCoordinator(self._emit, media_worker)
        self.ice_servers = ice_servers
        self.data_dir = data_dir  # where recordings are written (None: no recording)
        self.recording_tracks = recording_tracks  # each producer in its own file as well
        self._register()

    # ---- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the presence flusher and, with Redis, the cross-process control listener."""
        self.broadcaster.start()
        await recording_events.desk_of(self).recover()
        if self.redis is not None:
            self._control_task = asyncio.create_task(self._listen_control(), name="control")

    async def stop(self) -> None:
        """Stop background work; connections are closed by the server shutting down."""
        for task in [*self._grace.values(), self._control_task]:
            if task is not None:
                task.cancel()
        await self.broadcaster.stop()
        # A shutdown (not a crash) finishes and files what is being recorded before the media
        # plane closes under it.
        await recording_events.desk_of(self).stop_all()
        await self.media.close()
        if self._control_task is not None:
            # Bounded: redis-py can swallow a cancellation that lands inside a read.
            await asyncio.wait([self._control_task], timeout=2)

    async def _emit(self, event: str, data: dict[str, Any], room: str) -> None:
        await self.sio.emit(event, data, room=room)

    # ---- registration -----------------------------------------------------------------

    def _register(self) -> None:
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_any)
        self.events.add(
            EventSpec("join", JoinPayload, Action.MEETING_JOIN, self._join, needs_join=False)
        )
        self.events.add(EventSpec("leave", LeavePayload, Action.MEETING_VIEW, self._leave))
        media = Action.MEETING_MEDIA
        self.events.add(EventSpec("rtc.offer", RtcOffer, media, self._offer))
        self.events.add(EventSpec("rtc.answer", RtcAnswer, media, self._relay("rtc.answer")))
        self.events.add(EventSpec("rtc.candidate", RtcCandidate, media, self._candidate))
        self.events.add(EventSpec("media.view", MediaView, media, self._view))
        direct = Action.MEDIA_DIRECT
        self.events.add(EventSpec("media.spotlight", MediaSpotlight, direct, self._spotlight))
        self.events.add(EventSpec("media.page", MediaPage, direct, self._page))
        install_features(self)

    async def _on_any(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        # Every event takes exactly one payload object; anything else must still get an ack.
        if len(args) > 1:
            args = ({"__arguments__": len(args)},)
        data = args[0] if args else None
        started = time.monotonic()
        try:
            return await self.events.dispatch(
                event, self.connections.get(sid), data, self._count_error
            )
        finally:
            # Labelled by registered names only: a client must not create label values.
            label = event if event in self.events.specs else "unknown"
            self.metrics.event_latency.labels(label).observe(time.monotonic() - started)

    def _count_error(self, code: str) -> None:
        self.metrics.errors.labels(code=code, channel="socket").inc()

    # ---- connect / disconnect ---------------------------------------------------------

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        async with self.transaction() as session:
            principal = await self.authenticator.from_socket(session, environ, auth)
        if principal is None:
            self._count_error("unauthenticated")
            log.warning("socket.connect_refused", address=environ.get("REMOTE_ADDR"))
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "unauthenticated", "message": "valid credentials required"}
            )
        conn = Connection(sid, principal)
        self.connections[sid] = conn
        await self.sio.enter_room(sid, principal_room(conn.key))
        self.metrics.connected_clients.inc()
        log.info("socket.connected", sid=sid, actor=conn.key)
        away = await self.presence.disconnected_meetings(conn.key)
        if away:
            self.sio.start_background_task(self._restore, conn, away)

    async def _restore(self, conn: Connection, meeting_ids: list[int]) -> None:
        """A reconnect within the grace period rejoins the meetings the principal was in."""
        restored: list[int] = []
        for meeting_id in meeting_ids:
            if conn.sid not in self.connections:
                return
            try:
                await self._join(conn, JoinPayload(meeting_id=meeting_id))
                restored.append(meeting_id)
            except Exception as exc:  # the invitation may be gone or the meeting over
                log.info(
                    "socket.restore_skipped", meeting_id=meeting_id, actor=conn.key, reason=str(exc)
                )
        await self.sio.emit("session.restored", {"meetings": restored}, to=conn.sid)

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self.connections.pop(sid, None)
        if conn is None:
            return
        self.metrics.connected_clients.dec()
        for meeting_id in list(conn.meetings):
            await self._detach(conn, meeting_id, grace=True)
        log.info("socket.disconnected", sid=sid, actor=conn.key, reason=str(reason))

    # ---- join / leave -----------------------------------------------------------------

    async def _join(self, conn: Connection, payload: JoinPayload) -> dict[str, Any]:
        actor = conn.principal.actor
        meeting_id = payload.meeting_id
        with bound_context(meeting_id=meeting_id, actor=conn.key):
            async with self.transaction() as session:
                meeting, relations = await access.check_meeting(
                    session, actor, Action.MEETING_JOIN, meeting_id
                )
                if meeting.state == MeetingState.ENDED.value:
                    raise Conflict("the meeting has ended")
                if meeting.state == MeetingState.CANCELLED.value:
                    raise Conflict("the meeting was cancelled")
                unit = await session.get(Unit, actor.unit_id)  # loaded by the ancestor query
                recording = await recording_events.desk_of(self).current(session, meeting_id)
            await room_events.check_admission(self.presence, meeting, conn.key, relations)
            participant = Participant(
                key=conn.key,
                kind=actor.kind.value,
                id=actor.id,
                name=actor.name,
                unit_id=actor.unit_id,
                unit_name=unit.name if unit else "",
                role=actor.role.value if actor.role else None,
                meeting_role=_meeting_role(actor, meeting),
            )
            conn.meetings[meeting_id] = relations
            await self.sio.enter_room(conn.sid, meeting_room(meeting_id))
            grace = self._grace.pop((meeting_id, conn.key), None)
            if grace is not None:
                grace.cancel()
            if await self.presence.attach(meeting_id, participant, conn.sid):
                self.broadcaster.joined(meeting_id, participant)
            elif grace is not None:
                self.broadcaster.updated(meeting_id, participant)
            snapshot = await self.presence.snapshot(meeting_id)
            self.metrics.joins.inc()
            log.info("meeting.joined", participants=len(snapshot))
            return {
                "meeting": MeetingOut.model_validate(meeting).model_dump(mode="json"),
                "self": participant.as_dict(),
                "participants": snapshot,
                "ice_servers": self.ice_servers(conn.key),
                **room_events.join_state(self, actor, meeting, relations),
                "recording": recording,
            }

    async def _leave(self, conn: Connection, payload: LeavePayload) -> dict[str, Any]:
        await self._detach(conn, payload.meeting_id, grace=False)
        log.info("meeting.left", meeting_id=payload.meeting_id, actor=conn.key)
        return {}

    async def _detach(self, conn: Connection, meeting_id: int, grace: bool) -> None:
        conn.meetings.pop(meeting_id, None)
        await self.media.leave(meeting_id, conn.sid)
        if conn.sid in self.connections or not grace:
            await self.sio.leave_room(conn.sid, meeting_room(meeting_id))
        participant = await self.presence.get(meeting_id, conn.key)
        if not await self.presence.detach(meeting_id, conn.key, conn.sid):
            return
        if grace and self.grace_seconds > 0:
            if participant is not None:
                self.broadcaster.updated(meeting_id, replace(participant, connected=False))
            task = asyncio.create_task(self._expire(meeting_id, conn.key, participant))
            self._grace[(meeting_id, conn.key)] = task
            return
        if await self.presence.remove_if_disconnected(meeting_id, conn.key):
            self.broadcaster.left(meeting_id, participant or {"key": conn.key})

    async def _expire(self, meeting_id: int, key: str, participant: Participant | None) -> None:
        await asyncio.sleep(self.grace_seconds)
        self._grace.pop((meeting_id, key), None)
        if await self.presence.remove_if_disconnected(meeting_id, key):
            with bound_context(meeting_id=meeting_id, actor=key):
                log.info("meeting.grace_expired")
            self.broadcaster.left(meeting_id, participant or {"key": key})

    # ---- WebRTC negotiation with the SFU ------------------------------------------------

    async def _offer(self, conn: Connection, payload: RtcOffer) -> dict[str, Any]:
        if payload.to is not None:
            return await self._relay("rtc.offer")(conn, payload)
        relations = conn.meetings.get(payload.meeting_id, frozenset())
        return await self.media.offer(
            payload.meeting_id,
            conn.sid,
            conn.key,
            chair=Relation.CHAIR in relations,
            endpoint=conn.principal.actor.kind is ActorKind.ENDPOINT,
            sdp=payload.sdp,
            sources=dict(payload.sources or {}),
            restart=payload.restart,
        )

    async def _candidate(self, conn: Connection, payload: RtcCandidate) -> dict[str, Any]:
        if payload.to is not None:
            return await self._relay("rtc.candidate")(conn, payload)
        await self.media.candidate(
            payload.meeting_id, conn.sid, payload.candidate, payload.sdpMid, payload.sdpMLineIndex
        )
        return {}

    async def _view(self, conn: Connection, payload: MediaView) -> dict[str, Any]:
        return await self.media.view(payload.meeting_id, conn.sid, payload.mid, payload.max_height)

    async def _spotlight(self, conn: Connection, payload: MediaSpotlight) -> dict[str, Any]:
        await self.media.spotlight(payload.meeting_id, payload.participant)
        log.info("media.spotlight", meeting_id=payload.meeting_id, participant=payload.participant)
        return {}

    async def _page(self, conn: Connection, payload: MediaPage) -> dict[str, Any]:
        return await self.media.page(payload.meeting_id, conn.sid, payload.page)

    # ---- WebRTC negotiation relay -----------------------------------------------------

    def _relay(self, event: str):  # -> EventHandler
        async def relay(
            conn: Connection, payload: RtcOffer | RtcAnswer | RtcCandidate
        ) -> dict[str, Any]:
            if await self.presence.get(payload.meeting_id, payload.to) is None:
                raise NotFound("that participant is not in the meeting")
            body = payload.model_dump(exclude={"to", "sources"})
            body["from"] = conn.key
            await self.sio.emit(event, body, room=principal_room(payload.to))
            return {}

        return relay

    # ---- called by the REST side after commits ----------------------------------------

    async def meeting_event(self, meeting_id: int, event: str, data: dict[str, Any]) -> None:
        """Tell everyone in a meeting's room."""
        await self.sio.emit(event, data, room=meeting_room(meeting_id))

    async def meeting_started(self, meeting_id: int, data: dict[str, Any]) -> None:
        """The chair started the meeting."""
        self.metrics.live_meetings.inc()
        await self.meeting_event(meeting_id, "meeting.started", data)

    async def meeting_ended(self, meeting_id: int, data: dict[str, Any]) -> None:
        """The chair ended it: tell the room, close it, forget its presence."""
        self.metrics.live_meetings.dec()
        await self.meeting_event(meeting_id, "meeting.ended", data)
        await self._close_meeting(meeting_id)

    async def meeting_cancelled(self, meeting_id: int, data: dict[str, Any]) -> None:
        """A host cancelled it before it started: tell whoever waits in the room, close it."""
        await self.meeting_event(meeting_id, "meeting.cancelled", data)
        await self._close_meeting(meeting_id)

    async def _close_meeting(self, meeting_id: int) -> None:
        """Close the room: media, connections' memberships, grace timers and presence."""
        await recording_events.desk_of(self).meeting_closed(meeting_id)
        await self.media.end(meeting_id)
        room_events.controls_of(self).forget(meeting_id)
        for conn in self.connections.values():
            conn.meetings.pop(meeting_id, None)
        for (m, key), task in list(self._grace.items()):
            if m == meeting_id:
                task.cancel()
                self._grace.pop((m, key), None)
        await self.sio.close_room(meeting_room(meeting_id))
        await self.presence.clear(meeting_id)

    async def disconnect_principal(self, key: str) -> None:
        """Drop every connection of a principal whose credentials were revoked, in all processes."""
        if self.redis is not None:
            await self.redis.publish(
                self.control_channel, json.dumps({"op": "disconnect", "key": key})
            )
        else:
            await self._disconnect_local(key)

    async def _disconnect_local(self, key: str) -> None:
        for sid in [s for s, c in self.connections.items() if c.key == key]:
            await self.sio.emit("session.revoked", {"reason": "credentials revoked"}, to=sid)
            await self.sio.disconnect(sid)
            # Revoked is final: no grace period.
            for meeting_id in await self.presence.disconnected_meetings(key):
                if await self.presence.remove_if_disconnected(meeting_id, key):
                    self.broadcaster.left(meeting_id, {"key": key})
                task = self._grace.pop((meeting_id, key), None)
                if task:
                    task.cancel()

    async def _listen_control(self) -> None:
        assert self.redis is not None
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.control_channel)
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    command = json.loads(message["data"])
                    if command.get("op") == "disconnect":
                        await self._disconnect_local(str(command["key"]))
                except Exception:
                    log.exception("control.bad_message")
        finally:
            await pubsub.aclose()
