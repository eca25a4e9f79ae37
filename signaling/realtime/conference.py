"""Subscription policy: who receives which producer. Decided here, carried out by the Worker.

A briefing is not a grid of equals. Every endpoint receives the spotlight (the chair's
camera unless the chair spotlights someone else), the active speaker, and any screen share;
it hears the chair and the most recent speakers. The chair also receives the endpoints'
cameras, a page at a time, at the lowest simulcast layer. Receive slots are fixed m-sections
of the endpoint's peer connection; what a slot shows changes without renegotiation (the
consumer switches producer at a keyframe), and only a shortage of slots asks the endpoint to
offer again (``rtc.renegotiate``).

Audio is bounded the same way (chair + ``audio_slots - 1`` recent speakers) because 500
endpoints each receiving 499 audio streams is 250,000 streams; a speaker is heard as soon as
the detector picks them up (a few hundred ms), as in last-N systems.
"""

import asyncio
import itertools
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from media.worker import MediaError, Worker
from meetings.errors import DomainError, NotFound
from signaling.logs import get_logger
from signaling.realtime.broadcast import meeting_room

log = get_logger("phonghop.media")
Emit = Callable[[str, dict[str, Any], str], Awaitable[None]]


class MediaRefused(DomainError):
    """The media plane refused a request (bad SDP, unknown slot...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Member:
    """One connection's media in one meeting: its transport and its receive slots."""

    sid: str
    key: str  # participant key, as presence shows it
    chair: bool
    endpoint: bool
    transport_id: str
    slots: dict[str, str] = field(default_factory=dict)  # mid → kind, in m-line order
    assigned: dict[str, str | None] = field(default_factory=dict)  # mid → producer id
    heights: dict[str, int] = field(default_factory=dict)  # mid → height the policy wants
    views: dict[str, int] = field(default_factory=dict)  # mid → height the client displays
    page: int = 0
    asked: tuple[int, int] = (0, 0)  # slots last asked for with rtc.renegotiate


@dataclass(frozen=True)
class ProducerInfo:
    """A producer as the policy sees it."""

    id: str
    key: str
    sid: str
    kind: str
    source: str
    order: int


@dataclass
class TrackTap:
    """One producer's own track file while the meeting is recorded: a one-slot media tap."""

    tap_id: str
    producer: ProducerInfo
    name: str  # the file's name without suffix, in the recording's tracks directory
    offset_s: float  # where it starts on the recording's timeline


@dataclass
class RecorderTap:
    """The meeting's recorder: a media tap with a video slot and an audio slot per voice.

    With ``tracks_dir`` set, every producer is also recorded on its own (a tap per producer,
    from when it appears or the recording starts until it goes away or the recording stops).
    """

    tap_id: str
    tracks_dir: str | None = None
    started: float = field(default_factory=time.monotonic)
    assigned: dict[str, str | None] = field(default_factory=dict)  # mid → producer id
    tracks: dict[str, TrackTap] = field(default_factory=dict)  # producer id → its tap
    finished: list[dict[str, Any]] = field(default_factory=list)  # closed tracks' files
    opened: int = 0


def recorder_slots(audio_slots: int) -> dict[str, str]:
    """The recorder tap's slots: one video; audio "audio" (the floor) + the other voices."""
    return {
        "video": "video",
        "audio": "audio",
        **{f"audio{n}": "audio" for n in range(1, max(1, audio_slots))},
    }


@dataclass
class Conference:
    """The media state of one meeting in this process."""

    meeting_id: int
    router_id: str
    members: dict[str, Member] = field(default_factory=dict)
    producers: dict[str, ProducerInfo] = field(default_factory=dict)
    spotlight: str | None = None
    active: str | None = None
    speakers: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: asyncio.Task[None] | None = None
    recorder: RecorderTap | None = None

    def chair_key(self) -> str | None:
        """The chair's participant key, if the chair is connected."""
        return next((m.key for m in self.members.values() if m.chair), None)

    def producer_of(self, key: str | None, source: str) -> ProducerInfo | None:
        """The newest producer of ``source`` published by participant ``key``."""
        if key is None:
            return None
        found = [p for p in self.producers.values() if p.key == key and p.source == source]
        return max(found, key=lambda p: p.order) if found else None


def track_file_stem(key: str, source: str, n: int) -> str:
    """A track file's name without suffix: who, what, and a counter (``endpoint-3_camera_2``).

    Recovery after a crash reads who and what back from it (``parse_track_file_stem``).
    """
    return f"{re.sub(r'[^A-Za-z0-9]', '-', key)}_{re.sub(r'[^a-z]', '', source)}_{n}"


def parse_track_file_stem(stem: str) -> tuple[str, str] | None:
    """(participant key, source) of a track file's name, None if it is not one."""
    match = re.fullmatch(r"([a-z]+)-(\d+)_([a-z]+)_\d+", stem)
    if match is None:
        return None
    return f"{match[1]}:{match[2]}", match[3]


class ConferenceCoordinator:
    """Applies the subscription policy of every meeting through the media Worker."""

    def __init__(
        self,
        emit: Emit,
        worker: Worker | None = None,
        page_size: int = 9,
        audio_slots: int = 3,
        grid_height: int = 180,
    ) -> None:
        self.emit = emit
        self.worker = worker or Worker(self._notified)
        if worker is not None:
            worker.notify = self._notified
        self.page_size = page_size
        self.audio_slots = audio_slots
        self.grid_height = grid_height
        self.conferences: dict[int, Conference] = {}
        self._routers: dict[str, Conference] = {}
        self._order = itertools.count()

    async def close(self) -> None:
        """Close every peer connection."""
        for conference in self.conferences.values():
            if conference.pending is not None:
                conference.pending.cancel()
        await self.worker.close()
        self.conferences.clear()
        self._routers.clear()

    # ---- requests from the gateway ------------------------------------------------------

    async def offer(
        self,
        meeting_id: int,
        sid: str,
        key: str,
        chair: bool,
        endpoint: bool,
        sdp: str,
        sources: dict[str, str],
        restart: bool = False,
    ) -> dict[str, Any]:
        """Negotiate an endpoint's offer with the SFU; the ack carries the answer and slots.

        ``restart``: the offer comes from a new peer connection of the same connection (its
        ICE failed). aiortc cannot restart ICE on a transport, so the old transport is closed
        and the offer gets a new one.
        """
        conference = await self._conference(meeting_id)
        member = conference.members.get(sid)
        if member is not None and restart:
            await self._replace_transport(conference, member)
            member = None
        if member is None:
            # A restarted connection gets a new transport id: the old one's "closed"
            # notification must not remove the new member.
            transport_id = (
                f"{meeting_id}:{sid}" if not restart else f"{meeting_id}:{sid}:{next(self._order)}"
            )
            member = Member(sid, key, chair, endpoint, transport_id)
            await self._request(
                "transport.create",
                {"router_id": conference.router_id, "transport_id": member.transport_id},
            )
            conference.members[sid] = member
        result = await self._request(
            "transport.negotiate",
            {"transport_id": member.transport_id, "sdp": sdp, "sources": sources},
        )
        member.slots = {slot["mid"]: slot["kind"] for slot in result["slots"]}
        member.asked = (0, 0)
        # The offerer learns its slots from the ack; everyone else whose slots this pass
        # changes (a new camera lands on their grid) is told with media.slots.
        await self._apply(conference, quiet=sid)
        return {"type": "answer", "sdp": result["sdp"], "slots": self._describe(conference, member)}

    async def _replace_transport(self, conference: Conference, member: Member) -> None:
        conference.members.pop(member.sid, None)
        await self.worker.request("transport.close", {"transport_id": member.transport_id})

    async def candidate(
        self, meeting_id: int, sid: str, candidate: str | None, mid: str | None, index: int | None
    ) -> None:
        """A trickled ICE candidate for the endpoint's transport."""
        member = self._member(meeting_id, sid)
        await self._request(
            "transport.candidate",
            {
                "transport_id": member.transport_id,
                "candidate": candidate,
                "sdp_mid": mid,
                "sdp_mline_index": index,
            },
        )

    async def view(self, meeting_id: int, sid: str, mid: str, max_height: int) -> dict[str, Any]:
        """The client shows slot ``mid`` at ``max_height`` pixels: pick the layer for that."""
        member = self._member(meeting_id, sid)
        if mid not in member.slots:
            raise NotFound("no such receive slot")
        member.views[mid] = max_height
        return await self._request(
            "consumer.view",
            {
                "transport_id": member.transport_id,
                "mid": mid,
                "max_height": self._height(member, mid),
            },
        )

    async def spotlight(self, meeting_id: int, key: str | None) -> None:
        """Show participant ``key`` to everyone (None: the chair again)."""
        conference = self.conferences.get(meeting_id)
        if conference is None:
            raise NotFound("nobody in this meeting has media yet")
        if key is not None and not any(m.key == key for m in conference.members.values()):
            raise NotFound("that participant has no media in this meeting")
        conference.spotlight = key
        await self.emit(
            "media.spotlight",
            {"meeting_id": meeting_id, "participant": key},
            meeting_room(meeting_id),
        )
        await self._apply(conference)

    async def page(self, meeting_id: int, sid: str, page: int) -> dict[str, Any]:
        """The chair moves the grid of endpoint cameras to ``page``."""
        conference = self.conferences.get(meeting_id)
        member = self._member(meeting_id, sid)
        member.page = page
        assert conference is not None
        await self._apply(conference)
        pages = max(1, -(-len(self._grid_keys(conference, member)) // self.page_size))
        return {"page": page, "pages": pages}

    async def leave(self, meeting_id: int, sid: str) -> None:
        """The connection left the meeting (or went away): close its transport."""
        conference = self.conferences.get(meeting_id)
        if conference is None:
            return
        member = conference.members.pop(sid, None)
        if member is not None:
            await self.worker.request("transport.close", {"transport_id": member.transport_id})
        if not conference.members and conference.recorder is None:
            await self.end(meeting_id)
        else:
            self._schedule(conference)

    async def start_recording(
        self, meeting_id: int, tap_id: str, path: str, tracks_dir: str | None = None
    ) -> None:
        """Attach a recorder to the meeting's router, writing to ``path`` (without suffix).

        What it records follows the policy (``recorded``) at every change, as the endpoints'
        slots do. The meeting's router stays open while it records, even with nobody in it.
        ``tracks_dir``: also write each producer to its own file there.
        """
        conference = await self._conference(meeting_id)
        if conference.recorder is not None:
            raise MediaRefused("conflict", "this meeting is already being recorded")
        await self._request(
            "tap.create",
            {
                "router_id": conference.router_id,
                "tap_id": tap_id,
                "slots": recorder_slots(self.audio_slots),
                "sink": {"path": path},
            },
        )
        conference.recorder = RecorderTap(tap_id, tracks_dir)
        await self._apply(conference)

    async def stop_recording(self, meeting_id: int) -> dict[str, Any] | None:
        """Detach the recorder and let it finish its files; what it wrote (None: none ran).

        The main file's summary, with ``tracks``: the per-producer files, if configured.
        """
        conference = self.conferences.get(meeting_id)
        if conference is None or conference.recorder is None:
            return None
        recorder = conference.recorder
        async with conference.lock:  # not while a policy pass opens or closes a track
            conference.recorder = None
        summary = await self._request("tap.close", {"tap_id": recorder.tap_id})
        for track in list(recorder.tracks.values()):
            await self._close_track(recorder, track)
        recorder.tracks.clear()
        summary["tracks"] = recorder.finished
        if not conference.members:
            await self.end(meeting_id)
        return summary

    def recording(self, meeting_id: int) -> bool:
        """Whether this process records the meeting now."""
        conference = self.conferences.get(meeting_id)
        return conference is not None and conference.recorder is not None

    async def end(self, meeting_id: int) -> None:
        """The meeting ended: close its router and every transport in it."""
        conference = self.conferences.pop(meeting_id, None)
        if conference is None:
            return
        self._routers.pop(conference.router_id, None)
        if conference.pending is not None:
            conference.pending.cancel()
        await self.worker.request("router.close", {"router_id": conference.router_id})

    # ---- notifications from the Worker --------------------------------------------------

    def _notified(self, event: str, data: dict[str, Any]) -> None:
        conference = self._routers.get(str(data.get("router_id")))
        if conference is None:
            return
        if event == "producer.added":
            member = next(
                (m for m in conference.members.values() if m.transport_id == data["transport_id"]),
                None,
            )
            if member is None:
                return
            info = ProducerInfo(
                data["producer_id"],
                member.key,
                member.sid,
                data["kind"],
                data["source"],
                next(self._order),
            )
            conference.producers[info.id] = info
        elif event == "producer.removed":
            conference.producers.pop(data["producer_id"], None)
        elif event == "speaker.active":
            info = conference.producers.get(data.get("producer_id") or "")
            key = info.key if info is not None else None
            if key == conference.active:
                return
            conference.active = key
            if key is not None:
                if key in conference.speakers:
                    conference.speakers.remove(key)
                conference.speakers.appendleft(key)
            asyncio.get_running_loop().create_task(
                self.emit(
                    "speaker.active",
                    {"meeting_id": conference.meeting_id, "participant": key},
                    meeting_room(conference.meeting_id),
                )
            )
        elif event == "transport.closed":
            for sid, member in list(conference.members.items()):
                if member.transport_id == data["transport_id"]:
                    del conference.members[sid]
        self._schedule(conference)

    def _schedule(self, conference: Conference) -> None:
        """Coalesce a burst of changes (a mass join) into one policy pass."""
        if conference.pending is None or conference.pending.done():
            conference.pending = asyncio.get_running_loop().create_task(
                self._apply_soon(conference)
            )

    async def _apply_soon(self, conference: Conference) -> None:
        await asyncio.sleep(0)
        try:
            await self._apply(conference)
        except Exception:
            log.exception("media.policy_failed", meeting_id=conference.meeting_id)

    # ---- the policy -----------------------------------------------------------------------

    def _grid_keys(self, conference: Conference, member: Member) -> list[str]:
        keys = {
            p.key
            for p in conference.producers.values()
            if p.source == "camera" and p.key != member.key and self._is_endpoint(conference, p.key)
        }
        return sorted(keys)

    def _is_endpoint(self, conference: Conference, key: str) -> bool:
        return key.startswith("endpoint:")

    def desired(self, conference: Conference, member: Member) -> dict[str, list[tuple[str, int]]]:
        """What ``member`` should receive: (producer id, height wanted; 0 = full) per kind."""
        chair = conference.chair_key()
        audio: list[tuple[str, int]] = []
        for key in [chair, *conference.speakers]:
            if key is None or key == member.key:
                continue
            info = conference.producer_of(key, "microphone")
            if info is not None and all(info.id != pid for pid, _ in audio):
                audio.append((info.id, 0))
            if len(audio) >= self.audio_slots:
                break
        video: list[tuple[str, int]] = []
        screens = sorted(
            (
                p
                for p in conference.producers.values()
                if p.source == "screen" and p.key != member.key
            ),
            key=lambda p: -p.order,
        )
        video.extend((p.id, 0) for p in screens[:1])
        for key in (conference.spotlight or chair, conference.active):
            if key is None or key == member.key:
                continue
            info = conference.producer_of(key, "camera")
            if info is not None and all(info.id != pid for pid, _ in video):
                video.append((info.id, 0))
        if member.chair:
            grid = self._grid_keys(conference, member)
            start = member.page * self.page_size
            for key in grid[start : start + self.page_size]:
                info = conference.producer_of(key, "camera")
                if info is not None and all(info.id != pid for pid, _ in video):
                    video.append((info.id, self.grid_height))
        return {"audio": audio, "video": video}

    def recorded(
        self, conference: Conference, current: dict[str, str | None] | None = None
    ) -> dict[str, str | None]:
        """What the recorder records: producer id per slot (None: nothing now).

        Video is what everyone's main picture shows (a screen share, else whoever the chair
        put on air, else the chair, else the active speaker). Audio is what the room hears,
        never mixed (mixing means decoding and encoding): slot "audio", the file's first
        track, which players play, follows the floor (the active speaker, else the chair);
        the other audio slots carry the other voices endpoints hear (the chair and the most
        recent speakers), each staying in its track while it is heard (``current``: the
        slots' producers now), so that every voice of the meeting is in the file.
        """
        screens = [p for p in conference.producers.values() if p.source == "screen"]
        video = max(screens, key=lambda p: p.order) if screens else None
        for key in (conference.spotlight or conference.chair_key(), conference.active):
            if video is None:
                video = conference.producer_of(key, "camera")
        floor = None
        for key in (conference.active, conference.chair_key(), *conference.speakers):
            if floor is None:
                floor = conference.producer_of(key, "microphone")
        out: dict[str, str | None] = {
            "video": video.id if video else None,
            "audio": floor.id if floor else None,
        }
        voices: list[str] = []
        for key in (conference.chair_key(), *conference.speakers):
            info = conference.producer_of(key, "microphone")
            if info is not None and info is not floor and info.id not in voices:
                voices.append(info.id)
            if len(voices) >= self.audio_slots - 1:
                break
        others = [mid for mid in recorder_slots(self.audio_slots) if mid.startswith("audio")][1:]
        kept = {mid: (current or {}).get(mid) for mid in others}
        for mid in others:
            if kept[mid] in voices:
                out[mid] = kept[mid]
                voices.remove(kept[mid])  # type: ignore[arg-type]
            else:
                out[mid] = None
        for mid in others:
            if out[mid] is None and voices:
                out[mid] = voices.pop(0)
        return out

    async def _apply(self, conference: Conference, quiet: str | None = None) -> None:
        async with conference.lock:
            for member in list(conference.members.values()):
                if member.sid in conference.members:
                    await self._apply_member(conference, member, member.sid != quiet)
            if conference.recorder is not None:
                await self._apply_recorder(conference, conference.recorder)

    async def _apply_recorder(self, conference: Conference, recorder: RecorderTap) -> None:
        for mid, producer_id in self.recorded(conference, recorder.assigned).items():
            if recorder.assigned.get(mid, "") == producer_id:
                continue
            try:
                await self.worker.request(
                    "tap.assign",
                    {"tap_id": recorder.tap_id, "mid": mid, "producer_id": producer_id},
                )
            except MediaError as exc:  # the producer went away meanwhile: next pass fixes it
                log.info("media.record_assign_skipped", reason=exc.message)
                producer_id = None
            recorder.assigned[mid] = producer_id
        if recorder.tracks_dir is None:
            return
        for producer_id, track in list(recorder.tracks.items()):
            if producer_id not in conference.producers:
                del recorder.tracks[producer_id]
                await self._close_track(recorder, track)
        for info in list(conference.producers.values()):
            if info.id not in recorder.tracks:
                await self._open_track(recorder, conference.router_id, info)

    async def _open_track(self, recorder: RecorderTap, router_id: str, info: ProducerInfo) -> None:
        """Start ``info``'s own track file: a tap with one slot, fixed on that producer."""
        assert recorder.tracks_dir is not None
        recorder.opened += 1
        track = TrackTap(
            f"{recorder.tap_id}-track-{recorder.opened}",
            info,
            track_file_stem(info.key, info.source, recorder.opened),
            round(time.monotonic() - recorder.started, 3),
        )
        try:
            await self._request(
                "tap.create",
                {
                    "router_id": router_id,
                    "tap_id": track.tap_id,
                    "slots": {info.kind: info.kind},
                    "sink": {"path": f"{recorder.tracks_dir}/{track.name}"},
                },
            )
        except MediaRefused as exc:
            log.warning("media.record_track_failed", producer=info.id, reason=exc.message)
            return
        recorder.tracks[info.id] = track
        try:
            await self.worker.request(
                "tap.assign", {"tap_id": track.tap_id, "mid": info.kind, "producer_id": info.id}
            )
        except MediaError as exc:  # gone meanwhile: the next pass closes the track
            log.info("media.record_track_skipped", producer=info.id, reason=exc.message)

    async def _close_track(self, recorder: RecorderTap, track: TrackTap) -> None:
        """Finish a producer's track file and keep what it holds for the recording's row."""
        try:
            summary = await self._request("tap.close", {"tap_id": track.tap_id})
        except MediaRefused as exc:
            log.warning("media.record_track_close_failed", tap=track.tap_id, reason=exc.message)
            return
        if not summary.get("path"):
            return  # the producer sent nothing while recorded: no file
        recorder.finished.append(
            {
                **summary,
                "participant": track.producer.key,
                "source": track.producer.source,
                "kind": track.producer.kind,
                "offset_s": track.offset_s,
            }
        )

    async def _apply_member(self, conference: Conference, member: Member, announce: bool) -> None:
        wanted = self.desired(conference, member)
        assigned: dict[str, str | None] = {}
        heights: dict[str, int] = {}
        shortfall = {"audio": 0, "video": 0}
        for kind, want in wanted.items():
            mids = [mid for mid, k in member.slots.items() if k == kind]
            want_height = dict(want)
            placed: set[str] = set()
            for mid in mids:  # a producer stays on the slot it is on: no needless switches
                current = member.assigned.get(mid)
                if current is not None and current in want_height and current not in placed:
                    assigned[mid] = current
                    placed.add(current)
            free = [mid for mid in mids if mid not in assigned]
            for producer_id, _ in want:
                if producer_id in placed:
                    continue
                if not free:
                    shortfall[kind] += 1
                    continue
                assigned[free.pop(0)] = producer_id
                placed.add(producer_id)
            for mid in free:
                assigned[mid] = None
            for mid, producer_id in assigned.items():
                if producer_id is not None and member.slots[mid] == kind:
                    heights[mid] = want_height[producer_id]
        changed = False
        for mid, producer_id in assigned.items():
            if member.assigned.get(mid, None) != producer_id or mid not in member.assigned:
                changed = True
                try:
                    await self.worker.request(
                        "consumer.assign",
                        {
                            "transport_id": member.transport_id,
                            "mid": mid,
                            "producer_id": producer_id,
                        },
                    )
                except MediaError as exc:  # the producer went away meanwhile: next pass fixes it
                    log.info("media.assign_skipped", reason=exc.message)
                    producer_id = None
                member.assigned[mid] = producer_id
            if producer_id is not None and heights.get(mid) != member.heights.get(mid):
                member.heights[mid] = heights[mid]
                await self.worker.request(
                    "consumer.view",
                    {
                        "transport_id": member.transport_id,
                        "mid": mid,
                        "max_height": self._height(member, mid),
                    },
                )
        if any(shortfall.values()):
            have = {k: sum(1 for v in member.slots.values() if v == k) for k in ("audio", "video")}
            need = (have["audio"] + shortfall["audio"], have["video"] + shortfall["video"])
            if need != member.asked:
                member.asked = need
                await self.emit(
                    "rtc.renegotiate",
                    {"meeting_id": conference.meeting_id, "audio": need[0], "video": need[1]},
                    member.sid,
                )
        if changed and announce:
            await self.emit(
                "media.slots",
                {"meeting_id": conference.meeting_id, "slots": self._describe(conference, member)},
                member.sid,
            )

    def _height(self, member: Member, mid: str) -> int:
        wanted = [h for h in (member.heights.get(mid, 0), member.views.get(mid, 0)) if h]
        return min(wanted) if wanted else 0

    def _describe(self, conference: Conference, member: Member) -> list[dict[str, Any]]:
        slots = []
        for mid, kind in member.slots.items():
            info = conference.producers.get(member.assigned.get(mid) or "")
            slots.append(
                {
                    "mid": mid,
                    "kind": kind,
                    "producer_id": info.id if info else None,
                    "participant": info.key if info else None,
                    "source": info.source if info else None,
                }
            )
        return slots

    # ---- helpers ----------------------------------------------------------------------------

    async def _conference(self, meeting_id: int) -> Conference:
        conference = self.conferences.get(meeting_id)
        if conference is None:
            conference = Conference(meeting_id, f"meeting-{meeting_id}")
            await self._request("router.create", {"router_id": conference.router_id})
            self.conferences[meeting_id] = conference
            self._routers[conference.router_id] = conference
        return conference

    def _member(self, meeting_id: int, sid: str) -> Member:
        conference = self.conferences.get(meeting_id)
        member = conference.members.get(sid) if conference is not None else None
        if member is None:
            raise NotFound("send an offer to the SFU first")
        return member

    async def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.worker.request(method, params)
        except MediaError as exc:
            raise MediaRefused(exc.code, exc.message) from exc
