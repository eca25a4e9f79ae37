"""Documents without a database: PDF checks, file names, the file store, stamping, search forms."""

import hashlib
import io
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from meetings.documents.search import like_pattern, normalise, snippet, terms
from meetings.documents.stamping import StampText, stamp_pdf, stamp_text_for
from meetings.documents.storage import BlobStore, TooLarge
from meetings.documents.validation import InvalidDocument, check_filename, inspect_pdf
from meetings.errors import InvalidInput
from tests.meetings.documents_samples import (
    FONT,
    blank_pages_pdf,
    deep_page_tree_pdf,
    encrypted_pdf,
    nested_pdf,
    text_pdf,
)


def _file(tmp_path: Path, data: bytes, name: str = "in.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---- validation ---------------------------------------------------------------------------


def test_a_sound_pdf_gives_its_pages_and_their_text(tmp_path):
    path = _file(tmp_path, text_pdf(["Nghị quyết số 12", "Kế hoạch phát triển đất đai"]))
    info = inspect_pdf(path, max_pages=10, budget_seconds=30)
    assert info.pages == 2
    assert "Nghị quyết số 12" in info.texts[0]
    assert "đất đai" in info.texts[1]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"MZ\x90\x00 this is an executable renamed to .pdf" * 50, "not_pdf"),
        (b"", "not_pdf"),
        (text_pdf(3)[:-400], "truncated"),
        (encrypted_pdf(), "encrypted"),
        (blank_pages_pdf(2500), "too_many_pages"),
        (nested_pdf(100_000), "too_deep"),
        (deep_page_tree_pdf(3000), "too_deep"),
        (b"%PDF-1.7\n" + os.urandom(4000) + b"\n%%EOF\n", "damaged"),
    ],
    ids=["not-pdf", "empty", "truncated", "encrypted", "2500-pages", "nested", "deep-tree", "junk"],
)
def test_bad_pdfs_are_refused_with_a_reason(tmp_path, data, reason):
    path = _file(tmp_path, data)
    with pytest.raises(InvalidDocument) as err:
        inspect_pdf(path, max_pages=2000, budget_seconds=30)
    assert err.value.details["reason"] == reason, err.value.message
    assert err.value.code == "invalid_document"
    assert err.value.message


def test_a_pdf_truncated_in_the_middle_is_refused(tmp_path):
    data = text_pdf(20)
    path = _file(tmp_path, data[: len(data) // 2])
    with pytest.raises(InvalidDocument) as err:
        inspect_pdf(path, max_pages=2000, budget_seconds=30)
    assert err.value.details["reason"] == "truncated"


def test_the_page_limit_is_the_configured_one(tmp_path):
    path = _file(tmp_path, blank_pages_pdf(30))
    assert inspect_pdf(path, max_pages=30, budget_seconds=30).pages == 30
    with pytest.raises(InvalidDocument) as err:
        inspect_pdf(path, max_pages=29, budget_seconds=30)
    assert err.value.details["pages"] == 30


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.pdf",
        "..\\..\\boot.pdf",
        "/etc/x.pdf",
        "a/b.pdf",
        "C:\\docs\\a.pdf",
        "bad\x00name.pdf",
        "line\nbreak.pdf",
        "tab\t.pdf",
        "rtl\u202egnp.pdf",
        "..pdf",
        "",
        "   ",
        None,
        "report.exe",
        "x" * 300 + ".pdf",
    ],
)
def test_file_names_with_paths_or_control_characters_are_refused(name):
    with pytest.raises(InvalidInput):
        check_filename(name)


def test_plain_file_names_are_kept_in_nfc():
    decomposed = "Bao cao nghi\u0323 quye\u0302\u0301t.pdf"
    assert check_filename(decomposed) == "Bao cao nghị quyết.pdf"
    assert check_filename("Tờ trình số 5 (bản cuối).PDF") == "Tờ trình số 5 (bản cuối).PDF"


# ---- the file store -----------------------------------------------------------------------


async def _chunks(data: bytes, size: int = 1000):
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_the_store_hashes_while_receiving_and_keeps_one_file_per_content(tmp_path):
    store = BlobStore(tmp_path / "documents")
    data = text_pdf(2)
    with store.temp_file() as tmp:
        first = await store.receive(_chunks(data), tmp, limit=len(data))
        assert store.put(first) is True
    with store.temp_file() as tmp:
        second = await store.receive(_chunks(data), tmp, limit=len(data))
        assert store.put(second) is False
    assert first.sha256 == second.sha256
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    assert store.path(first.sha256).read_bytes() == data
    assert list(store.blobs.glob("*/*.pdf")) == [store.path(first.sha256)]
    assert list(store.tmp.iterdir()) == []  # temp files gone


async def test_an_upload_over_the_limit_stops_at_the_limit_and_leaves_nothing(tmp_path):
    store = BlobStore(tmp_path / "documents")
    received: list[int] = []

    async def endless():
        while True:
            received.append(1)
            yield b"x" * 1000

    with pytest.raises(TooLarge):
        with store.temp_file() as tmp:
            await store.receive(endless(), tmp, limit=10_000)
    assert len(received) == 11  # refused with the first chunk past the limit
    assert list(store.tmp.iterdir()) == []
    assert not store.blobs.exists()


async def test_sweep_removes_old_unreferenced_files_only(tmp_path):
    store = BlobStore(tmp_path / "documents")
    shas = []
    for data in (text_pdf(["một"]), text_pdf(["hai"]), text_pdf(["ba"])):
        with store.temp_file() as tmp:
            incoming = await store.receive(_chunks(data), tmp, limit=10**6)
            store.put(incoming)
            shas.append(incoming.sha256)
    old = time.time() - 7200
    for sha in shas[:2]:
        os.utime(store.path(sha), (old, old))
    # shas[0]: old and referenced; shas[1]: old and orphaned; shas[2]: orphaned but young.
    assert store.sweep({shas[0]}, older_than_seconds=3600) == [shas[1]]
    assert store.has(shas[0]) and not store.has(shas[1]) and store.has(shas[2])


def test_store_paths_only_take_hashes(tmp_path):
    store = BlobStore(tmp_path)
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


# ---- stamping -----------------------------------------------------------------------------


def test_every_page_is_stamped_with_the_recipient_unit_and_time(tmp_path):
    source = _file(tmp_path, text_pdf(12, landscape_every=3))
    text = stamp_text_for(
        "Nguyễn Thị Hồng Nhung", "UBND xã Thanh Sơn", datetime(2026, 11, 24, 7, 5, tzinfo=UTC)
    )
    target = tmp_path / "out.pdf"
    assert stamp_pdf(source, target, text, FONT) == 12
    original, stamped = PdfReader(source), PdfReader(target)
    assert len(stamped.pages) == 12
    for before, after in zip(original.pages, stamped.pages, strict=True):
        extracted = after.extract_text()
        assert before.extract_text().split("\n")[0] in extracted  # the page itself is intact
        assert "Nguyễn Thị Hồng Nhung" in extracted
        assert "UBND xã Thanh Sơn" in extracted
        assert "14:05 24/11/2026" in extracted  # UTC+7
        assert after.mediabox == before.mediabox


def test_rotated_and_offset_pages_are_stamped(tmp_path):
    writer = PdfWriter(clone_from=io.BytesIO(text_pdf(4)))
    for i, page in enumerate(writer.pages):
        page.rotate(90 * i)
    writer.pages[0].mediabox.lower_left = (10, 20)
    out = io.BytesIO()
    writer.write(out)
    source = _file(tmp_path, out.getvalue())
    target = tmp_path / "out.pdf"
    stamp_pdf(source, target, StampText("Trần Văn Bình", "cấp cho Trần Văn Bình"), FONT)
    for page in PdfReader(target).pages:
        assert "Trần Văn Bình" in page.extract_text()


# ---- search forms -------------------------------------------------------------------------


def test_the_search_form_drops_diacritics_case_and_spacing():
    assert normalise("  Nghị   QUYẾT\nvề Đất đai ") == "nghi quyet ve dat dai"
    assert normalise("Nghi\u0323 quye\u0302\u0301t") == "nghi quyet"  # NFD input
    assert terms("Đất  ĐAI đất") == ["dat", "dai"]


def test_a_snippet_shows_the_original_words_around_the_hit():
    text = "Phần mở đầu. " * 20 + "Nghị quyết về quy hoạch đất đai tỉnh Quảng Ninh." + " Kết." * 30
    extract = snippet(text, ["quy hoach dat"])
    assert "quy hoạch đất đai" in extract
    assert extract.startswith("…") and extract.endswith("…")


def test_like_wildcards_in_a_query_are_literal():
    assert like_pattern("50%_x") == "%50\\%\\_x%"
