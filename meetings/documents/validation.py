"""Checks on what is uploaded: the file name, and the PDF itself (pypdf, in a worker thread)."""

import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import LimitReachedError

from meetings.errors import InvalidInput

MAX_FILENAME = 255
MAX_PAGE_TEXT = 100_000  # characters of text kept per page (search needs no more)
_HEAD_WINDOW = 1024  # the PDF header may follow up to 1 KiB of junk; so may the %%EOF marker


class InvalidDocument(InvalidInput):
    """The upload is not an acceptable PDF (HTTP 422 with a message saying why)."""

    code = "invalid_document"


@dataclass(frozen=True, slots=True)
class PdfInfo:
    """What validation learned: the page count and each page's text."""

    pages: int
    texts: list[str]


def check_filename(name: str | None) -> str:
    """The client's file name, if it is a plain name ending in ``.pdf``; else ``InvalidInput``.

    Refused: paths (``/``, ``\\``, ``..``), NUL and other control characters, empty names.
    The name is only ever shown, never used to build a path, but a name like that is an attack
    or a broken client, and saying so is better than silently rewriting it.
    """
    if name is None or not name.strip():
        raise InvalidInput("the upload needs a file name", field="file")
    name = unicodedata.normalize("NFC", name)
    if len(name) > MAX_FILENAME:
        raise InvalidInput(f"the file name is longer than {MAX_FILENAME} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise InvalidInput("the file name contains control characters")
    if "/" in name or "\\" in name or name.startswith(".."):
        raise InvalidInput("the file name must not contain a path")
    if not name.lower().endswith(".pdf"):
        raise InvalidInput("only PDF files (.pdf) can be uploaded")
    return name.strip()


def _check_envelope(path: Path) -> None:
    """Header and end marker, read from disk: the cheapest way to tell a non-PDF or a cut file."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(_HEAD_WINDOW)
        f.seek(max(0, size - _HEAD_WINDOW))
        tail = f.read(_HEAD_WINDOW)
    if b"%PDF-" not in head:
        raise InvalidDocument("the file is not a PDF (no PDF header)", reason="not_pdf")
    if b"%%EOF" not in tail:
        raise InvalidDocument(
            "the PDF is truncated (no end-of-file marker); upload the complete file",
            reason="truncated",
        )


def _damaged(exc: BaseException) -> InvalidDocument:
    chain: BaseException | None = exc
    while chain is not None:
        if isinstance(chain, RecursionError | LimitReachedError):
            return InvalidDocument(
                "the PDF's object tree is nested too deeply to be processed safely",
                reason="too_deep",
            )
        chain = chain.__cause__ or chain.__context__
    return InvalidDocument("the PDF is damaged and cannot be read", reason="damaged")


def inspect_pdf(path: Path, max_pages: int, budget_seconds: float) -> PdfInfo:
    """Validate the PDF at ``path`` and extract its text, page by page.

    Blocking and CPU-bound: run it in a worker thread. The work is bounded by ``max_pages``
    (counted before any page is read) and by ``budget_seconds`` of extraction; deep nesting,
    which pypdf meets by recursion, is refused rather than allowed to exhaust the stack.
    """
    _check_envelope(path)
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise InvalidDocument(
                "the PDF is encrypted or password-protected; upload an unprotected copy",
                reason="encrypted",
            )
        pages = len(reader.pages)
    except InvalidDocument:
        raise
    except Exception as exc:  # pypdf raises many kinds (and RecursionError) on a broken file
        raise _damaged(exc) from exc
    if pages == 0:
        raise InvalidDocument("the PDF has no pages", reason="empty")
    if pages > max_pages:
        raise InvalidDocument(
            f"the PDF has {pages} pages; at most {max_pages} are accepted",
            reason="too_many_pages",
            pages=pages,
            max_pages=max_pages,
        )
    deadline = time.monotonic() + budget_seconds
    texts: list[str] = []
    for number, page in enumerate(reader.pages, start=1):
        if time.monotonic() > deadline:
            raise InvalidDocument(
                "the PDF is too complex to process in reasonable time", reason="too_complex"
            )
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # pypdf raises many kinds on a broken content stream
            err = _damaged(exc)
            err.details["page"] = number
            raise err from exc
        texts.append(unicodedata.normalize("NFC", text.replace("\x00", ""))[:MAX_PAGE_TEXT])
    return PdfInfo(pages, texts)
