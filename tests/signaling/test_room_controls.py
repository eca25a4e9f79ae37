"""The room's controls over real socket.io clients (SQLite and PostgreSQL): the join ack's
``actions``/``presentation``/``locked``, presenter mode (``document.present``), the chair's
``media.mute``, and the room lock (REST, persisted, enforced by ``join``)."""

from datetime import UTC, datetime
from typing import Any

import aiohttp
import socketio
from alembic import command
from sqlalchemy import text

from meetings import db
from meetings.permissions import PERMISSIONS, Relation, is_allowed
from signaling.realtime import room_events
from tests.harness import Api, Server, World, sio_client, wait_for
from tests.meetings.documents_samples import text_pdf
from tests.signaling.helpers_authz import (
    Recorder,
    account_who,
    assert_error,
    assert_nack,
    assert_same_db,
    call,
    db_snapshot,
    endpoint_who,
)


async def _joined(
    server: Server, token: str, meeting_id: int
) -> tuple[socketio.AsyncClient, Recorder, dict]:
    """A connected client that recorded every event since before its join, and the join ack."""
    client, rec = await sio_client(server, token), Recorder()
    rec.attach(client)
    ack = await call(client, "join", {"meeting_id": meeting_id})
    assert ack["ok"], ack
    return client, rec, ack


def _api(server: Server, http: aiohttp.ClientSession, token: str) -> Api:
    return Api(server.url + "/api/v1", http, token=token)


async def _document(api: Api, meeting_id: int, pages: int, publish: bool = True) -> dict[str, Any]:
    """Upload a PDF of ``pages`` pages to the meeting (and publish it)."""
    form = aiohttp.FormData()
    form.add_field("file", text_pdf([f"Trang {n}" for n in range(1, pages + 1)]), filename="tt.pdf")
    form.add_field("title", "Tờ trình ngân sách")
    status, document = await api.post(f"/meetings/{meeting_id}/documents", data=form)
    assert status == 201, document
    if publish:
        status, document = await api.post(
            f"/meetings/{meeting_id}/documents/{document['id']}/publish", {}
        )
        assert status == 200 and document["state"] == "published", document
    return document


# ---- join ack -------------------------------------------------------------------------------


async def test_join_ack_lists_the_actions_and_the_room_state(server, world: World):
    w = world
    chair = account_who("chair", w.accounts["chair"], w.province, "chair", w.tokens["chair"])
    delegate = account_who(
        "delegate", w.accounts["delegate"], w.province, "delegate", w.tokens["delegate"]
    )
    endpoint = endpoint_who("endpoint", w.endpoints[0], w.communes[0], w.endpoint_tokens[0])
    acks = {}
    for who, relation in (
        (chair, Relation.CHAIR),
        (delegate, Relation.INVITED),
        (endpoint, Relation.INVITED),
    ):
        client, _, ack = await _joined(server, who.token or "", w.meeting_id)
        expected = sorted(
            a.value
            for a, rule in PERMISSIONS.items()
            if rule.meeting_scoped and is_allowed(who.actor, a, frozenset({relation}))  # type: ignore[arg-type]
        )
        assert ack["actions"] == expected, (who.name, ack["actions"])
        assert ack["presentation"] is None and ack["locked"] is False
        assert ack["meeting"]["locked"] is False
        acks[who.name] = set(ack["actions"])
        await client.disconnect()
    # What the room's page builds on, spelled out rather than recomputed.
    assert {"media.direct", "document.manage", "speaker.manage", "poll.conduct"} <= acks["chair"]
    assert {"vote.cast", "speaker.request", "document.view"} <= acks["delegate"]
    assert not {"media.direct", "document.manage", "poll.conduct"} & acks["delegate"]
    assert {"meeting.join", "meeting.media", "attendance.check_in"} <= acks["endpoint"]
    assert not {"media.direct", "document.manage", "minutes.edit"} & acks["endpoint"]
    assert "account.create" not in acks["chair"]  # not meeting-scoped


# ---- presenter mode -------------------------------------------------------------------------


async def test_presenter_mode(server, http, world: World):
    w = world
    m = w.meeting_id
    secretary_api = _api(server, http, w.tokens["secretary"])
    published = await _document(secretary_api, m, pages=3)
    draft = await _document(secretary_api, m, pages=1, publish=False)
    # A published document of another meeting the chair also chairs.
    chair_api = _api(server, http, w.tokens["chair"])
    status, other = await chair_api.post(
        "/meetings",
        {
            "title": "Họp khác",
            "starts_at": "2026-12-01T08:00:00+07:00",
            "chair_id": w.accounts["chair"],
        },
    )
    assert status == 201, other
    foreign = await _document(chair_api, other["id"], pages=1)

    chair, chair_rec, _ = await _joined(server, w.tokens["chair"], m)
    delegate, delegate_rec, _ = await _joined(server, w.tokens["delegate"], m)
    secretary, _, _ = await _joined(server, w.tokens["secretary"], m)
    endpoint, _, _ = await _joined(server, w.endpoint_tokens[0], m)
    doc = published["id"]
    try:
        # Refusals: not a presenter, not a document anyone may be shown, bad payloads.
        before = await db_snapshot(server)
        for client in (delegate, endpoint):
            assert_nack(
                await call(
                    client, "document.present", {"meeting_id": m, "document_id": doc, "page": 1}
                ),
                "forbidden",
            )
            assert_nack(
                await call(client, "document.present", {"meeting_id": m, "document_id": None}),
                "forbidden",
            )
        for document_id in (draft["id"], foreign["id"], 999_999):
            ack = await call(
                chair, "document.present", {"meeting_id": m, "document_id": document_id, "page": 1}
            )
            assert_nack(ack, "not_found")
        assert_nack(
            await call(chair, "document.present", {"meeting_id": m, "document_id": doc, "page": 4}),
            "invalid_input",
        )
        for bad in (
            {"meeting_id": m, "document_id": doc, "page": 0},
            {"meeting_id": m, "document_id": doc, "page": "2"},
            {"meeting_id": m, "document_id": doc, "page": 10_001},
            {"meeting_id": m, "document_id": "1", "page": 1},
            {"meeting_id": m, "page": 1},
            {"meeting_id": m, "document_id": doc, "page": 1, "zoom": 2},
        ):
            assert_nack(await call(chair, "document.present", bad), "invalid_payload")
        # Not in a meeting one has not joined, even as its chair.
        assert_nack(
            await call(
                chair, "document.present", {"meeting_id": other["id"], "document_id": foreign["id"]}
            ),
            "forbidden",
        )
        assert_same_db(before, await db_snapshot(server), "refused document.present")
        assert room_events.controls_of(server.state.signaling).presentation(m) is None

        # The chair presents page 2: everyone in the room is told, the presenter included.
        ack = await call(
            chair, "document.present", {"meeting_id": m, "document_id": doc, "page": 2}
        )
        assert ack["ok"], ack
        chair_key = f"account:{w.accounts['chair']}"
        shown = {
            "meeting_id": m,
            "document_id": doc,
            "version": 1,
            "page": 2,
            "presenter": chair_key,
            "presenter_name": "Người chair",
        }
        assert ack["presentation"] == shown
        await wait_for(lambda: delegate_rec.named("document.presenting"))
        # The refused attempts broadcast nothing: this is the first event the room got.
        assert delegate_rec.named("document.presenting") == [shown]
        await wait_for(lambda: chair_rec.named("document.presenting") == [shown])

        # The secretary turns the page; a newcomer's join ack shows where the room is.
        ack = await call(
            secretary, "document.present", {"meeting_id": m, "document_id": doc, "page": 3}
        )
        assert ack["ok"] and ack["presentation"]["page"] == 3, ack
        await wait_for(lambda: len(delegate_rec.named("document.presenting")) == 2)
        latest = delegate_rec.named("document.presenting")[-1]
        assert latest["presenter"] == f"account:{w.accounts['secretary']}" and latest["page"] == 3
        observer, _, ack = await _joined(server, w.tokens["observer"], m)
        assert ack["presentation"] == latest
        await observer.disconnect()

        # A new version of the document: presenting it again shows the current version.
        form = aiohttp.FormData()
        form.add_field("file", text_pdf(["Một", "Hai"]), filename="tt2.pdf")
        status, body = await secretary_api.post(
            f"/meetings/{m}/documents/{doc}/versions", data=form
        )
        assert status == 201, body
        ack = await call(
            chair, "document.present", {"meeting_id": m, "document_id": doc, "page": 2}
        )
        assert ack["ok"] and ack["presentation"]["version"] == 2, ack
        assert_nack(
            await call(chair, "document.present", {"meeting_id": m, "document_id": doc, "page": 3}),
            "invalid_input",
        )

        # Stop: the room hears document_id null, and newcomers see no presentation.
        ack = await call(chair, "document.present", {"meeting_id": m, "document_id": None})
        assert ack == {"ok": True, "presentation": None}
        await wait_for(lambda: delegate_rec.named("document.presenting")[-1]["document_id"] is None)
        stopped = delegate_rec.named("document.presenting")[-1]
        assert stopped["meeting_id"] == m and stopped["page"] is None
        assert stopped["presenter"] == chair_key
        observer, _, ack = await _joined(server, w.tokens["observer"], m)
        assert ack["presentation"] is None
        await observer.disconnect()

        # Ending the meeting drops its presentation from memory.
        ack = await call(
            chair, "document.present", {"meeting_id": m, "document_id": doc, "page": 1}
        )
        assert ack["ok"], ack
        assert room_events.controls_of(server.state.signaling).presentation(m) is not None
        for step in ("start", "end"):
            status, body = await chair_api.post(f"/meetings/{m}/{step}")
            assert status == 200, body
        await wait_for(lambda: delegate_rec.named("meeting.ended"))
        assert room_events.controls_of(server.state.signaling).presentation(m) is None
    finally:
        for client in (chair, delegate, secretary, endpoint):
            await client.disconnect()


# ---- mute -----------------------------------------------------------------------------------


async def test_chair_mutes_one_or_everyone(server, world: World):
    w = world
    m = w.meeting_id
    chair_key = f"account:{w.accounts['chair']}"
    endpoint_key = f"endpoint:{w.endpoints[0]}"
    chair, chair_rec, _ = await _joined(server, w.tokens["chair"], m)
    chair_tab, chair_tab_rec, _ = await _joined(server, w.tokens["chair"], m)  # a second tab
    delegate, delegate_rec, _ = await _joined(server, w.tokens["delegate"], m)
    endpoint, endpoint_rec, _ = await _joined(server, w.endpoint_tokens[0], m)
    muted = {"meeting_id": m, "by": chair_key, "reason": "chair"}
    try:
        before = await db_snapshot(server)
        for client in (delegate, endpoint):
            assert_nack(
                await call(client, "media.mute", {"meeting_id": m, "participant": None}),
                "forbidden",
            )
            assert_nack(
                await call(client, "media.mute", {"meeting_id": m, "participant": chair_key}),
                "forbidden",
            )
        assert_nack(
            await call(chair, "media.mute", {"meeting_id": m, "participant": "account:999999"}),
            "not_found",
        )
        for bad in (
            {"meeting_id": m},
            {"meeting_id": m, "participant": "bob"},
            {"meeting_id": m, "participant": 7},
            {"meeting_id": m, "participant": None, "all": True},
        ):
            assert_nack(await call(chair, "media.mute", bad), "invalid_payload")
        assert_same_db(before, await db_snapshot(server), "media.mute")

        # One participant: only its connections hear it (events are sent before the ack).
        ack = await call(chair, "media.mute", {"meeting_id": m, "participant": endpoint_key})
        assert ack == {"ok": True, "muted": 1}
        await wait_for(lambda: endpoint_rec.named("media.muted"))
        assert endpoint_rec.named("media.muted") == [muted]

        # Everyone but the caller (all of its tabs): the delegate and the endpoint.
        ack = await call(chair, "media.mute", {"meeting_id": m, "participant": None})
        assert ack == {"ok": True, "muted": 2}
        await wait_for(lambda: len(endpoint_rec.named("media.muted")) == 2)
        await wait_for(lambda: delegate_rec.named("media.muted"))
        # The refused calls reached nobody: the delegate got exactly the one broadcast.
        assert delegate_rec.named("media.muted") == [muted]
        # A round trip on each of the chair's connections, then nothing was delivered there.
        for client in (chair, chair_tab):
            assert (await call(client, "speaker.list", {"meeting_id": m}))["ok"]
        assert chair_rec.named("media.muted") == [] and chair_tab_rec.named("media.muted") == []
    finally:
        for client in (chair, chair_tab, delegate, endpoint):
            await client.disconnect()


# ---- the room lock --------------------------------------------------------------------------


async def _participants(api: Api, meeting_id: int) -> set[str]:
    status, body = await api.get(f"/meetings/{meeting_id}/participants")
    assert status == 200, body
    return {p["key"] for p in body}


async def test_room_lock(server, http, world: World):
    w = world
    m = w.meeting_id
    chair_api = _api(server, http, w.tokens["chair"])
    delegate_key = f"account:{w.accounts['delegate']}"

    # The delegate is in the room before the lock; the chair locks it.
    delegate, delegate_rec, _ = await _joined(server, w.tokens["delegate"], m)
    for name in ("secretary", "delegate"):
        status, body = await _api(server, http, w.tokens[name]).post(f"/meetings/{m}/lock")
        assert_error(status, body, 403, "forbidden")
    status, body = await _api(server, http, w.endpoint_tokens[0]).post(f"/meetings/{m}/lock")
    assert_error(status, body, 403, "forbidden")
    status, body = await chair_api.post("/meetings/999999/lock")
    assert_error(status, body, 404, "not_found")
    status, meeting = await chair_api.get(f"/meetings/{m}")
    assert meeting["locked"] is False
    status, meeting = await chair_api.post(f"/meetings/{m}/lock")
    assert status == 200 and meeting["locked"] is True, meeting
    await wait_for(lambda: delegate_rec.named("meeting.locked"))
    assert delegate_rec.named("meeting.locked") == [{"meeting_id": m, "locked": True}]
    # Locking again changes nothing: no second audit entry, no second announcement.
    status, meeting = await chair_api.post(f"/meetings/{m}/lock")
    assert status == 200 and meeting["locked"] is True
    status, page = await chair_api.get(f"/meetings/{m}/audit")
    locks = [e for e in page["entries"] if e["action"] in ("meeting.locked", "meeting.unlocked")]
    assert [(e["action"], e["before"], e["after"], e["actor"]) for e in locks] == [
        ("meeting.locked", {"locked": False}, {"locked": True}, f"account:{w.accounts['chair']}")
    ]

    # Newcomers are refused and nothing changes; the chair and the secretary get in.
    before = await db_snapshot(server)
    present = await _participants(chair_api, m)
    for token in (w.endpoint_tokens[0], w.tokens["observer"]):
        client = await sio_client(server, token)
        assert_nack(await call(client, "join", {"meeting_id": m}), "room_locked")
        # Not in the room: the meeting's events are still refused.
        assert_nack(await call(client, "speaker.list", {"meeting_id": m}), "forbidden")
        await client.disconnect()
    assert await _participants(chair_api, m) == present == {delegate_key}
    assert_same_db(before, await db_snapshot(server), "a refused join")
    secretary, _, ack = await _joined(server, w.tokens["secretary"], m)
    assert ack["locked"] is True and ack["meeting"]["locked"] is True
    chair, _, _ = await _joined(server, w.tokens["chair"], m)

    # The delegate's link drops; reconnecting within the grace period it gets back in.
    await delegate.disconnect()
    await wait_for(lambda: not delegate.connected)
    delegate, delegate_rec, ack = await _joined(server, w.tokens["delegate"], m)
    assert ack["locked"] is True
    # A second tab of someone present gets in too.
    tab, _, _ = await _joined(server, w.tokens["delegate"], m)
    for client in (tab, delegate, secretary, chair):
        await client.disconnect()

    # The lock survives a restart (presence does not: everyone is a newcomer again).
    await server.restart()
    chair_api = _api(server, http, w.tokens["chair"])
    status, meeting = await chair_api.get(f"/meetings/{m}")
    assert status == 200 and meeting["locked"] is True
    client = await sio_client(server, w.endpoint_tokens[0])
    assert_nack(await call(client, "join", {"meeting_id": m}), "room_locked")
    await client.disconnect()
    chair, chair_rec, ack = await _joined(server, w.tokens["chair"], m)
    assert ack["locked"] is True

    # Unlocked: announced, audited, and the endpoint joins.
    status, meeting = await chair_api.delete(f"/meetings/{m}/lock")
    assert status == 200 and meeting["locked"] is False, meeting
    await wait_for(lambda: chair_rec.named("meeting.locked"))
    assert chair_rec.named("meeting.locked") == [{"meeting_id": m, "locked": False}]
    status, page = await chair_api.get(f"/meetings/{m}/audit")
    assert page["entries"][0]["action"] == "meeting.unlocked"
    assert page["entries"][0]["after"] == {"locked": False}
    endpoint, _, ack = await _joined(server, w.endpoint_tokens[0], m)
    assert ack["locked"] is False
    await endpoint.disconnect()
    await chair.disconnect()

    # An ended meeting's room cannot be locked any more.
    for step in ("start", "end"):
        status, body = await chair_api.post(f"/meetings/{m}/{step}")
        assert status == 200, body
    status, body = await chair_api.post(f"/meetings/{m}/lock")
    assert_error(status, body, 409, "conflict")
    status, meeting = await chair_api.get(f"/meetings/{m}")
    assert meeting["locked"] is False


# ---- migration ------------------------------------------------------------------------------


async def test_migration_leaves_existing_meetings_unlocked(tmp_path, database_url):
    """0009 adds ``meeting.locked`` to a database holding meetings already: they are unlocked."""
    engine = db.create_engine(database_url or f"sqlite:///{tmp_path / 'old.sqlite3'}")

    def upgrade(connection: Any, target: str) -> None:
        cfg = db.alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, target)

    now = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0007")  # the meeting table before the lock
            await conn.execute(
                text(
                    "INSERT INTO unit (id, name, kind, created_at)"
                    " VALUES (1, 'Tỉnh Quảng Ninh', 'province', :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO account (id, username, full_name, unit_id, role, password_hash,"
                    " active, created_at, password_changed_at)"
                    " VALUES (1, 'chair1', 'Chủ trì', 1, 'chair', 'x', :yes, :now, :now)"
                ),
                {"now": now, "yes": True},
            )
            await conn.execute(
                text(
                    "INSERT INTO meeting (id, title, description, starts_at, chair_id,"
                    " created_by_id, state, created_at)"
                    " VALUES (1, 'Giao ban', '', :now, 1, 1, 'live', :now)"
                ),
                {"now": now},
            )
        await db.migrate(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, locked FROM meeting"))).all()
        assert [(i, bool(locked)) for i, locked in rows] == [(1, False)]
    finally:
        await engine.dispose()
