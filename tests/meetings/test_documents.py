"""Documents service on SQLite and PostgreSQL: versions, distribution, receipts, copies,
search and comments, each change in the audit log."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit, db
from meetings.documents import service
from meetings.documents.models import Document, DocumentCopy, DocumentState
from meetings.documents.service import Upload
from meetings.documents.storage import BlobStore
from meetings.documents.validation import inspect_pdf
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import AgendaItem, Invitation, Meeting
from tests.meetings.documents_samples import FONT, text_pdf
from tests.meetings.support import Org


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "documents")


@pytest.fixture
async def meeting(sessions: async_sessionmaker[AsyncSession], org: Org) -> Meeting:
    """Chaired by ``chair``, minuted by ``secretary``; the district and ``observer`` invited."""
    async with db.transaction(sessions) as s:
        meeting = Meeting(
            title="Họp thường kỳ tháng 11",
            starts_at=datetime(2026, 11, 24, 1, 0, tzinfo=UTC),
            chair_id=org.accounts["chair"].id,
            secretary_id=org.accounts["secretary"].id,
            created_by_id=org.accounts["secretary"].id,
        )
        s.add(meeting)
        await s.flush()
        s.add(
            Invitation(
                meeting_id=meeting.id,
                invitee_kind="unit",
                invitee_key=f"unit:{org.district}",
                unit_id=org.district,
            )
        )
        observer = org.accounts["observer"].id
        s.add(
            Invitation(
                meeting_id=meeting.id,
                invitee_kind="account",
                invitee_key=f"account:{observer}",
                account_id=observer,
            )
        )
        return meeting


async def _upload(store: BlobStore, data: bytes, filename: str = "to-trinh.pdf") -> Upload:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 4096):
            yield data[i : i + 4096]

    tmp = store.tmp / f"test-{len(data)}-{hash(data)}.part"
    store.tmp.mkdir(parents=True, exist_ok=True)
    incoming = await store.receive(chunks(), tmp, limit=10**8)
    return Upload(filename, incoming, inspect_pdf(tmp, 100, 30))


async def _create(
    sessions, org: Org, meeting: Meeting, store: BlobStore, data: bytes, **kw
) -> Document:
    upload = await _upload(store, data)
    async with db.transaction(sessions) as s:
        document, _ = await service.create_document(
            s,
            org.actor("secretary"),
            meeting,
            title=kw.pop("title", "Tờ trình"),
            confidential=kw.pop("confidential", False),
            agenda_item_id=kw.pop("agenda_item_id", None),
            upload=upload,
            store=store,
        )
        return document


async def _actions(sessions, meeting_id: int) -> list[str]:
    async with sessions() as s:
        return [e.action for e in reversed(await audit.entries(s, meeting_id))]


async def test_same_bytes_are_stored_once_and_versions_keep_history(sessions, org, meeting, store):
    data = text_pdf(["Tờ trình về kế hoạch năm 2027"])
    first = await _create(sessions, org, meeting, store, data, title="Tờ trình A")
    second = await _create(sessions, org, meeting, store, data, title="Bản sao của A")
    assert len(list(store.blobs.glob("*/*.pdf"))) == 1

    replacement = await _upload(store, text_pdf(["Tờ trình về kế hoạch năm 2027 (sửa đổi)"]))
    async with db.transaction(sessions) as s:
        version = await service.add_version(s, org.actor("secretary"), first, replacement, store)
    assert version.number == 2
    async with sessions() as s:
        document = await service.get_document(s, meeting.id, first.id, privileged=True)
        versions = await service.list_versions(s, document)
        assert document.current_version == 2
        assert [v.number for v in versions] == [1, 2]
        assert versions[0].sha256 != versions[1].sha256
        assert all(store.has(v.sha256) for v in versions)
        other = await service.get_document(s, meeting.id, second.id, privileged=True)
        assert other.current_version == 1
        reports = await audit.verify(s)
    assert len(list(store.blobs.glob("*/*.pdf"))) == 2
    assert await _actions(sessions, meeting.id) == [
        "document.created",
        "document.created",
        "document.version_added",
    ]
    assert all(r.ok for r in reports)


async def test_an_agenda_item_of_another_meeting_is_refused(sessions, org, meeting, store):
    async with db.transaction(sessions) as s:
        other = Meeting(
            title="Khác",
            starts_at=meeting.starts_at,
            chair_id=org.accounts["other_chair"].id,
            created_by_id=org.accounts["other_chair"].id,
        )
        s.add(other)
        await s.flush()
        item = AgendaItem(meeting_id=other.id, title="Mục khác")
        s.add(item)
        await s.flush()
        item_id = item.id
    with pytest.raises(InvalidInput):
        await _create(sessions, org, meeting, store, text_pdf(1), agenda_item_id=item_id)
    async with sessions() as s:
        assert (await s.exec(select(Document))).all() == []


async def test_drafts_are_seen_by_hosts_only_until_published(sessions, org, meeting, store):
    document = await _create(sessions, org, meeting, store, text_pdf(2))
    async with sessions() as s:
        assert await service.list_documents(s, meeting.id, privileged=False) == []
        assert len(await service.list_documents(s, meeting.id, privileged=True)) == 1
        with pytest.raises(NotFound):
            await service.get_document(s, meeting.id, document.id, privileged=False)
        with pytest.raises(NotFound):  # another meeting's id does not reach it either
            await service.get_document(s, meeting.id + 1, document.id, privileged=True)
    async with db.transaction(sessions) as s:
        document = await service.publish(s, org.actor("secretary"), document)
    assert document.state == DocumentState.PUBLISHED.value and document.published_at
    async with sessions() as s:
        [(listed, version)] = await service.list_documents(s, meeting.id, privileged=False)
        assert listed.id == document.id and version.number == 1
    async with db.transaction(sessions) as s:
        with pytest.raises(Conflict):
            await service.publish(s, org.actor("secretary"), document)


async def test_scheduled_publication_happens_once_when_due(sessions, org, meeting, store):
    document = await _create(sessions, org, meeting, store, text_pdf(1))
    when = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
    async with db.transaction(sessions) as s:
        document = await service.publish(
            s, org.actor("secretary"), document, when, now=when - timedelta(days=1)
        )
    assert document.state == DocumentState.SCHEDULED.value
    async with db.transaction(sessions) as s:
        assert await service.publish_due(s, now=when - timedelta(seconds=1)) == []
    async with db.transaction(sessions) as s:
        [published] = await service.publish_due(s, now=when)
    assert published.id == document.id and published.state == DocumentState.PUBLISHED.value
    async with db.transaction(sessions) as s:
        assert await service.publish_due(s, now=when + timedelta(hours=1)) == []
    async with sessions() as s:
        entries = list(reversed(await audit.entries(s, meeting.id)))
    assert [(e.action, e.actor) for e in entries[-2:]] == [
        ("document.publish_scheduled", org.actor("secretary").key),
        ("document.published", "system"),
    ]


async def test_a_scheduled_publication_can_be_cancelled(sessions, org, meeting, store):
    document = await _create(sessions, org, meeting, store, text_pdf(1))
    async with db.transaction(sessions) as s:
        with pytest.raises(Conflict):
            await service.cancel_schedule(s, org.actor("secretary"), document)
    async with db.transaction(sessions) as s:
        document = await service.publish(
            s, org.actor("secretary"), document, datetime(2099, 1, 1, tzinfo=UTC)
        )
        document = await service.cancel_schedule(s, org.actor("secretary"), document)
    assert document.state == DocumentState.DRAFT.value and document.publish_at is None
    async with db.transaction(sessions) as s:
        assert await service.publish_due(s, now=datetime(2100, 1, 1, tzinfo=UTC)) == []


async def test_receipts_are_once_per_reader_and_version(sessions, org, meeting, store):
    document = await _create(sessions, org, meeting, store, text_pdf(1))
    async with db.transaction(sessions) as s:
        document = await service.publish(s, org.actor("secretary"), document)
    invited = {
        org.actor(name).key
        for name in ("delegate", "district_delegate", "observer", "thanhson", "dondac")
    }
    async with sessions() as s:
        report = await service.receipts(s, document)
    # The district reaches its communes' accounts and endpoints; Quảng La and Lạng Sơn are out.
    assert {r.key for r in report.not_opened} == invited
    assert report.opened == []

    for reader in ("delegate", "delegate", "thanhson"):
        async with db.transaction(sessions) as s:
            version = await service.get_version(s, document)
            await service.record_open(s, org.actor(reader), document, version)
    async with sessions() as s:
        report = await service.receipts(s, document)
    assert sorted(o.reader for o in report.opened) == sorted(
        [org.actor("delegate").key, org.actor("thanhson").key]
    )
    assert {o.name for o in report.opened} == {"Người delegate", "Điểm cầu thanhson"}
    assert {r.key for r in report.not_opened} == invited - {
        org.actor("delegate").key,
        org.actor("thanhson").key,
    }
    assert (await _actions(sessions, meeting.id)).count("document.opened") == 2

    # A new version has been opened by nobody yet; the old receipts stay.
    async with db.transaction(sessions) as s:
        await service.add_version(
            s, org.actor("secretary"), document, await _upload(store, text_pdf(2)), store
        )
    async with sessions() as s:
        document = await service.get_document(s, meeting.id, document.id, privileged=True)
        report = await service.receipts(s, document)
    assert report.current_version == 2
    assert {r.key for r in report.not_opened} == invited
    assert len(report.opened) == 2


async def test_confidential_copies_are_stamped_once_per_recipient(
    sessions, org, meeting, store, tmp_path
):
    document = await _create(
        sessions, org, meeting, store, text_pdf(["Mật", "Trang hai"]), confidential=True
    )
    copies = {}
    for reader in ("delegate", "delegate", "thanhson"):
        async with db.transaction(sessions) as s:
            version = await service.get_version(s, document)
            copy = await service.confidential_copy(
                s, org.actor(reader), document, version, store, FONT
            )
            copies.setdefault(reader, []).append(copy)
    first, again = copies["delegate"]
    assert first.id == again.id and first.sha256 == again.sha256  # made once, then reused
    endpoint_copy = copies["thanhson"][0]
    assert endpoint_copy.sha256 != first.sha256
    assert endpoint_copy.sha256 != version.sha256  # never the original
    pages = PdfReader(store.path(first.sha256)).pages
    assert len(pages) == 2
    for page in pages:
        text = page.extract_text()
        assert "Người delegate" in text and "Xã Thanh Sơn" in text
    assert (
        "Điểm cầu thanhson" in PdfReader(store.path(endpoint_copy.sha256)).pages[0].extract_text()
    )
    assert (await _actions(sessions, meeting.id)).count("document.copy_issued") == 2

    # A copy lost from the disk is made again, with its original stamp time.
    store.path(first.sha256).unlink()
    async with db.transaction(sessions) as s:
        remade = await service.confidential_copy(
            s, org.actor("delegate"), document, version, store, FONT
        )
    assert remade.id == first.id and remade.stamped_at == first.stamped_at
    assert store.has(remade.sha256)
    async with sessions() as s:
        assert len((await s.exec(select(DocumentCopy))).all()) == 2
        assert await service.referenced_files(s) == {
            version.sha256,
            remade.sha256,
            endpoint_copy.sha256,
        }


async def test_search_matches_without_diacritics_and_respects_drafts(sessions, org, meeting, store):
    published = await _create(
        sessions,
        org,
        meeting,
        store,
        text_pdf(["Mở đầu", "Nghị quyết về quy hoạch đất đai tỉnh Quảng Ninh", "100% kế hoạch"]),
        title="Nghị quyết",
    )
    await _create(
        sessions, org, meeting, store, text_pdf(["Dự thảo nghị quyết mật"]), title="Dự thảo"
    )
    async with db.transaction(sessions) as s:
        await service.publish(s, org.actor("secretary"), published)
    async with sessions() as s:
        hits = await service.search(s, meeting.id, False, "nghi quyet DAT dai")
        assert [(h.document_id, h.page, h.version) for h in hits] == [(published.id, 2, 1)]
        assert "quy hoạch đất đai" in hits[0].snippet
        assert hits[0].title == "Nghị quyết"
        # Drafts are searched for hosts only.
        assert len(await service.search(s, meeting.id, True, "nghị quyết")) == 2
        assert len(await service.search(s, meeting.id, False, "nghị quyết")) == 1
        # LIKE wildcards are literal; another meeting finds nothing.
        assert [h.page for h in await service.search(s, meeting.id, False, "100%")] == [3]
        assert [h.page for h in await service.search(s, meeting.id, False, "%")] == [3]
        assert await service.search(s, meeting.id, False, "_") == []
        assert await service.search(s, meeting.id + 1, True, "nghi quyet") == []
        with pytest.raises(InvalidInput):
            await service.search(s, meeting.id, False, "   ")


async def test_comments_name_a_page_of_a_version(sessions, org, meeting, store):
    document = await _create(sessions, org, meeting, store, text_pdf(3))
    async with db.transaction(sessions) as s:
        comment = await service.add_comment(
            s, org.actor("delegate"), document, 2, "  Đề nghị sửa số liệu ở trang 2  "
        )
    assert comment.body == "Đề nghị sửa số liệu ở trang 2" and comment.page == 2
    for page, body in ((0, "x"), (4, "x"), (1, "   ")):
        async with db.transaction(sessions) as s:
            with pytest.raises(InvalidInput):
                await service.add_comment(s, org.actor("delegate"), document, page, body)
    async with db.transaction(sessions) as s:
        with pytest.raises(NotFound):
            await service.add_comment(s, org.actor("delegate"), document, 1, "x", 9)
    async with sessions() as s:
        [(listed, number)] = await service.list_comments(s, document)
    assert listed.id == comment.id and number == 1 and listed.author_name == "Người delegate"
    assert (await _actions(sessions, meeting.id))[-1] == "document.commented"


async def test_updates_are_audited_only_when_something_changed(sessions, org, meeting, store):
    document = await _create(sessions, org, meeting, store, text_pdf(1))
    async with db.transaction(sessions) as s:
        await service.update_document(s, org.actor("secretary"), document, title="Tờ trình")
        document = await service.update_document(
            s, org.actor("secretary"), document, title="Tờ trình (sửa)", confidential=True
        )
    assert document.title == "Tờ trình (sửa)" and document.confidential
    entries = [a for a in await _actions(sessions, meeting.id) if a == "document.updated"]
    assert len(entries) == 1
