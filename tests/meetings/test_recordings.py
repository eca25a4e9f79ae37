"""Recordings in the domain: who starts and stops them, the stored figures and timeline,
recovery after a crash, who may watch, deletion and retention, and the archive's manifest.

Every test runs on SQLite and on PostgreSQL (``tests/meetings/conftest.py``).
"""

import asyncio
import hashlib
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from meetings import agenda, audit, db, recordings, speakers
from meetings.audit import AuditEntry
from meetings.clock import utcnow
from meetings.documents.storage import BlobStore
from meetings.errors import Conflict, Forbidden, InvalidInput, NotFound
from meetings.minutes import archive
from meetings.models import AgendaItem, Meeting, MeetingState
from meetings.proceedings_models import SpeakerRequest
from meetings.recording_models import Recording, RecordingState
from meetings.voting import service as voting
from meetings.voting.models import Poll, PollKind
from meetings.voting.rules import Majority
from signaling import housekeeping
from tests.meetings.proceedings_support import add_meeting, audit_actions, snapshot
from tests.meetings.test_minutes import approved_meeting, config_for

SHA = "ab" * 32
WEBM = ("webm", "video/webm")
_M = Majority.SIMPLE_CAST
_SECOND = timedelta(seconds=1)


async def _begin(sessions, org, meeting_id: int, who: str = "chair") -> Recording:
    async with sessions() as s:
        return await recordings.begin(s, meeting_id, org.actor(who), *WEBM)


async def _finish(sessions, org, recording_id: int, who: str | None = "chair", **kw) -> Recording:
    figures = {"size": 7_340_032, "duration_s": 61.5, "sha256": SHA, **kw}
    async with sessions() as s:
        actor = org.actor(who) if who else None
        return await recordings.finish(s, recording_id, actor, **figures)


async def _audit(sessions, meeting_id: int, action: str) -> list[AuditEntry]:
    async with sessions() as s:
        query = (
            select(AuditEntry)
            .where(AuditEntry.chain == f"meeting:{meeting_id}", AuditEntry.action == action)
            .order_by(col(AuditEntry.seq))
        )
        return list((await s.exec(query)).all())


async def _chains_verify(sessions) -> None:
    async with sessions() as s:
        reports = await audit.verify(s)
    assert reports and all(r.ok for r in reports), [r.problems for r in reports]


async def _insert(sessions, meeting_id: int, **fields) -> Recording:
    """A recording row as an earlier run of the server left it (for ages the clock can't make)."""
    async with db.transaction(sessions) as s:
        row = Recording(
            meeting_id=meeting_id,
            started_by="account:1",
            file_name="",
            container="webm",
            media_type="video/webm",
            **fields,
        )
        s.add(row)
        await s.flush()
        row.file_name = recordings.file_name_for(meeting_id, row.id or 0, "webm")
    return row


# ---- starting ------------------------------------------------------------------------------


async def test_only_the_chair_of_a_live_meeting_starts_one_recording(sessions, org):
    meeting = await add_meeting(sessions, org)
    mid = meeting.id or 0
    scheduled = await add_meeting(sessions, org, MeetingState.SCHEDULED)
    ended = await add_meeting(sessions, org, MeetingState.ENDED)
    before = await snapshot(sessions)
    for who in ("delegate", "secretary", "admin", "outsider", "thanhson"):
        with pytest.raises(Forbidden):
            await _begin(sessions, org, mid, who)
    with pytest.raises(NotFound):
        await _begin(sessions, org, 4242)
    for other in (scheduled, ended):
        with pytest.raises(Conflict, match="live meeting"):
            await _begin(sessions, org, other.id or 0)
    async with sessions() as s:
        with pytest.raises(InvalidInput):
            await recordings.begin(s, mid, org.actor("chair"), "avi", "video/x-msvideo")
        with pytest.raises(InvalidInput):
            await recordings.begin(s, mid, org.actor("chair"), "webm", "text/html")
    assert await snapshot(sessions) == before

    recording = await _begin(sessions, org, mid)
    assert recording.state == RecordingState.RECORDING
    assert recording.file_name == f"recordings/meeting-{mid}/{recording.id}.webm"
    assert recording.started_by == org.actor("chair").key
    assert (recording.container, recording.media_type) == WEBM
    assert recording.size is None and recording.ended_at is None and recording.timeline_json is None
    async with sessions() as s:  # committed: another session sees it
        assert (await recordings.active(s, mid)).id == recording.id
        assert [r.id for r in await recordings.unfinished(s)] == [recording.id]
        assert await recordings.active(s, scheduled.id or 0) is None

    before = await snapshot(sessions)
    with pytest.raises(Conflict, match="already being recorded"):
        await _begin(sessions, org, mid)
    assert await snapshot(sessions) == before
    started = await _audit(sessions, mid, "recording.started")
    assert len(started) == 1 and started[0].actor == org.actor("chair").key
    assert json.loads(started[0].after_json)["file_name"] == recording.file_name
    await _chains_verify(sessions)


async def test_two_simultaneous_starts_make_one_recording(sessions, org):
    mid = (await add_meeting(sessions, org)).id or 0
    outcomes = await asyncio.gather(
        *(_begin(sessions, org, mid) for _ in range(3)), return_exceptions=True
    )
    started = [o for o in outcomes if isinstance(o, Recording)]
    assert len(started) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o not in started)
    async with sessions() as s:
        rows = (await s.exec(select(Recording).where(Recording.meeting_id == mid))).all()
    assert [r.id for r in rows] == [started[0].id]
    assert await audit_actions(sessions, mid) == ["recording.started"]


async def test_the_database_allows_one_recording_in_progress_per_meeting(sessions, org):
    """The partial unique index holds even for rows written past the service."""
    mid = (await add_meeting(sessions, org)).id or 0
    other = (await add_meeting(sessions, org)).id or 0
    await _insert(sessions, mid)
    with pytest.raises(IntegrityError):
        await _insert(sessions, mid)
    await _insert(sessions, mid, state=RecordingState.READY.value)  # finished ones: any number
    await _insert(sessions, mid, state=RecordingState.READY.value)
    await _insert(sessions, other)  # another meeting records too
    async with sessions() as s:
        states = (await s.exec(select(Recording.state).where(Recording.meeting_id == mid))).all()
    assert sorted(states) == ["ready", "ready", "recording"]


# ---- stopping and the timeline ----------------------------------------------------------------


async def test_stopping_stores_the_figures_and_the_timeline_of_what_happened(sessions, org):
    meeting = await add_meeting(sessions, org)
    mid = meeting.id or 0
    chair, delegate = org.actor("chair"), org.actor("delegate")
    async with db.transaction(sessions) as s:
        first = await agenda.create_item(s, chair, meeting, title="Báo cáo kinh tế - xã hội")
        second = await agenda.create_item(s, chair, meeting, title="Đầu tư công")
        sub = await agenda.create_item(
            s, chair, meeting, title="Dự án đường tỉnh 342", parent_id=second.id
        )
        early = await voting.create_poll(
            s, chair, meeting, voting.PollSpec("Biểu quyết trước", PollKind.YES_NO_ABSTAIN, _M)
        )
    async with db.transaction(sessions) as s:
        await agenda.next_item(s, chair, meeting)  # item 1 is current before the recording
        await voting.open_poll(s, chair, meeting, early)
    async with db.transaction(sessions) as s:
        await voting.close_poll(s, chair, meeting, early)  # over before the recording: left out

    recording = await _begin(sessions, org, mid)

    async with db.transaction(sessions) as s:
        request = await speakers.request_to_speak(s, delegate, meeting, topic="Giải ngân")
    async with db.transaction(sessions) as s:
        await speakers.grant(s, chair, meeting, request.id or 0)
    async with db.transaction(sessions) as s:
        poll = await voting.create_poll(
            s,
            chair,
            meeting,
            voting.PollSpec(
                "Thông qua báo cáo", PollKind.YES_NO_ABSTAIN, _M, agenda_item_id=first.id
            ),
        )
    async with db.transaction(sessions) as s:
        await voting.open_poll(s, chair, meeting, poll)
    async with db.transaction(sessions) as s:
        await voting.close_poll(s, chair, meeting, poll)
    async with db.transaction(sessions) as s:
        await agenda.next_item(s, chair, meeting)  # → 2
    async with db.transaction(sessions) as s:
        await agenda.next_item(s, chair, meeting)  # → 2.1

    before = await snapshot(sessions)
    for who in ("delegate", "secretary", "admin"):  # only the chair (or the system) stops it
        with pytest.raises(Forbidden):
            await _finish(sessions, org, recording.id or 0, who)
    with pytest.raises(InvalidInput):
        await _finish(sessions, org, recording.id or 0, sha256="not a hash")
    with pytest.raises(InvalidInput):
        await _finish(sessions, org, recording.id or 0, duration_s=-1.0)
    with pytest.raises(InvalidInput):
        await _finish(sessions, org, recording.id or 0, ended_at=recording.started_at - _SECOND)
    assert await snapshot(sessions) == before
    finished = await _finish(sessions, org, recording.id or 0)

    async with db.transaction(sessions) as s:  # after the recording: not in its timeline
        await agenda.next_item(s, chair, meeting)

    async with sessions() as s:
        stored = await s.get(Recording, recording.id)
        items = {i.id: i for i in (await s.exec(select(AgendaItem))).all()}
        speech = await s.get(SpeakerRequest, request.id)
        closed = await s.get(Poll, poll.id)
    assert stored.state == RecordingState.READY
    assert (stored.size, stored.duration_s, stored.sha256) == (7_340_032, 61.5, SHA)
    assert stored.stopped_by == chair.key and stored.ended_at >= stored.started_at
    start = stored.started_at

    def at(when) -> float:
        return round((when - start).total_seconds(), 1)

    expected = [
        {"at": 0.0, "kind": "agenda", "agenda_item_id": first.id, "number": "1"}
        | {"title": "Báo cáo kinh tế - xã hội"},
        {"at": at(speech.granted_at), "kind": "speaker", "speaker": delegate.key}
        | {"name": delegate.name, "request_id": request.id, "agenda_item_id": first.id},
        {"at": at(closed.opened_at), "kind": "poll_opened", "poll_id": poll.id}
        | {"title": "Thông qua báo cáo", "agenda_item_id": first.id},
        {"at": at(closed.closed_at), "kind": "poll_closed", "poll_id": poll.id}
        | {"title": "Thông qua báo cáo", "agenda_item_id": first.id, "outcome": closed.outcome},
        {"at": at(items[second.id].started_at), "kind": "agenda", "agenda_item_id": second.id}
        | {"number": "2", "title": "Đầu tư công"},
        {"at": at(items[sub.id].started_at), "kind": "agenda", "agenda_item_id": sub.id}
        | {"number": "2.1", "title": "Dự án đường tỉnh 342"},
    ]
    assert recordings.saved_timeline(stored) == expected
    assert stored.timeline_json == audit.canonical_json(expected)
    assert finished.timeline_json == stored.timeline_json
    offsets = [event["at"] for event in expected]
    assert offsets == sorted(offsets) and offsets[0] == 0.0

    before = await snapshot(sessions)
    with pytest.raises(Conflict, match="cannot be stopped"):  # stopped already
        await _finish(sessions, org, recording.id or 0)
    assert await snapshot(sessions) == before
    stopped = await _audit(sessions, mid, "recording.stopped")
    assert [e.actor for e in stopped] == [chair.key]
    assert json.loads(stopped[0].after_json)["sha256"] == SHA
    async with sessions() as s:
        assert await recordings.active(s, mid) is None
    await _chains_verify(sessions)


async def test_the_timeline_offsets_and_what_falls_inside_the_recording(sessions, org):
    """Known times: offsets in seconds to one decimal; the state at the start is at 0.0."""
    meeting = await add_meeting(sessions, org)
    mid = meeting.id or 0
    t0 = utcnow() - timedelta(hours=2)

    def t(seconds: float):
        return t0 + timedelta(seconds=seconds)

    async with db.transaction(sessions) as s:
        rows = {
            "before": AgendaItem(
                meeting_id=mid, position=0, title="Khai mạc", state="done", started_at=t(-600)
            ),
            "spanning": AgendaItem(
                meeting_id=mid, position=1, title="Báo cáo", state="done", started_at=t(-60)
            ),
            "inside": AgendaItem(
                meeting_id=mid, position=2, title="Thảo luận", state="done", started_at=t(125.26)
            ),
            "after": AgendaItem(
                meeting_id=mid, position=3, title="Bế mạc", state="current", started_at=t(900)
            ),
        }
        rows["before"].ended_at = t(-60)
        rows["spanning"].ended_at = t(125.26)
        rows["inside"].ended_at = t(900)
        s.add_all(rows.values())
        await s.flush()
        delegate = org.accounts["delegate"]
        speech = SpeakerRequest(
            meeting_id=mid,
            speaker_key=f"account:{delegate.id}",
            account_id=delegate.id,
            unit_id=delegate.unit_id,
            speaker_name=delegate.full_name,
            state="done",
            granted_at=t(-5),
            ended_at=t(42.04),
        )
        vote = Poll(
            meeting_id=mid,
            title="Thông qua",
            kind="yes_no_abstain",
            majority="simple_cast",
            created_by="account:1",
            state="closed",
            opened_at=t(300.05),
            closed_at=t(360.0),
            outcome="passed",
        )
        late = Poll(
            meeting_id=mid,
            title="Sau khi dừng",
            kind="yes_no_abstain",
            majority="simple_cast",
            created_by="account:1",
            state="closed",
            opened_at=t(599.0),
            closed_at=t(601.0),
            outcome="rejected",
        )
        s.add_all([speech, vote, late])
    recording = await _insert(sessions, mid, state="ready", started_at=t0, ended_at=t(600))
    async with sessions() as s:
        events = await recordings.timeline(s, recording)
    items = {k: v.id for k, v in rows.items()}
    assert events == [
        {"at": 0.0, "kind": "agenda", "agenda_item_id": items["spanning"]}
        | {"number": "2", "title": "Báo cáo"},
        {"at": 0.0, "kind": "speaker", "speaker": f"account:{delegate.id}"}
        | {"name": delegate.full_name, "request_id": speech.id, "agenda_item_id": None},
        {"at": 125.3, "kind": "agenda", "agenda_item_id": items["inside"]}
        | {"number": "3", "title": "Thảo luận"},
        {"at": 300.1, "kind": "poll_opened", "poll_id": vote.id}
        | {"title": "Thông qua", "agenda_item_id": None},
        {"at": 360.0, "kind": "poll_closed", "poll_id": vote.id}
        | {"title": "Thông qua", "agenda_item_id": None, "outcome": "passed"},
        {"at": 599.0, "kind": "poll_opened", "poll_id": late.id}
        | {"title": "Sau khi dừng", "agenda_item_id": None},
    ]


# ---- crash recovery and failure ----------------------------------------------------------------


async def test_a_recording_left_by_a_crash_is_recovered_as_interrupted(sessions, org):
    mid = (await add_meeting(sessions, org)).id or 0
    recording = await _begin(sessions, org, mid)
    async with sessions() as s:  # what a restart finds
        left = await recordings.unfinished(s)
    assert [r.id for r in left] == [recording.id]
    file_ends = recording.started_at + timedelta(seconds=42.5)
    recovered = await _finish(
        sessions,
        org,
        recording.id or 0,
        None,
        size=1_000_000,
        duration_s=42.5,
        state=RecordingState.INTERRUPTED,
        ended_at=file_ends,
        container="mp4",
        media_type="video/mp4; codecs=avc1.42E01F,opus",
    )
    assert recovered.state == RecordingState.INTERRUPTED
    assert (recovered.ended_at, recovered.stopped_by) == (file_ends, "system")
    assert recovered.file_name == f"recordings/meeting-{mid}/{recording.id}.mp4"
    assert recovered.media_type == "video/mp4; codecs=avc1.42E01F,opus"
    assert recordings.saved_timeline(recovered) == []
    async with sessions() as s:
        assert await recordings.unfinished(s) == []
        assert await recordings.active(s, mid) is None
    entries = await _audit(sessions, mid, "recording.interrupted")
    assert [e.actor for e in entries] == ["system"]
    assert await _audit(sessions, mid, "recording.stopped") == []
    with pytest.raises(InvalidInput):  # finishing means ready or interrupted, nothing else
        await _finish(sessions, org, recording.id or 0, state=RecordingState.FAILED)
    await _chains_verify(sessions)


async def test_a_recording_that_failed_is_marked_and_another_can_start(sessions, org):
    mid = (await add_meeting(sessions, org)).id or 0
    recording = await _begin(sessions, org, mid)
    async with sessions() as s:
        failed = await recordings.fail(s, recording.id or 0, "  no media worker  ")
    assert failed.state == RecordingState.FAILED and failed.ended_at is not None
    assert failed.stopped_by == "system"
    entry = (await _audit(sessions, mid, "recording.failed"))[0]
    assert entry.actor == "system" and json.loads(entry.after_json)["reason"] == "no media worker"
    before = await snapshot(sessions)
    async with sessions() as s:
        with pytest.raises(Conflict, match="is failed"):
            await recordings.fail(s, recording.id or 0, "again")
    with pytest.raises(Conflict, match="cannot be stopped"):
        await _finish(sessions, org, recording.id or 0)
    assert await snapshot(sessions) == before
    again = await _begin(sessions, org, mid)
    assert again.id != recording.id and again.state == RecordingState.RECORDING
    await _chains_verify(sessions)


# ---- who may watch ---------------------------------------------------------------------------


async def test_members_and_administrators_see_recordings_others_do_not(sessions, org):
    meeting = await add_meeting(sessions, org)
    other = await add_meeting(sessions, org)
    mid = meeting.id or 0
    done = await _begin(sessions, org, mid)
    await _finish(sessions, org, done.id or 0)
    gone = await _begin(sessions, org, mid)
    await _finish(sessions, org, gone.id or 0)
    async with sessions() as s:
        await recordings.delete(s, gone.id or 0, org.actor("admin"), recordings.REASON_ADMIN)
    live = await _begin(sessions, org, mid)
    # Invited directly (delegate), through the district (district_delegate, Thanh Sơn's room),
    # the hosts, and an administrator who is none of these.
    for who in ("chair", "secretary", "delegate", "district_delegate", "thanhson", "admin"):
        async with sessions() as s:
            seen = await recordings.list_for_meeting(s, mid, org.actor(who))
            assert [r.id for r in seen] == [done.id, live.id], who
            got = await recordings.get_for_viewer(s, done.id or 0, org.actor(who))
            assert got.sha256 == SHA
            assert (await recordings.get_for_viewer(s, done.id or 0, org.actor(who), mid)).id
    for who in ("outsider", "other_chair", "observer", "bacson"):
        async with sessions() as s:
            with pytest.raises(Forbidden):
                await recordings.list_for_meeting(s, mid, org.actor(who))
            with pytest.raises(Forbidden):
                await recordings.get_for_viewer(s, done.id or 0, org.actor(who))
            with pytest.raises(Forbidden):
                await recordings.get_for_viewer(s, done.id or 0, org.actor(who), mid)
    async with sessions() as s:
        admin = org.actor("admin")
        with pytest.raises(NotFound):
            await recordings.list_for_meeting(s, 4242, admin)
        for missing in (gone.id or 0, 4242):
            with pytest.raises(NotFound):
                await recordings.get_for_viewer(s, missing, admin)
        with pytest.raises(NotFound):  # a recording of another meeting, asked under this one
            await recordings.get_for_viewer(s, done.id or 0, admin, other.id)


# ---- deletion and retention -------------------------------------------------------------------


async def test_an_administrator_deletes_a_recording(sessions, org):
    mid = (await add_meeting(sessions, org)).id or 0
    recording = await _begin(sessions, org, mid)
    before = await snapshot(sessions)
    async with sessions() as s:
        with pytest.raises(Conflict, match="in progress"):
            await recordings.delete(s, recording.id or 0, org.actor("admin"), "admin")
    assert await snapshot(sessions) == before
    await _finish(sessions, org, recording.id or 0)
    before = await snapshot(sessions)
    for who in ("chair", "secretary", "delegate"):
        async with sessions() as s:
            with pytest.raises(Forbidden):
                await recordings.delete(s, recording.id or 0, org.actor(who), "admin")
    async with sessions() as s:
        with pytest.raises(InvalidInput):
            await recordings.delete(s, recording.id or 0, org.actor("admin"), "   ")
    assert await snapshot(sessions) == before
    async with sessions() as s:
        name = await recordings.delete(
            s, recording.id or 0, org.actor("admin"), recordings.REASON_ADMIN
        )
    assert name == recording.file_name
    async with sessions() as s:
        row = await s.get(Recording, recording.id)
        assert row.state == RecordingState.DELETED and row.deleted_at is not None
        with pytest.raises(NotFound):
            await recordings.delete(s, recording.id or 0, org.actor("admin"), "admin")
    entry = (await _audit(sessions, mid, "recording.deleted"))[0]
    assert entry.actor == org.actor("admin").key
    assert json.loads(entry.after_json)["reason"] == "admin"
    await _chains_verify(sessions)


async def test_retention_deletes_old_recordings_and_their_files_only(sessions, org, tmp_path):
    mid = (await add_meeting(sessions, org)).id or 0
    now = utcnow()
    days = timedelta(days=1)
    old = await _insert(
        sessions, mid, state="ready", started_at=now - 41 * days, ended_at=now - 40 * days
    )
    old_failed = await _insert(sessions, mid, state="failed", started_at=now - 35 * days)
    young = await _insert(
        sessions, mid, state="interrupted", started_at=now - 11 * days, ended_at=now - 10 * days
    )
    stuck = await _insert(sessions, mid, started_at=now - 50 * days)  # in progress: never purged
    data_dir = tmp_path / "data"
    for row in (old, young, stuck):
        path = recordings.recording_path(data_dir, row.file_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x1a\x45\xdf\xa3" + row.file_name.encode())
    async with sessions() as s:
        assert await recordings.expired(s, now, 0) == []  # 0: keep forever
        assert [r.id for r in await recordings.expired(s, now, 30)] == [old.id, old_failed.id]
    upkeep = housekeeping.RecordingUpkeep(data_dir, 30)
    removed = await housekeeping.purge_recordings(lambda: db.transaction(sessions), upkeep, now)
    assert removed == [old.file_name]  # the failed one had no file to remove
    assert not recordings.recording_path(data_dir, old.file_name).exists()
    for kept in (young, stuck):
        assert recordings.recording_path(data_dir, kept.file_name).is_file()
    async with sessions() as s:
        states = {r.id: r.state for r in (await s.exec(select(Recording))).all()}
    assert states == {
        old.id: "deleted",
        old_failed.id: "deleted",
        young.id: "interrupted",
        stuck.id: "recording",
    }
    entries = await _audit(sessions, mid, "recording.deleted")
    assert [(e.object_id, e.actor) for e in entries] == [
        (str(old.id), "system"),
        (str(old_failed.id), "system"),
    ]
    assert {json.loads(e.after_json)["reason"] for e in entries} == {"retention"}
    assert await housekeeping.purge_recordings(lambda: db.transaction(sessions), upkeep, now) == []
    await _chains_verify(sessions)


def test_file_names_stay_inside_the_recordings_directory(tmp_path):
    data_dir = tmp_path / "data"
    path = recordings.recording_path(data_dir, "recordings/meeting-3/5.webm")
    assert path == (data_dir / "recordings" / "meeting-3" / "5.webm").resolve()
    for bad in ("secret_key", "recordings/../secret_key", "/etc/passwd", "recordings"):
        with pytest.raises(ValueError):
            recordings.recording_path(data_dir, bad)
    assert recordings.remove_file(data_dir, "recordings/meeting-3/5.webm") is False
    track = recordings.track_path(
        data_dir, "recordings/meeting-3/5.webm", "account-2_camera_1.webm"
    )
    assert track == (data_dir / "recordings/meeting-3/5-tracks/account-2_camera_1.webm").resolve()
    for bad in ("../5.webm", "a/b.webm", ".webm", "x.txt", "x.webm/.."):
        with pytest.raises(ValueError):
            recordings.track_path(data_dir, "recordings/meeting-3/5.webm", bad)
    # Removing a recording removes its track files with it.
    path.parent.mkdir(parents=True)
    path.write_bytes(b"main")
    track.parent.mkdir()
    track.write_bytes(b"track")
    assert recordings.remove_file(data_dir, "recordings/meeting-3/5.webm") is True
    assert not path.exists() and not track.parent.exists()


async def test_track_files_are_stored_with_the_recording_and_bad_ones_refused(sessions, org):
    mid = (await add_meeting(sessions, org)).id or 0
    recording = await _begin(sessions, org, mid)
    track = {
        "name": "endpoint-4_microphone_2.webm",
        "participant": "endpoint:4",
        "source": "microphone",
        "kind": "audio",
        "offset_s": 12.3456,
        "size": 4096,
        "duration_s": 30.0,
        "sha256": "ab" * 32,
    }
    for bad in ({"name": "../../secret_key.webm"}, {"sha256": "nope"}, {"size": -1}):
        with pytest.raises(InvalidInput):
            await _finish(sessions, org, recording.id or 0, tracks=[{**track, **bad}])
    async with sessions() as s:
        row = await s.get(Recording, recording.id)
        assert row is not None and row.state == "recording" and row.tracks_json is None
    camera = {**track, "name": "account-2_camera_1.webm", "offset_s": 0.0, "kind": "video"}
    done = await _finish(sessions, org, recording.id or 0, tracks=[track, camera])
    assert [t["name"] for t in recordings.saved_tracks(done)] == [camera["name"], track["name"]]
    assert recordings.saved_tracks(done)[1]["offset_s"] == 12.346
    [stopped] = await _audit(sessions, mid, "recording.stopped")
    assert len(json.loads(stopped.after_json)["tracks"]) == 2


# ---- the archive -----------------------------------------------------------------------------


async def test_the_archive_manifest_lists_finished_recordings_with_their_hashes(
    sessions, org, tmp_path
):
    mid, _ = await approved_meeting(sessions, org, tmp_path, document_hashes=())
    async with sessions() as s:
        meeting = await s.get(Meeting, mid)
    start = meeting.started_at
    video = b"\x1a\x45\xdf\xa3 recording"
    digest = hashlib.sha256(video).hexdigest()
    kept = await _insert(
        sessions,
        mid,
        state="ready",
        started_at=start,
        ended_at=start + timedelta(minutes=90),
        size=len(video),
        duration_s=5400.0,
        sha256=digest,
        tracks_json=json.dumps(
            [
                {
                    "name": "endpoint-4_microphone_1.webm",
                    "participant": "endpoint:4",
                    "source": "microphone",
                    "kind": "audio",
                    "offset_s": 3.5,
                    "size": 999,
                    "duration_s": 60.0,
                    "sha256": "ef" * 32,
                }
            ]
        ),
    )
    await _insert(sessions, mid, state="deleted", started_at=start, sha256="cd" * 32)
    await _insert(sessions, mid, state="failed", started_at=start)
    async with sessions() as s:
        files = await archive.entries(
            s, await s.get(Meeting, mid), config_for(tmp_path), BlobStore(Path(tmp_path / "d"))
        )
    data = b"".join([chunk async for chunk in archive.stream(files, mid, utcnow())])
    bundle = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["recordings"] == [
        {
            "id": kept.id,
            "file_name": kept.file_name,
            "media_type": "video/webm",
            "state": "ready",
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=90)).isoformat(),
            "duration_s": 5400.0,
            "size": len(video),
            "sha256": digest,
            "tracks": [
                {
                    "file_name": kept.file_name.replace(".webm", "-tracks/")
                    + "endpoint-4_microphone_1.webm",
                    "participant": "endpoint:4",
                    "source": "microphone",
                    "size": 999,
                    "sha256": "ef" * 32,
                }
            ],
        }
    ]
    # Listed, not bundled: the video is neither a member of the ZIP nor a line to check.
    assert kept.file_name not in bundle.namelist()
    assert all(f["name"] != kept.file_name for f in manifest["files"])
    assert digest not in bundle.read("SHA256SUMS").decode()
