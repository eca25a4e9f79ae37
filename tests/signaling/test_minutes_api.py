"""Minutes over REST and socket.io on a real server (SQLite and PostgreSQL): the draft, edits
with versions, submit, approve (chair only), the PDF, verification, the archive bundle,
immutability, and refusals that leave the database as it was."""

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from meetings import audit
from signaling.api.routes_minutes import setup_problems
from tests.harness import Api, Server, World, build_world, make_settings, sio_client, wait_for
from tests.meetings.minutes_support import make_pki, pdf_text
from tests.signaling.helpers_authz import (
    Recorder,
    assert_error,
    assert_same_db,
    call,
    db_snapshot,
)


def clients(server: Server, http: aiohttp.ClientSession, w: World) -> dict[str, Api]:
    """One API client per role of the world, and one for its first endpoint."""
    base = server.url + "/api/v1"
    api = {name: Api(base, http, token=token) for name, token in w.tokens.items()}
    api["endpoint"] = Api(base, http, token=w.endpoint_tokens[0])
    return api


async def submitted(api: dict[str, Api], mid: int, notes: str = "Ghi chép") -> dict[str, Any]:
    """Save the pre-filled draft and submit it (as the secretary)."""
    status, draft = await api["secretary"].get(f"/meetings/{mid}/minutes")
    assert status == 200, draft
    status, saved = await api["secretary"].request(
        "PUT",
        f"/meetings/{mid}/minutes",
        json={"version": 0, "sections": draft["sections"], "free_text": notes},
    )
    assert status == 200, saved
    status, body = await api["secretary"].post(
        f"/meetings/{mid}/minutes/submit", {"version": saved["version"]}
    )
    assert status == 200, body
    return body


async def fetch(http: aiohttp.ClientSession, url: str, token: str, **kw: Any) -> tuple:
    """A raw GET: (status, headers, body bytes)."""
    headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
    async with http.get(url, headers=headers, **kw) as r:
        return r.status, r.headers, await r.read()


async def test_minutes_from_draft_to_archive(server, http, world):
    w, api = world, clients(server, http, world)
    mid = w.meeting_id
    base = f"{server.url}/api/v1/meetings/{mid}"
    watcher = await sio_client(server, w.tokens["delegate"])
    events = Recorder()
    events.attach(watcher)
    assert (await call(watcher, "join", {"meeting_id": mid}))["ok"]
    try:
        status, draft = await api["secretary"].get(f"/meetings/{mid}/minutes")
        assert status == 200 and draft["version"] == 0 and draft["state"] == "draft"
        assert draft["sections"]["meeting"]["title"] == "Giao ban tháng 11"
        assert draft["sections"]["meeting"]["chair"] == "Người chair"
        for who in ("delegate", "observer", "endpoint", "admin"):
            status, body = await api[who].get(f"/meetings/{mid}/minutes")
            assert_error(status, body, 403, "forbidden")

        sections = draft["sections"]
        sections["meeting"]["location"] = "Hội trường Ủy ban nhân dân tỉnh"
        body = {"version": 0, "sections": sections, "free_text": "Các đại biểu thống nhất."}
        status, saved = await api["secretary"].request("PUT", f"/meetings/{mid}/minutes", json=body)
        assert status == 200 and saved["version"] == 1, saved
        await wait_for(lambda: len(events.named("minutes.changed")) == 1)
        event = events.named("minutes.changed")[0]
        assert event == {
            "meeting_id": mid,
            "state": "draft",
            "version": 1,
            "pdf_sha256": None,
            "signed": False,
        }

        # Refusals: a stale version, malformed input, the wrong people, the wrong step.
        before = await db_snapshot(server)
        status, error = await api["chair"].request("PUT", f"/meetings/{mid}/minutes", json=body)
        assert_error(status, error, 409, "conflict")
        assert error["error"]["details"]["current_version"] == 1
        bad_bodies: list[Any] = [
            {**body, "version": 1, "sections": {**sections, "typo": 1}},
            {**body, "version": 1, "sections": {"documents": [{"title": "x", "sha256": "zz"}]}},
            {**body, "version": -1},
            {"version": 1, "sections": sections, "free_text": "x" * 100_001},
            {"sections": sections},
            [1, 2],
        ]
        for bad in bad_bodies:
            status, error = await api["secretary"].request(
                "PUT", f"/meetings/{mid}/minutes", json=bad
            )
            assert_error(status, error, 422, "validation_error")
        status, error = await api["secretary"].request(
            "PUT",
            f"/meetings/{mid}/minutes",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert_error(status, error, 400, "malformed_json")
        status, error = await api["chair"].post(f"/meetings/{mid}/minutes/approve", {"version": 1})
        assert_error(status, error, 409, "conflict")
        for who in ("delegate", "observer", "endpoint"):
            status, error = await api[who].request("PUT", f"/meetings/{mid}/minutes", json=body)
            assert_error(status, error, 403, "forbidden")
        status, error = await api["delegate"].get(f"/meetings/{mid}/minutes/pdf")
        assert_error(status, error, 409, "conflict")
        assert_same_db(before, await db_snapshot(server), "refused minutes requests")

        status, sub = await api["secretary"].post(f"/meetings/{mid}/minutes/submit", {"version": 1})
        assert status == 200 and (sub["state"], sub["version"]) == ("submitted", 2), sub
        before = await db_snapshot(server)
        for who in ("delegate", "secretary", "admin", "observer", "endpoint"):
            status, error = await api[who].post(f"/meetings/{mid}/minutes/approve", {"version": 2})
            assert_error(status, error, 403, "forbidden")
        assert_same_db(before, await db_snapshot(server), "approvals by others than the chair")

        status, done = await api["chair"].post(f"/meetings/{mid}/minutes/approve", {"version": 2})
        assert status == 200 and done["state"] == "approved", done
        assert done["approved_by"] == f"account:{w.accounts['chair']}" and not done["signed"]
        await wait_for(lambda: len(events.named("minutes.changed")) == 3)
        assert events.named("minutes.changed")[-1]["pdf_sha256"] == done["pdf_sha256"]
        assert all("sections" not in e for e in events.named("minutes.changed"))
    finally:
        await watcher.disconnect()

    # Members read the PDF; its bytes are the approved hash, its text the Vietnamese record.
    status, headers, pdf = await fetch(http, f"{base}/minutes/pdf", w.tokens["delegate"])
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf).hexdigest() == done["pdf_sha256"]
    assert "Repr-Digest" in headers and "ETag" in headers
    text = pdf_text(pdf)
    assert "Hội trường Ủy ban nhân dân tỉnh" in text and "Các đại biểu thống nhất." in text
    status, _, part = await fetch(
        http, f"{base}/minutes/pdf", w.tokens["observer"], headers={"Range": "bytes=0-99"}
    )
    assert status == 206 and part == pdf[:100]
    status, verified = await api["observer"].get(f"/meetings/{mid}/minutes/verify")
    assert status == 200 and verified["ok"] and verified["hash_matches"], verified
    assert verified["signed"] is False and verified["signatures"] == []

    # Approved minutes are immutable for everyone, and refusing changes nothing.
    before = await db_snapshot(server)
    for who in ("chair", "secretary"):
        status, error = await api[who].request(
            "PUT", f"/meetings/{mid}/minutes", json={**body, "version": done["version"]}
        )
        assert_error(status, error, 409, "minutes_locked")
        status, error = await api[who].post(
            f"/meetings/{mid}/minutes/submit", {"version": done["version"]}
        )
        assert_error(status, error, 409, "minutes_locked")
    status, error = await api["chair"].post(
        f"/meetings/{mid}/minutes/approve", {"version": done["version"]}
    )
    assert_error(status, error, 409, "minutes_locked")
    status, error = await api["admin"].request(
        "PUT", f"/meetings/{mid}/minutes", json={**body, "version": done["version"]}
    )
    assert_error(status, error, 403, "forbidden")
    assert_same_db(before, await db_snapshot(server), "changes to approved minutes")

    # The archive: hosts and administrators.
    for who in ("delegate", "observer", "endpoint"):
        status, error = await api[who].get(f"/meetings/{mid}/archive.zip")
        assert_error(status, error, 403, "forbidden")
    status, headers, data = await fetch(http, f"{base}/archive.zip", w.tokens["secretary"])
    assert status == 200 and headers["Content-Type"] == "application/zip"
    assert headers.get("Transfer-Encoding") == "chunked"  # streamed, no length known up front
    bundle = zipfile.ZipFile(io.BytesIO(data))
    assert bundle.read(f"bien-ban/bien-ban-hop-{mid}.pdf") == pdf
    manifest = json.loads(bundle.read("manifest.json"))
    for item in manifest["files"]:
        assert hashlib.sha256(bundle.read(item["name"])).hexdigest() == item["sha256"]
    status, _, again = await fetch(http, f"{base}/archive.zip", w.tokens["admin"])
    assert status == 200 and zipfile.ZipFile(io.BytesIO(again)).namelist() == bundle.namelist()

    async with server.state.transaction() as session:
        entries = await audit.entries(session, mid)
    assert [e.action for e in reversed(entries) if e.object_type == "minutes"] == [
        "minutes.created",
        "minutes.submitted",
        "minutes.approved",
    ]


async def test_approved_minutes_lock_the_conclusions(server, http, world):
    w, api = world, clients(server, http, world)
    m = f"/meetings/{w.meeting_id}"
    status, item = await api["chair"].post(f"{m}/agenda", {"title": "Phòng chống thiên tai"})
    assert status == 201, item
    body = {"agenda_item_id": item["id"], "content": "Giao UBND huyện Ba Chẽ lập phương án."}
    status, made = await api["secretary"].post(f"{m}/conclusions", body)
    assert status == 201, made
    sub = await submitted(api, w.meeting_id)
    status, done = await api["chair"].post(f"{m}/minutes/approve", {"version": sub["version"]})
    assert status == 200 and done["state"] == "approved", done

    before = await db_snapshot(server)
    for who in ("secretary", "chair"):
        for method, path, payload in (
            ("POST", f"{m}/conclusions", {**body, "content": "Kết luận bổ sung"}),
            ("PATCH", f"{m}/conclusions/{made['id']}", {"content": "Sửa lại"}),
            ("DELETE", f"{m}/conclusions/{made['id']}", None),
        ):
            status, error = await api[who].request(method, path, json=payload)
            assert_error(status, error, 409, "minutes_locked")
    assert_same_db(before, await db_snapshot(server), "conclusions of approved minutes")
    status, listed = await api["delegate"].get(f"{m}/conclusions")
    assert status == 200 and [c["id"] for c in listed] == [made["id"]], listed


@pytest.fixture
async def signed_server(tmp_path, database_url) -> AsyncIterator[Server]:
    """A server that signs approved minutes with a test certificate (made for this test)."""
    pki = make_pki(tmp_path / "pki")
    srv = Server(
        make_settings(
            tmp_path / "data",
            database_url,
            minutes_signing_p12=pki.p12,
            minutes_signing_passphrase=pki.passphrase,
            minutes_location="Quảng Ninh",
        )
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_signed_minutes_verify_and_a_changed_byte_fails(signed_server, http):
    server = signed_server
    w = await build_world(server, http)
    api = clients(server, http, w)
    mid = w.meeting_id
    sub = await submitted(api, mid)
    status, done = await api["chair"].post(
        f"/meetings/{mid}/minutes/approve", {"version": sub["version"]}
    )
    assert status == 200 and done["signed"], done
    assert "Văn phòng UBND tỉnh" in done["signer_subject"]
    status, good = await api["delegate"].get(f"/meetings/{mid}/minutes/verify")
    assert status == 200 and good["ok"], good
    [sig] = good["signatures"]
    assert sig["intact"] and sig["valid"] and sig["trusted"] and sig["covers_whole_file"]
    assert "Văn phòng UBND tỉnh" in sig["signer"] and sig["signing_time"]

    sha = done["pdf_sha256"]
    stored = Path(server.settings.data_dir) / "minutes" / sha[:2] / f"{sha}.pdf"
    data = bytearray(stored.read_bytes())
    data[7] ^= 0x01  # one byte of the signed range; the file stays a readable PDF
    stored.write_bytes(bytes(data))
    status, bad = await api["delegate"].get(f"/meetings/{mid}/minutes/verify")
    assert status == 200 and not bad["ok"], bad
    assert not bad["hash_matches"] and bad["file_sha256"] != sha
    assert bad["signatures"] and not bad["signatures"][0]["intact"]


@pytest.fixture
async def broken_server(tmp_path, database_url) -> AsyncIterator[Server]:
    """A server whose minutes font is missing and whose certificate passphrase is wrong."""
    pki = make_pki(tmp_path / "pki")
    srv = Server(
        make_settings(
            tmp_path / "data",
            database_url,
            minutes_font=tmp_path / "missing.ttf",
            minutes_signing_p12=pki.p12,
            minutes_signing_passphrase="sai",
        )
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_approval_is_refused_with_503_when_it_cannot_render_or_sign(broken_server, http):
    server = broken_server
    problems = setup_problems(server.settings)
    assert [p.code for p in problems] == ["minutes_font_missing", "signing_unavailable"]
    assert "cannot be opened" in problems[1].message
    status, health = await Api(server.url, http).get("/healthz")
    assert status == 200 and health["minutes"] == "error", health
    assert health["problems"] == ["minutes_font_missing", "signing_unavailable"]
    w = await build_world(server, http)
    api = clients(server, http, w)
    sub = await submitted(api, w.meeting_id)
    before = await db_snapshot(server)
    status, error = await api["chair"].post(
        f"/meetings/{w.meeting_id}/minutes/approve", {"version": sub["version"]}
    )
    assert_error(status, error, 503, "signing_unavailable")
    assert_same_db(before, await db_snapshot(server), "an approval that could not sign")
    server.settings.minutes_signing_p12 = None  # now only the font is wrong
    status, error = await api["chair"].post(
        f"/meetings/{w.meeting_id}/minutes/approve", {"version": sub["version"]}
    )
    assert_error(status, error, 503, "minutes_font_missing")
    assert "npm ci --prefix web" in error["error"]["message"]
    assert_same_db(before, await db_snapshot(server), "an approval that could not render")
    assert not (Path(server.settings.data_dir) / "minutes").exists()
    status, health = await Api(server.url, http).get("/healthz")
    assert status == 200 and health["minutes"] == "error", health
