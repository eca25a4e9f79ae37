"""The meeting's archive bundle: every file in it, a manifest that tells the truth, streamed."""

import csv
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from meetings import db
from meetings.documents.storage import BlobStore
from meetings.errors import Conflict
from meetings.minutes import archive
from meetings.models import Meeting
from tests.meetings.test_minutes import approved_meeting, config_for, seed_meeting

NOW = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


async def _zip(files: list[archive.Entry], meeting_id: int, **kw: object) -> tuple[bytes, list]:
    chunks = [chunk async for chunk in archive.stream(files, meeting_id, NOW, **kw)]
    return b"".join(chunks), chunks


def _store_documents(root) -> tuple[BlobStore, dict[str, bytes]]:
    store = BlobStore(root)
    files = {}
    for n in (1, 2):
        data = b"%PDF-1.7\n" + f"tài liệu phiên bản {n}".encode() + bytes(range(256)) * 50
        digest = hashlib.sha256(data).hexdigest()
        path = store.path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[digest] = data
    return store, files


async def test_the_bundle_holds_every_file_and_a_true_manifest(sessions, org, tmp_path):
    documents, files = _store_documents(tmp_path / "documents")
    hashes = tuple(files)
    mid, minutes = await approved_meeting(sessions, org, tmp_path, document_hashes=hashes)
    config = config_for(tmp_path)
    async with sessions() as s:
        entries = await archive.entries(s, await s.get(Meeting, mid), config, documents)
    data, _ = await _zip(entries, mid)
    bundle = zipfile.ZipFile(io.BytesIO(data))
    assert bundle.testzip() is None
    names = bundle.namelist()
    assert names == [
        f"bien-ban/bien-ban-hop-{mid}.pdf",
        f"bien-ban/bien-ban-hop-{mid}.json",
        f"tai-lieu/{_doc_id(names)}-Dự-thảo-báo-cáo/v1.pdf",
        f"tai-lieu/{_doc_id(names)}-Dự-thảo-báo-cáo/v2.pdf",
        "bieu-quyet/ket-qua.csv",
        "bieu-quyet/ket-qua.json",
        "manifest.json",
        "SHA256SUMS",
    ]
    pdf = bundle.read(names[0])
    assert hashlib.sha256(pdf).hexdigest() == minutes.pdf_sha256
    assert [bundle.read(n) for n in names[2:4]] == [files[h] for h in hashes]
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["meeting_id"] == mid
    assert [f["name"] for f in manifest["files"]] == names[:-2]
    for item in manifest["files"]:
        content = bundle.read(item["name"])
        assert item["sha256"] == hashlib.sha256(content).hexdigest()
        assert item["size"] == len(content)
    sums = bundle.read("SHA256SUMS").decode().splitlines()
    assert sums == [f"{f['sha256']}  {f['name']}" for f in manifest["files"]]
    record = json.loads(bundle.read(names[1]))
    assert record["pdf_sha256"] == minutes.pdf_sha256 and record["state"] == "approved"
    assert record["sections"]["meeting"]["title"] == "Họp Ủy ban nhân dân tỉnh tháng 11"
    rows = list(
        csv.DictReader(io.StringIO(bundle.read("bieu-quyet/ket-qua.csv").decode("utf-8-sig")))
    )
    assert [(r["poll"], r["option"], r["votes"]) for r in rows] == [
        ("Thông qua báo cáo", "yes", "2"),
        ("Thông qua báo cáo", "no", "1"),
        ("Thông qua báo cáo", "abstain", "0"),
    ]
    assert rows[0]["agenda_item"] == "1. Báo cáo kinh tế - xã hội" and rows[0]["secret"] == "True"
    results = json.loads(bundle.read("bieu-quyet/ket-qua.json"))
    assert results["polls"][0]["outcome"] == "passed"
    assert results["polls"][0]["result"]["required"] == 2


def _doc_id(names: list[str]) -> str:
    return next(n for n in names if n.startswith("tai-lieu/")).split("/")[1].split("-")[0]


async def test_no_bundle_before_approval_or_with_a_file_missing(sessions, org, tmp_path):
    mid = await seed_meeting(sessions, org)
    config = config_for(tmp_path)
    documents = BlobStore(tmp_path / "documents")
    async with sessions() as s:
        with pytest.raises(Conflict, match="not been approved"):
            await archive.entries(s, await s.get(Meeting, mid), config, documents)
    # Approved, but the published documents' files (hashes "a…", "b…") are not in the store.
    mid, _ = await approved_meeting(sessions, org, tmp_path)
    async with sessions() as s:
        with pytest.raises(Conflict, match="missing"):
            await archive.entries(s, await s.get(Meeting, mid), config, documents)


async def test_files_are_streamed_in_bounded_chunks(tmp_path):
    big = tmp_path / "big.pdf"
    payload = hashlib.sha256(b"seed").digest() * (6 * 1024 * 1024 // 32)  # 6 MiB
    big.write_bytes(payload)
    files = [archive.Entry("tai-lieu/1-Lớn/v1.pdf", path=big), archive.Entry("a.json", data=b"{}")]
    data, chunks = await _zip(files, 7, read_chunk=64 * 1024)
    # Handed out while being read: no chunk holds much more than one flush's worth.
    assert len(chunks) >= 6 * 1024 * 1024 // (archive.FLUSH_AT + 64 * 1024)
    assert max(len(c) for c in chunks[:-1]) <= archive.FLUSH_AT + 64 * 1024 + 1024
    bundle = zipfile.ZipFile(io.BytesIO(data))
    assert bundle.read("tai-lieu/1-Lớn/v1.pdf") == payload
    assert bundle.getinfo("tai-lieu/1-Lớn/v1.pdf").compress_type == zipfile.ZIP_STORED
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["files"][0]["sha256"] == hashlib.sha256(payload).hexdigest()


def test_safe_names_keep_vietnamese_letters_and_drop_path_tricks():
    assert archive.safe_name("Dự thảo: báo cáo/2026") == "Dự-thảo-báo-cáo-2026"
    assert archive.safe_name("../../etc/passwd") == "etc-passwd"
    assert archive.safe_name("   ") == "tai-lieu"
    assert len(archive.safe_name("x" * 500)) == 80


async def test_minutes_json_in_bundle_is_the_stored_text(sessions, org, tmp_path):
    """The structured record in the bundle is what was approved, byte for byte in meaning."""
    mid, minutes = await approved_meeting(sessions, org, tmp_path, document_hashes=())
    async with db.transaction(sessions) as s:
        entries = await archive.entries(
            s, await s.get(Meeting, mid), config_for(tmp_path), BlobStore(tmp_path / "d")
        )
    record = json.loads(entries[1].data or b"")
    assert record["free_text"] == minutes.free_text and record["version"] == minutes.version
