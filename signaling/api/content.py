"""What a route receives or sends besides JSON: multipart uploads and file downloads.

Declared on the route itself (``API.route(form=..., produces=...)``) next to its JSON models, so
the OpenAPI document is generated from the same declaration as the route and cannot leave a
file route undocumented.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

Schema = dict[str, Any]


def body_schema(media_type: str) -> Schema:
    """The JSON Schema of a whole body (or file part) of ``media_type``.

    OpenAPI 3.1 names the media type with ``contentMediaType``; ``format: binary`` is kept on
    non-text types because 3.0-era tools (Swagger UI's file picker) still look for it.
    """
    schema: Schema = {"type": "string", "contentMediaType": media_type}
    if not media_type.startswith("text/"):
        schema["format"] = "binary"
    return schema


@dataclass(frozen=True)
class Form:
    """A ``multipart/form-data`` request body, read by the handler itself (not as JSON)."""

    files: Mapping[str, str]  # part name -> media type of the (required) file it carries
    fields: type[BaseModel] | None = None  # the text parts, as the handler validates them

    @property
    def part_names(self) -> frozenset[str]:
        """Every part the route accepts; any other part is refused."""
        text = self.fields.model_fields if self.fields is not None else {}
        return frozenset(self.files) | frozenset(text)


@dataclass(frozen=True)
class Reply:
    """A documented response besides the success and the JSON errors every route shares."""

    description: str
    media_type: str | None = None  # None: the response has no body
    headers: Mapping[str, str] = field(default_factory=dict)  # response header -> meaning


@dataclass(frozen=True)
class Produces:
    """A success response that is not JSON (a file, a stream), and what comes with it."""

    media_type: str
    description: str
    headers: Mapping[str, str] = field(default_factory=dict)  # response header -> meaning
    replies: Mapping[int, Reply] = field(default_factory=dict)  # other statuses: 206, 304, ...
    request_headers: Mapping[str, str] = field(default_factory=dict)  # honoured: Range, If-*


# What aiohttp's ``web.FileResponse`` answers on its own, before any byte of the file is sent.
_VALIDATORS = {
    "ETag": "Strong validator of the file, for If-None-Match and If-Match",
    "Last-Modified": "Modification time of the file, for If-Modified-Since and If-Range",
}
_RANGE_REQUEST_HEADERS = {
    "Range": "One byte range (`bytes=first-last`, `bytes=first-`, `bytes=-suffix`): "
    "answered with 206, or 416 when it starts past the end",
    # aiohttp reads If-Range as a date only; the files never change in place (stored by hash).
    "If-Range": "An HTTP date: the range if the file is not newer, else the whole file (200)",
    "If-None-Match": "304 when it matches the ETag",
    "If-Modified-Since": "304 when the file is not newer (ignored with If-None-Match)",
    "If-Match": "412 unless it matches the ETag",
    "If-Unmodified-Since": "412 when the file is newer (ignored with If-Match)",
}


def file_response(
    media_type: str, description: str, headers: Mapping[str, str] | None = None
) -> Produces:
    """A file served by ``web.FileResponse``: byte ranges and conditional requests.

    ``headers`` are the ones the route adds itself (Content-Disposition, ...); they come with
    the whole file and with a range of it.
    """
    extra = dict(headers or {})
    return Produces(
        media_type,
        description,
        headers={**_VALIDATORS, "Accept-Ranges": "`bytes`: byte ranges are served", **extra},
        replies={
            206: Reply(
                "Partial Content: the byte range asked for",
                media_type,
                {
                    "Content-Range": "`bytes first-last/size`",
                    **_VALIDATORS,
                    "Accept-Ranges": "`bytes`",
                    **extra,
                },
            ),
            304: Reply(
                "Not Modified: the copy the client holds is current (no body)", None, _VALIDATORS
            ),
            412: Reply("Precondition Failed: If-Match or If-Unmodified-Since failed (no body)"),
            416: Reply(
                "Range Not Satisfiable: the range starts past the end (no body)",
                None,
                {"Content-Range": "`bytes */size`: the file's length"},
            ),
        },
        request_headers=_RANGE_REQUEST_HEADERS,
    )


def content_disposition(filename: str, kind: str = "inline") -> str:
    """``Content-Disposition`` for a download named ``filename`` (Vietnamese names too).

    An ASCII fallback for old clients, and the real name as RFC 5987 ``filename*``.
    """
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
