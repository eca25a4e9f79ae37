"""Uploads hold no database transaction while their body streams in (real server, both backends).

A document upload from a commune link may take minutes; while its body arrives the server must
not keep a pooled connection (nor, on SQLite, a read snapshot). Access is checked before the
body is read and again, in the writing transaction, once it is in.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from signaling.api.registry import Api as RouteTable
from signaling.api.schemas_documents import DocumentPatch
from tests.harness import Api, Server, World, wait_for
from tests.meetings.documents_samples import text_pdf
from tests.signaling.helpers_authz import assert_error, assert_same_db, db_snapshot

BOUNDARY = "phonghop-slow-upload"


class SlowUpload:
    """A multipart upload whose body stops half way until ``release()``."""

    def __init__(self, pdf: bytes, title: str | None = None) -> None:
        # The file part first: its temp file exists as soon as the part's headers are in (a
        # text field before it would wait for bytes past its end before it is read).
        head = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="to-trinh.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        tail = b"\r\n"
        if title is not None:
            tail += (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n{title}\r\n'
            ).encode()
        tail += f"--{BOUNDARY}--\r\n".encode()
        half = len(pdf) // 2
        self.first = head + pdf[:half]
        self.rest = pdf[half:] + tail
        self._released = asyncio.Event()

    def release(self) -> None:
        """Let the rest of the body go."""
        self._released.set()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body: sent chunked, paused in the middle of the file."""
        yield self.first
        await self._released.wait()
        yield self.rest

    def send(self, api: Api, path: str) -> "asyncio.Task[tuple[int, Any]]":
        """Start the POST in the background."""
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        return asyncio.create_task(api.post(path, data=self.chunks(), headers=headers))


def _clients(server: Server, http: aiohttp.ClientSession, world: World) -> dict[str, Api]:
    base = server.url + "/api/v1"
    return {name: Api(base, http, token=token) for name, token in world.tokens.items()}


def _documents_dir(server: Server) -> Path:
    return server.settings.data_dir / "documents"


def _files(server: Server, sub: str) -> list[str]:
    root = _documents_dir(server) / sub
    return sorted(str(p) for p in root.rglob("*.*")) if root.exists() else []


async def _wait_receiving(server: Server, count: int) -> None:
    """Until ``count`` handlers are writing their upload's temp file (phase one is over)."""
    await wait_for(lambda: len(_files(server, "tmp")) == count)


async def _document(api: Api, meeting_id: int) -> int:
    form = aiohttp.FormData()
    form.add_field("file", text_pdf(["Bản đầu"]), filename="ban-dau.pdf")
    status, document = await api.post(f"/meetings/{meeting_id}/documents", data=form)
    assert status == 201, document
    return document["id"]


@pytest.mark.parametrize("kind", ["document", "version"])
async def test_a_slow_upload_holds_no_pooled_connection(server, http, world, kind):
    api = _clients(server, http, world)
    m = f"/meetings/{world.meeting_id}/documents"
    targets = {}
    if kind == "version":
        for who in ("secretary", "chair", "admin"):
            targets[who] = f"{m}/{await _document(api[who], world.meeting_id)}/versions"
    else:
        targets = dict.fromkeys(("secretary", "chair", "admin"), m)
    uploads = {
        who: SlowUpload(
            text_pdf([f"Tờ trình của {who}", "Phụ lục"]),
            title=f"Tờ trình {who}" if kind == "document" else None,
        )
        for who in targets
    }
    tasks = {who: upload.send(api[who], targets[who]) for who, upload in uploads.items()}
    try:
        await _wait_receiving(server, len(uploads))
        # Three bodies half received: none of them keeps a connection checked out of the pool
        # (background tasks may take one for a moment, so wait for a quiet instant).
        pool = server.state.engine.pool
        await wait_for(lambda: pool.checkedout() == 0)
        # Other requests go through meanwhile, reads and writes.
        status, listed = await api["delegate"].get(f"/meetings/{world.meeting_id}")
        assert status == 200, listed
        status, listed = await api["chair"].get(m)
        assert status == 200 and len(listed) == (3 if kind == "version" else 0), listed
        status, item = await api["chair"].post(
            f"/meetings/{world.meeting_id}/agenda", {"title": "Dự toán"}
        )
        assert status == 201, item
        assert not any(task.done() for task in tasks.values())
    finally:
        for upload in uploads.values():
            upload.release()
    for who, task in tasks.items():
        status, document = await task
        assert status == 201, (who, document)
        assert document["version"]["number"] == (2 if kind == "version" else 1)
        assert document["version"]["pages"] == 2
        assert kind == "version" or document["title"] == f"Tờ trình {who}"
    status, listed = await api["chair"].get(m)
    assert status == 200 and len(listed) == 3
    assert _files(server, "tmp") == []


async def _replace_secretary(server: Server, api: dict[str, Api], world: World) -> None:
    status, body = await api["chair"].patch(
        f"/meetings/{world.meeting_id}", {"secretary_id": world.accounts["chair"]}
    )
    assert status == 200, body


async def _disable_secretary(server: Server, api: dict[str, Api], world: World) -> None:
    status, body = await api["admin"].patch(
        f"/accounts/{world.accounts['secretary']}", {"active": False}
    )
    assert status == 200, body


@pytest.mark.parametrize(
    ("kind", "change", "status", "code"),
    [
        ("document", _replace_secretary, 403, "forbidden"),
        ("version", _replace_secretary, 403, "forbidden"),
        ("document", _disable_secretary, 401, "unauthenticated"),
    ],
    ids=["document-secretary-replaced", "version-secretary-replaced", "document-account-disabled"],
)
async def test_access_is_checked_again_once_the_body_is_in(
    server, http, world, kind, change, status, code
):
    api = _clients(server, http, world)
    path = f"/meetings/{world.meeting_id}/documents"
    if kind == "version":
        path += f"/{await _document(api['secretary'], world.meeting_id)}/versions"
    upload = SlowUpload(text_pdf(["Tờ trình bổ sung"]))
    task = upload.send(api["secretary"], path)
    try:
        await _wait_receiving(server, 1)
        # The secretary passed the first check; now they lose the right to upload.
        await change(server, api, world)
        before, blobs = await db_snapshot(server), _files(server, "blobs")
    finally:
        upload.release()
    got, error = await task
    assert_error(got, error, status, code)
    assert_same_db(before, await db_snapshot(server), "a refused upload")
    assert _files(server, "blobs") == blobs and _files(server, "tmp") == []


def test_a_streaming_route_takes_no_body_model():
    with pytest.raises(ValueError, match="streams_body"):
        RouteTable().route(
            "POST", "/x", action=None, summary="x", body=DocumentPatch, streams_body=True
        )
