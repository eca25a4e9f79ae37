"""Documents over HTTP and socket.io, with real clients on a real server (both backends)."""

import asyncio
import hashlib
import io
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pypdf import PdfReader

from meetings.documents.storage import BlobStore
from signaling import housekeeping
from tests.harness import Api, Server, World, build_world, make_settings, sio_client, wait_for
from tests.meetings.documents_samples import (
    blank_pages_pdf,
    deep_page_tree_pdf,
    encrypted_pdf,
    nested_pdf,
    text_pdf,
)
from tests.signaling.helpers_authz import (
    Recorder,
    assert_error,
    assert_same_db,
    call,
    db_snapshot,
)

MAX_BYTES = 512 * 1024
MAX_PAGES = 1000


@pytest.fixture
async def server(tmp_path, database_url) -> AsyncIterator[Server]:
    """Small limits so refusals are quick to provoke; scheduled publication checked often."""
    srv = Server(
        make_settings(
            tmp_path / "data",
            database_url,
            document_max_bytes=MAX_BYTES,
            document_max_pages=MAX_PAGES,
            document_publish_poll_seconds=0.2,
        )
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


class Docs:
    """The world's principals as API clients, plus upload helpers."""

    def __init__(self, server: Server, http: aiohttp.ClientSession, world: World) -> None:
        self.server, self.world = server, world
        base = server.url + "/api/v1"
        self.api = {name: Api(base, http, token=token) for name, token in world.tokens.items()}
        self.api["endpoint"] = Api(base, http, token=world.endpoint_tokens[0])
        self.meeting = world.meeting_id
        self.blobs = server.settings.data_dir / "documents" / "blobs"
        self.tmp = server.settings.data_dir / "documents" / "tmp"

    def path(self, document_id: int | None = None, tail: str = "") -> str:
        """A path under the world's meeting's documents."""
        base = f"/meetings/{self.meeting}/documents"
        return base + (f"/{document_id}" if document_id is not None else "") + tail

    async def upload(
        self, who: str, data: Any, filename: str = "tờ-trình.pdf", **fields: Any
    ) -> tuple[int, Any]:
        """POST a multipart upload."""
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, str(value).lower() if isinstance(value, bool) else str(value))
        form.add_field("file", data, filename=filename, content_type="application/pdf")
        return await self.api[who].post(self.path(), data=form)

    async def upload_raw(self, who: str, filename: bytes, data: bytes) -> tuple[int, Any]:
        """A multipart body written byte by byte (the file name exactly as given)."""
        boundary = b"phonghop-test-boundary"
        body = (
            b"--" + boundary + b"\r\n"
            b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
            b"Content-Type: application/pdf\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n"
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}
        return await self.api[who].post(self.path(), data=body, headers=headers)

    async def published(self, data: bytes, who: str = "secretary", **fields: Any) -> dict[str, Any]:
        """Upload (as the secretary) and publish at once."""
        status, document = await self.upload(who, data, **fields)
        assert status == 201, document
        status, document = await self.api[who].post(self.path(document["id"], "/publish"), {})
        assert status == 200, document
        return document

    def stored_files(self) -> list[str]:
        """Every file in the store and its temp dir."""
        return sorted(str(p) for d in (self.blobs, self.tmp) if d.exists() for p in d.rglob("*.*"))


@pytest.fixture
async def docs(server: Server, http: aiohttp.ClientSession) -> Docs:
    return Docs(server, http, await build_world(server, http))


async def _get(api: Api, path: str, **headers: str) -> tuple[int, bytes, Any]:
    """A raw GET (bytes and headers) with the principal's credential."""
    headers = {"Authorization": f"Bearer {api.token}", **headers}
    async with api.http.get(api.base + path, headers=headers) as r:
        return r.status, await r.read(), r.headers


async def test_upload_publish_and_resumable_download(docs: Docs, server: Server):
    data = text_pdf(["Tờ trình về dự toán ngân sách năm 2027", "Phụ lục số liệu"])
    status, document = await docs.upload("secretary", data, title="Dự toán 2027")
    assert status == 201, document
    assert document["state"] == "draft" and document["title"] == "Dự toán 2027"
    assert document["version"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert document["version"]["pages"] == 2 and document["version"]["filename"] == "tờ-trình.pdf"
    doc_id = document["id"]

    # A draft is invisible to delegates and endpoints, visible to hosts and the administrator.
    for who in ("delegate", "observer", "endpoint"):
        status, listed = await docs.api[who].get(docs.path())
        assert status == 200 and listed == [], who
        status, error = await docs.api[who].get(docs.path(doc_id))
        assert_error(status, error, 404, "not_found")
        status, _, _ = await _get(docs.api[who], docs.path(doc_id, "/file"))
        assert status == 404
    for who in ("chair", "secretary", "admin"):
        status, listed = await docs.api[who].get(docs.path())
        assert status == 200 and [d["id"] for d in listed] == [doc_id], who

    # Publishing tells the meeting's room.
    listener = await sio_client(server, docs.world.endpoint_tokens[0])
    events = Recorder()
    events.attach(listener)
    try:
        assert (await call(listener, "join", {"meeting_id": docs.meeting}))["ok"]
        status, published = await docs.api["secretary"].post(docs.path(doc_id, "/publish"), {})
        assert status == 200 and published["state"] == "published"
        await wait_for(lambda: events.named("document.published"))
        assert events.named("document.published")[0]["id"] == doc_id
    finally:
        await listener.disconnect()

    delegate = docs.api["delegate"]
    status, body, headers = await _get(delegate, docs.path(doc_id, "/file"))
    assert status == 200 and body == data
    assert headers["Content-Type"] == "application/pdf"
    assert "filename*=UTF-8''t%E1%BB%9D-tr%C3%ACnh.pdf" in headers["Content-Disposition"]
    etag = headers["ETag"]
    status, body, _ = await _get(delegate, docs.path(doc_id, "/file"), **{"If-None-Match": etag})
    assert status == 304 and body == b""
    # A broken link resumes where it stopped.
    status, head, headers = await _get(delegate, docs.path(doc_id, "/file"), Range="bytes=0-999")
    assert status == 206 and len(head) == 1000
    assert headers["Content-Range"] == f"bytes 0-999/{len(data)}"
    status, rest, _ = await _get(
        delegate, docs.path(doc_id, "/file"), Range="bytes=1000-", **{"If-Range": etag}
    )
    assert status == 206 and head + rest == data
    status, body, _ = await _get(delegate, docs.path(doc_id, "/versions/1/file"))
    assert status == 200 and body == data

    # Four requests by the delegate, one receipt; the others are listed as not opened yet.
    status, receipts = await docs.api["secretary"].get(docs.path(doc_id, "/receipts"))
    assert status == 200, receipts
    assert [(r["reader"], r["version"]) for r in receipts["opened"]] == [
        (f"account:{docs.world.accounts['delegate']}", 1)
    ]
    assert receipts["opened"][0]["name"] == "Người delegate"
    assert {r["key"] for r in receipts["not_opened"]} == {
        f"account:{docs.world.accounts['observer']}",
        *(f"endpoint:{e}" for e in docs.world.endpoints),  # through the invited district
    }


async def test_bad_uploads_are_refused_and_leave_nothing(docs: Docs, server: Server):
    truncated = text_pdf(30)
    cases: list[tuple[str, Any, str, int, str]] = [
        ("renamed executable", b"MZ\x90\x00" + os.urandom(5000), "bao-cao.pdf", 422, "not_pdf"),
        ("truncated", truncated[: len(truncated) // 2], "a.pdf", 422, "truncated"),
        ("encrypted", encrypted_pdf(), "a.pdf", 422, "encrypted"),
        ("thousands of pages", blank_pages_pdf(MAX_PAGES + 500), "a.pdf", 422, "too_many_pages"),
        ("nested arrays", nested_pdf(50_000), "a.pdf", 422, "too_deep"),
        ("deep page tree", deep_page_tree_pdf(2000), "a.pdf", 422, "too_deep"),
        ("oversized", os.urandom(MAX_BYTES + 1), "a.pdf", 413, ""),
        ("path traversal", text_pdf(1), "../../etc/cron.d/x.pdf", 422, ""),
        ("windows path", text_pdf(1), "..\\..\\boot.pdf", 422, ""),
        ("encoded traversal", text_pdf(1), "..%2F..%2Fx.pdf", 422, ""),
        ("not .pdf", text_pdf(1), "to-trinh.docx", 422, ""),
    ]
    before = await db_snapshot(server)
    for what, data, filename, want, reason in cases:
        status, error = await docs.upload("secretary", data, filename=filename)
        assert_error(status, error, want)
        if reason:
            assert error["error"]["details"]["reason"] == reason, (what, error)
        assert docs.stored_files() == [], what
    # aiohttp's client will not send control characters in a header: write the body by hand.
    for raw_name in (b"to\x1btrinh.pdf", b"bao-cao\x00.exe.pdf", b"a\rb.pdf", b"..\\x.pdf"):
        status, error = await docs.upload_raw("secretary", raw_name, text_pdf(1))
        assert 400 <= status < 500 and error["error"]["message"], (raw_name, status, error)
        assert docs.stored_files() == [], raw_name
    assert_same_db(before, await db_snapshot(server), "refused uploads")

    # An oversized upload without a Content-Length is cut off once the limit is passed.
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 50 * MAX_BYTES:
            sent += 64 * 1024
            yield b"%PDF-1.7\n" + b"0" * (64 * 1024 - 9)

    form = aiohttp.FormData()
    form.add_field("file", endless(), filename="lon.pdf", content_type="application/pdf")
    try:
        status, error = await docs.api["secretary"].post(docs.path(), data=form)
        assert_error(status, error, 413, "payload_too_large")
    except aiohttp.ClientError:
        pass  # the server may close the connection while the client is still sending
    assert sent < 50 * MAX_BYTES  # the server did not read it all
    await wait_for(lambda: docs.stored_files() == [])

    # Malformed requests: not multipart, no file part, an unknown field, two files.
    status, error = await docs.api["secretary"].post(docs.path(), {"title": "x"})
    assert_error(status, error, 415, "unsupported_media_type")
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("title", "Không có tệp")
    status, error = await docs.api["secretary"].post(docs.path(), data=form)
    assert_error(status, error, 422, "invalid_input")
    status, error = await docs.upload("secretary", text_pdf(1), colour="đỏ")
    assert_error(status, error, 422, "validation_error")
    status, error = await docs.upload("secretary", text_pdf(1), agenda_item_id="abc")
    assert_error(status, error, 422, "validation_error")
    form = aiohttp.FormData()
    form.add_field("file", text_pdf(1), filename="a.pdf", content_type="application/pdf")
    form.add_field("file", text_pdf(1), filename="b.pdf", content_type="application/pdf")
    status, error = await docs.api["secretary"].post(docs.path(), data=form)
    assert_error(status, error, 422, "validation_error")
    assert docs.stored_files() == []
    assert_same_db(before, await db_snapshot(server), "malformed uploads")


async def test_same_file_twice_is_stored_once(docs: Docs):
    data = text_pdf(["Báo cáo"])
    ids = []
    for title in ("Báo cáo", "Báo cáo (bản 2)"):
        status, document = await docs.upload("secretary", data, title=title)
        assert status == 201
        ids.append(document["id"])
    assert ids[0] != ids[1]
    assert len(docs.stored_files()) == 1


async def test_who_may_do_what(docs: Docs, server: Server, http: aiohttp.ClientSession):
    document = await docs.published(text_pdf(["Công khai"]))
    doc_id = document["id"]
    before = await db_snapshot(server)
    for who in ("delegate", "observer", "endpoint"):
        status, error = await docs.upload(who, text_pdf(1))
        assert_error(status, error, 403, "forbidden")
        for method, tail, body in (
            ("POST", "/publish", {}),
            ("PATCH", "", {"title": "Đổi"}),
            ("GET", "/receipts", None),
        ):
            status, error = await docs.api[who].request(method, docs.path(doc_id, tail), json=body)
            assert_error(status, error, 403, "forbidden")
    assert_same_db(before, await db_snapshot(server), "forbidden document actions")

    # A meeting the delegate is not part of: nothing of it is visible.
    chair = docs.api["chair"]
    status, other = await chair.post(
        "/meetings",
        {
            "title": "Họp nội bộ",
            "starts_at": "2026-12-01T08:00:00+07:00",
            "chair_id": docs.world.accounts["chair"],
        },
    )
    assert status == 201, other
    docs.meeting = other["id"]
    secret = await docs.published(text_pdf(["Nội bộ"]), who="chair")  # the chair's meeting
    for who in ("delegate", "observer", "endpoint", "secretary"):
        for tail in ("", f"/{secret['id']}", f"/{secret['id']}/file", f"/{secret['id']}/comments"):
            status, error = await docs.api[who].get(docs.path(None, tail))
            assert status in (403, 404), (who, tail, status)
            assert error["error"]["code"] in ("forbidden", "not_found")
        status, error = await docs.api[who].get(docs.path(None, "/search?q=noi"))
        assert status == 403
    # And the document of one meeting is not reachable through another meeting's path.
    docs.meeting = docs.world.meeting_id
    status, error = await docs.api["chair"].get(docs.path(secret["id"]))
    assert_error(status, error, 404, "not_found")


async def test_confidential_documents_are_stamped_per_recipient(docs: Docs):
    data = text_pdf(["Tài liệu mật trang 1", "Tài liệu mật trang 2"])
    document = await docs.published(data, confidential=True)
    path = docs.path(document["id"], "/file")

    status, copy, headers = await _get(docs.api["delegate"], path)
    assert status == 200 and copy != data
    pages = PdfReader(io.BytesIO(copy)).pages
    assert len(pages) == 2
    for page in pages:
        text = page.extract_text()
        assert "Người delegate" in text and "Tỉnh Quảng Ninh" in text
    # Cached: the same file again, revalidated by its ETag.
    status, again, headers2 = await _get(docs.api["delegate"], path)
    assert again == copy and headers2["ETag"] == headers["ETag"]
    status, _, _ = await _get(docs.api["delegate"], path, **{"If-None-Match": headers["ETag"]})
    assert status == 304

    status, endpoint_copy, _ = await _get(docs.api["endpoint"], path)
    assert status == 200 and endpoint_copy not in (data, copy)
    assert "Điểm cầu" in PdfReader(io.BytesIO(endpoint_copy)).pages[0].extract_text()
    # Hosts and the administrator get the original.
    for who in ("secretary", "chair", "admin"):
        status, original, _ = await _get(docs.api[who], path)
        assert status == 200 and original == data, who


async def test_scheduled_publication_is_announced_when_due(docs: Docs, server: Server):
    status, document = await docs.upload("secretary", text_pdf(["Hẹn giờ"]))
    assert status == 201
    listener = await sio_client(server, docs.world.tokens["delegate"])
    events = Recorder()
    events.attach(listener)
    try:
        assert (await call(listener, "join", {"meeting_id": docs.meeting}))["ok"]
        when = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        status, scheduled = await docs.api["secretary"].post(
            docs.path(document["id"], "/publish"), {"publish_at": when}
        )
        assert status == 200 and scheduled["state"] == "scheduled"
        status, listed = await docs.api["delegate"].get(docs.path())
        assert listed == []
        await wait_for(lambda: events.named("document.published"), within=10)
        [announced] = events.named("document.published")
        assert announced["id"] == document["id"] and announced["state"] == "published"
        status, listed = await docs.api["delegate"].get(docs.path())
        assert [d["id"] for d in listed] == [document["id"]]
    finally:
        await listener.disconnect()
    # Naive times are refused: the secretary's clock zone must be explicit.
    status, error = await docs.api["secretary"].post(
        docs.path(document["id"], "/publish"), {"publish_at": "2030-01-01T08:00:00"}
    )
    assert_error(status, error, 422, "validation_error")


async def test_versions_comments_and_search(docs: Docs, server: Server):
    document = await docs.published(text_pdf(["Nghị quyết về đất đai", "Trang hai"]))
    doc_id = document["id"]
    listener = await sio_client(server, docs.world.tokens["observer"])
    events = Recorder()
    events.attach(listener)
    try:
        assert (await call(listener, "join", {"meeting_id": docs.meeting}))["ok"]
        form = aiohttp.FormData()
        form.add_field(
            "file",
            text_pdf(["Nghị quyết về đất đai (sửa đổi)", "Trang hai", "Trang ba"]),
            filename="nghi-quyet-v2.pdf",
            content_type="application/pdf",
        )
        status, updated = await docs.api["secretary"].post(
            docs.path(doc_id, "/versions"), data=form
        )
        assert status == 201, updated
        assert updated["current_version"] == 2 and updated["version"]["pages"] == 3
        await wait_for(lambda: events.named("document.updated"))

        status, comment = await docs.api["delegate"].post(
            docs.path(doc_id, "/comments"), {"page": 3, "body": "Trang 3 thiếu số liệu"}
        )
        assert status == 201, comment
        assert comment["version"] == 2 and comment["page"] == 3
        await wait_for(lambda: events.named("document.commented"))
        assert events.named("document.commented")[0]["body"] == "Trang 3 thiếu số liệu"
    finally:
        await listener.disconnect()
    before = await db_snapshot(server)
    for body in ({"page": 4, "body": "x"}, {"page": 1, "body": ""}, {"page": 0, "body": "x"}):
        status, error = await docs.api["delegate"].post(docs.path(doc_id, "/comments"), body)
        assert status == 422, (body, error)
    assert_same_db(before, await db_snapshot(server), "refused comments")
    status, comments = await docs.api["endpoint"].get(docs.path(doc_id, "/comments"))
    assert status == 200 and [c["id"] for c in comments] == [comment["id"]]

    status, detail = await docs.api["delegate"].get(docs.path(doc_id))
    assert [v["number"] for v in detail["versions"]] == [1, 2]
    status, old, _ = await _get(docs.api["delegate"], docs.path(doc_id, "/versions/1/file"))
    assert status == 200 and len(PdfReader(io.BytesIO(old)).pages) == 2

    status, hits = await docs.api["delegate"].get(docs.path(None, "/search?q=nghi%20quyet%20sua"))
    assert status == 200, hits
    assert [(h["document_id"], h["version"], h["page"]) for h in hits] == [(doc_id, 2, 1)]
    assert "Nghị quyết về đất đai (sửa đổi)" in hits[0]["snippet"]
    status, error = await docs.api["delegate"].get(docs.path(None, "/search?q="))
    assert_error(status, error, 422, "validation_error")


async def test_concurrent_downloads_record_one_receipt(docs: Docs):
    data = text_pdf(5)
    document = await docs.published(data)
    results = await asyncio.gather(
        *(_get(docs.api["delegate"], docs.path(document["id"], "/file")) for _ in range(20))
    )
    assert all(status == 200 and body == data for status, body, _ in results)
    status, receipts = await docs.api["secretary"].get(docs.path(document["id"], "/receipts"))
    assert status == 200 and len(receipts["opened"]) == 1


async def test_housekeeping_sweeps_files_no_row_refers_to(docs: Docs, server: Server):
    document = await docs.published(text_pdf(["Giữ lại"]))
    store = BlobStore(server.settings.data_dir / "documents")
    orphan = store.path("ab" * 32)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"%PDF-1.7 left by a transaction that rolled back")
    old = time.time() - 2 * housekeeping.ORPHAN_GRACE_SECONDS
    for path in (orphan, store.path(document["version"]["sha256"])):
        os.utime(path, (old, old))
    assert await housekeeping.sweep_documents(server.state.transaction, store) == ["ab" * 32]
    assert not orphan.exists() and store.has(document["version"]["sha256"])
