"""The OpenAPI document's multipart uploads and non-JSON responses, checked against what a real
server answers (SQLite and PostgreSQL): every declared status is provoked, every declared header
is looked for, and every route seen answering with a stream must have declared it."""

import asyncio
import functools
import types
import typing
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

import signaling.app  # noqa: F401 (registers every route module on the table)
from meetings.permissions import Action
from signaling.api.content import Form, Produces, Reply, file_response
from signaling.api.openapi import build_openapi
from signaling.api.registry import Api as Registry
from signaling.api.registry import RouteSpec
from signaling.api.schemas_documents import DocumentForm, DocumentOut, PublishIn
from signaling.api.table import API
from signaling.realtime.recording_events import desk_of
from tests.harness import Api, Server, World, build_world, make_settings, wait_for
from tests.media.peers import Endpoint
from tests.meetings.documents_samples import text_pdf
from tests.signaling.helpers_authz import assert_error
from tests.signaling.test_media_signaling import SfuClient

PDF = "application/pdf"
RANGED = {"200", "206", "304", "412", "416"}  # what web.FileResponse answers besides errors
# (method, path) -> (success media type, documented non-error statuses)
FILE_ROUTES = {
    ("get", "/meetings/{meeting_id}/documents/{document_id}/file"): (PDF, RANGED),
    ("get", "/meetings/{meeting_id}/documents/{document_id}/versions/{version}/file"): (
        PDF,
        RANGED,
    ),
    ("get", "/meetings/{meeting_id}/minutes/pdf"): (PDF, RANGED),
    ("get", "/meetings/{meeting_id}/calendar.ics"): ("text/calendar", {"200"}),
    ("get", "/meetings/{meeting_id}/archive.zip"): ("application/zip", {"200"}),
    ("get", "/meetings/{meeting_id}/recordings/{recording_id}/file"): ("video/webm", RANGED),
    ("get", "/meetings/{meeting_id}/recordings/{recording_id}/tracks/{track_number}"): (
        "video/webm",
        RANGED,
    ),
}
# (method, path) -> the multipart parts it accepts (text parts besides the file)
UPLOADS = {
    ("post", "/meetings/{meeting_id}/documents"): {"title", "confidential", "agenda_item_id"},
    ("post", "/meetings/{meeting_id}/documents/{document_id}/versions"): set(),
}
SHARED_ERRORS = ("400", "401", "403", "404", "409", "413", "422", "429")
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _own(responses: dict[str, Any]) -> dict[str, Any]:
    """The responses a route documents besides the JSON errors (shared, and 415 for forms)."""
    return {code: r for code, r in responses.items() if code not in (*SHARED_ERRORS, "415")}


def _spec(method: str, path: str) -> RouteSpec:
    return next(s for s in API.routes if (s.method.lower(), s.path) == (method, path))


def _returns_stream(spec: RouteSpec) -> bool:
    """Whether the handler's return annotation admits a ``web.StreamResponse``."""
    returned = typing.get_type_hints(spec.handler).get("return")
    union = typing.get_origin(returned) in (typing.Union, types.UnionType)
    options = typing.get_args(returned) if union else (returned,)
    return any(isinstance(t, type) and issubclass(t, web.StreamResponse) for t in options)


@pytest.fixture
def answered() -> Iterator[dict[tuple[str, str], set[bool]]]:
    """(method, path) -> whether the handler returned a StreamResponse, for every call.

    The handlers are wrapped before the server installs them, so the walk below sees what each
    route really returns, not what it declares.
    """
    seen: dict[tuple[str, str], set[bool]] = {}
    originals = [(spec, spec.handler) for spec in API.routes]

    def recording(spec: RouteSpec, handler: Any) -> Any:
        @functools.wraps(handler)
        async def record(ctx: Any) -> Any:
            result = await handler(ctx)
            key = (spec.method.lower(), spec.path)
            seen.setdefault(key, set()).add(isinstance(result, web.StreamResponse))
            return result

        return record

    for spec, handler in originals:
        spec.handler = recording(spec, handler)
    try:
        yield seen
    finally:
        for spec, handler in originals:
            spec.handler = handler


@pytest.fixture
async def server(tmp_path, database_url, answered) -> AsyncIterator[Server]:
    """A running server whose route handlers are recorded (see ``answered``)."""
    srv = Server(make_settings(tmp_path / "data", database_url))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@dataclass
class Files:
    """A world with something behind every file route: a published document with two
    versions, approved minutes, a finished recording."""

    world: World
    api: dict[str, Api]
    ids: dict[str, int]  # path parameter -> a value that names something

    def url(self, path: str) -> str:
        """``path`` with its parameters filled in (1 for any this world has nothing for)."""
        for name in _param_names(path):
            path = path.replace("{" + name + "}", str(self.ids.get(name, 1)))
        return path


def _param_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


async def _upload(api: Api, path: str, fields: dict[str, str], data: bytes) -> tuple[int, Any]:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", data, filename="to-trinh.pdf", content_type=PDF)
    return await api.post(path, data=form)


@pytest.fixture
async def files(server: Server, http: aiohttp.ClientSession) -> Files:
    w = await build_world(server, http)
    base = server.url + "/api/v1"
    api = {name: Api(base, http, token=token) for name, token in w.tokens.items()}
    mid = w.meeting_id
    status, item = await api["secretary"].post(f"/meetings/{mid}/agenda", {"title": "Dự toán"})
    assert status == 201, item
    # Every text part the upload declares, so the walk also shows the server accepts them all.
    status, document = await _upload(
        api["secretary"],
        f"/meetings/{mid}/documents",
        {"title": "Tờ trình", "confidential": "false", "agenda_item_id": str(item["id"])},
        text_pdf(["Tờ trình dự toán ngân sách"]),
    )
    assert status == 201, document
    doc = document["id"]
    status, body = await _upload(
        api["secretary"],
        f"/meetings/{mid}/documents/{doc}/versions",
        {},
        text_pdf(["Tờ trình dự toán ngân sách (sửa)"]),
    )
    assert status == 201 and body["current_version"] == 2, body
    status, body = await api["secretary"].post(f"/meetings/{mid}/documents/{doc}/publish", {})
    assert status == 200, body

    status, draft = await api["secretary"].get(f"/meetings/{mid}/minutes")
    assert status == 200, draft
    status, saved = await api["secretary"].request(
        "PUT",
        f"/meetings/{mid}/minutes",
        json={"version": 0, "sections": draft["sections"], "free_text": "Thống nhất."},
    )
    assert status == 200, saved
    status, sub = await api["secretary"].post(
        f"/meetings/{mid}/minutes/submit", {"version": saved["version"]}
    )
    assert status == 200, sub
    status, done = await api["chair"].post(
        f"/meetings/{mid}/minutes/approve", {"version": sub["version"]}
    )
    assert status == 200 and done["state"] == "approved", done
    # A recording of the chair's microphone (audio only: cheap), with its own track file.
    status, body = await api["chair"].post(f"/meetings/{mid}/start")
    assert status == 200, body
    desk_of(server.state.signaling).tracks = True  # as PHONGHOP_RECORDING_TRACKS=true does
    voice = await SfuClient.join(server, w.tokens["chair"], mid, Endpoint(video=False))
    try:
        await wait_for(lambda: server.state.signaling.media.conferences[mid].producers, within=10)
        status, recording = await api["chair"].post(f"/meetings/{mid}/recording")
        assert status == 201, recording
        await asyncio.sleep(0.5)
        status, body = await api["chair"].request("DELETE", f"/meetings/{mid}/recording")
        assert status == 200 and body["state"] == "ready", body
        status, body = await api["chair"].get(f"/meetings/{mid}/recordings/{recording['id']}")
        assert status == 200 and len(body["tracks"]) == 1, body
    finally:
        await voice.close()
    ids = {
        "meeting_id": mid,
        "document_id": doc,
        "version": 1,
        "item_id": item["id"],
        "unit_id": w.province,
        "account_id": w.accounts["delegate"],
        "endpoint_id": w.endpoints[0],
        "recording_id": recording["id"],
        "track_number": 1,
    }
    return Files(w, api, ids)


async def _raw(files: Files, who: str, path: str, **headers: str) -> tuple[int, Any, bytes]:
    api = files.api[who]
    headers = {"Authorization": f"Bearer {api.token}", **headers}
    async with api.http.get(api.base + files.url(path), headers=headers) as r:
        return r.status, r.headers, await r.read()


async def test_document_declares_uploads_and_files_and_validates(server: Server, http):
    status, doc = await Api(server.url, http).get("/api/v1/openapi.json")
    assert status == 200
    validate(doc, cls=OpenAPIV31SpecValidator)
    schemas = doc["components"]["schemas"]

    for (method, path), (media_type, statuses) in FILE_ROUTES.items():
        op = doc["paths"][API.prefix + path][method]
        where = f"{method} {path}"
        assert set(_own(op["responses"])) == statuses, where
        success = op["responses"]["200"]
        assert list(success["content"]) == [media_type], where
        schema = success["content"][media_type]["schema"]
        assert schema["type"] == "string" and schema["contentMediaType"] == media_type, where
        assert "Content-Disposition" in success["headers"], where
        if statuses == RANGED:
            assert {"ETag", "Last-Modified", "Accept-Ranges"} <= success["headers"].keys(), where
            partial = op["responses"]["206"]
            assert list(partial["content"]) == [media_type], where
            assert "Content-Range" in partial["headers"], where
            assert "ETag" in op["responses"]["304"]["headers"], where
            assert "Content-Range" in op["responses"]["416"]["headers"], where
            for bodiless in ("304", "412", "416"):
                assert "content" not in op["responses"][bodiless], where
            asked = {p["name"] for p in op["parameters"] if p["in"] == "header"}
            assert {"Range", "If-Range", "If-None-Match", "If-Match"} <= asked, where

    for (method, path), text_parts in UPLOADS.items():
        op = doc["paths"][API.prefix + path][method]
        where = f"{method} {path}"
        assert list(op["requestBody"]["content"]) == ["multipart/form-data"], where
        form = op["requestBody"]["content"]["multipart/form-data"]
        assert set(form["schema"]["properties"]) == {"file", *text_parts}, where
        assert form["schema"]["required"] == ["file"], where
        assert form["schema"]["additionalProperties"] is False, where
        assert form["schema"]["properties"]["file"]["contentMediaType"] == PDF, where
        assert form["encoding"] == {"file": {"contentType": PDF}}, where
        assert op["responses"]["201"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/DocumentOut"
        }, where
        assert op["responses"]["415"]["content"] == ERROR_CONTENT, where
    properties = doc["paths"][API.prefix + "/meetings/{meeting_id}/documents"]["post"][
        "requestBody"
    ]["content"]["multipart/form-data"]["schema"]["properties"]
    assert properties["confidential"]["type"] == "boolean"
    assert {"type": "integer", "minimum": 1, "maximum": 2**31 - 1} in properties["agenda_item_id"][
        "anyOf"
    ]
    assert "DocumentOut" in schemas

    # Every route keeps the shared JSON errors; the JSON routes say nothing but JSON.
    for spec in API.routes:
        op = doc["paths"][API.prefix + spec.path][spec.method.lower()]
        where = f"{spec.method} {spec.path}"
        for code in SHARED_ERRORS:
            assert op["responses"][code]["content"] == ERROR_CONTENT, where
        if spec.form is None and spec.produces is None:
            assert (spec.method.lower(), spec.path) not in FILE_ROUTES.keys() | UPLOADS.keys()
            media = {m for r in op["responses"].values() for m in r.get("content", {})}
            media |= set(op.get("requestBody", {}).get("content", {}))
            assert media == {"application/json"}, where


async def test_file_routes_answer_every_declared_status_with_its_headers(server, http, files):
    status, doc = await Api(server.url, http).get("/api/v1/openapi.json")
    assert status == 200
    for (method, path), (media_type, _) in FILE_ROUTES.items():
        op = doc["paths"][API.prefix + path][method]
        declared = _own(op["responses"])
        status, headers, body = await _raw(files, "chair", path)
        assert status == 200, (path, body)
        etag = headers.get("ETag", '"none"')
        # How to make the server give each status a file route may document.
        provoke = {
            "200": {},
            "206": {"Range": "bytes=0-9"},
            "304": {"If-None-Match": etag},
            "412": {"If-Match": '"not-this-one"'},
            "416": {"Range": f"bytes={len(body) + 10}-"},
        }
        assert declared.keys() <= provoke.keys(), f"{path}: teach this test {declared.keys()}"
        for code, reply in declared.items():
            status, headers, answer = await _raw(files, "chair", path, **provoke[code])
            where = f"{path} {code}"
            assert str(status) == code, (where, answer[:200])
            if "content" in reply:
                [declared_type] = reply["content"]
                assert headers["Content-Type"].split(";")[0] == declared_type == media_type, where
                assert answer, where
            else:
                assert answer == b"", where
            missing = {h.lower() for h in reply.get("headers", {})} - {h.lower() for h in headers}
            assert not missing, f"{where}: declared but not sent: {missing}"
        if "206" in declared:
            _, headers, part = await _raw(files, "chair", path, Range="bytes=0-9")
            assert part == body[:10] and headers["Content-Range"] == f"bytes 0-9/{len(body)}"

    # The multipart routes take exactly the parts they declare; anything else is refused.
    mid, doc_id = files.ids["meeting_id"], files.ids["document_id"]
    secretary = files.api["secretary"]
    data = text_pdf(["Phụ lục"])
    for (_, path), text_parts in UPLOADS.items():
        spec = _spec("post", path)
        assert spec.form is not None and spec.form.part_names == {"file", *text_parts}
        status, error = await _upload(secretary, files.url(path), {"undeclared": "x"}, data)
        assert_error(status, error, 422, "validation_error")
        status, error = await secretary.post(files.url(path), {"title": "JSON, not multipart"})
        assert_error(status, error, 415, "unsupported_media_type")
    status, error = await _upload(
        secretary, f"/meetings/{mid}/documents/{doc_id}/versions", {"title": "x"}, data
    )
    assert_error(status, error, 422, "validation_error")


async def test_every_route_answering_with_a_stream_declares_it(server, http, files, answered):
    # Statically: a handler that may return a StreamResponse declares what it produces.
    for spec in API.routes:
        where = f"{spec.method} {spec.path}"
        assert _returns_stream(spec) == (spec.produces is not None), where

    # On the server: call every GET route; whatever really answered with a stream must have
    # declared it, with the media type it sent.
    sent: dict[tuple[str, str], str] = {}
    for spec in API.routes:
        if spec.method != "GET":
            continue
        key = ("get", spec.path)
        for who in ("chair", "admin", "secretary"):
            status, headers, _ = await _raw(files, who, spec.path)
            if status < 400:
                sent[key] = headers.get("Content-Type", "").split(";")[0]
                break
    for key, streams in answered.items():
        where = " ".join(key)
        spec = _spec(*key)
        if True in streams:
            assert spec.produces is not None, f"{where} returns a StreamResponse undeclared"
        if key in sent:
            expected = spec.produces.media_type if spec.produces else "application/json"
            assert sent[key] in (expected, ""), where  # "" : 204 No Content
    reached = {key for key, streams in answered.items() if True in streams}
    assert reached == {k for k in FILE_ROUTES if k[0] == "get"}, reached
    assert {("get", s.path) for s in API.routes if s.produces is not None} <= sent.keys()


async def _nothing(ctx: Any) -> None:
    return None


def test_a_route_declares_one_request_body_and_one_success_body():
    pdf = Form({"file": PDF})
    with pytest.raises(ValueError, match="either body or form"):
        RouteSpec("POST", "/x", _nothing, None, "x", body=PublishIn, form=pdf)
    with pytest.raises(ValueError, match="either response or produces"):
        RouteSpec(
            "GET", "/x", _nothing, None, "x", response=DocumentOut, produces=file_response(PDF, "x")
        )
    assert Form({"file": PDF}, DocumentForm).part_names == {
        "file",
        "title",
        "confidential",
        "agenda_item_id",
    }


def test_a_file_route_cannot_redefine_the_shared_json_errors():
    api = Registry()
    odd = Produces(PDF, "a file", replies={404: Reply("no such file (no body)")})
    api.route(
        "GET", "/meetings/{meeting_id}/x", action=Action.DOCUMENT_VIEW, summary="x", produces=odd
    )(_nothing)
    with pytest.raises(ValueError, match=r"\['404'\] are errors"):
        build_openapi(api, "test")
