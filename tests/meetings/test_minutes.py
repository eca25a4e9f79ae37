"""Minutes service on SQLite and PostgreSQL: prefill, edit with optimistic concurrency, submit,
approve (PDF stored by SHA-256, optionally signed), immutability, verification, audit."""

import json
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from meetings import audit, db
from meetings.attendance_models import Attendance as AttendanceRecord
from meetings.documents.models import Document, DocumentVersion
from meetings.errors import Conflict
from meetings.minutes import service, signing
from meetings.minutes.content import MinutesContent
from meetings.minutes.models import Minutes, MinutesLocked
from meetings.minutes.render import Approval, layout, plain_text
from meetings.minutes.store import MinutesStore, sha256_hex
from meetings.models import AgendaItem, Invitation, Meeting
from meetings.proceedings_models import Conclusion, SpeakerRequest
from meetings.voting.models import Poll, PollOption
from tests.meetings.minutes_support import FONTS, make_pki, pdf_text
from tests.meetings.support import Org

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam


def config_for(
    tmp_path: Path, signer: signing.MinutesSigner | None = None
) -> service.MinutesConfig:
    """The configuration a server builds from its settings."""
    return service.MinutesConfig(MinutesStore(tmp_path / "minutes"), FONTS, signer, "Quảng Ninh")


async def seed_meeting(
    sessions, org: Org, document_hashes: tuple[str, str] = ("a" * 64, "b" * 64)
) -> int:
    """A meeting with an agenda, attendance, a document, speakers, a closed poll, conclusions."""
    acc = org.accounts
    async with db.transaction(sessions) as s:
        meeting = Meeting(
            title="Họp Ủy ban nhân dân tỉnh tháng 11",
            description="Đánh giá tình hình kinh tế - xã hội",
            starts_at=T0,
            chair_id=acc["chair"].id,
            secretary_id=acc["secretary"].id,
            created_by_id=acc["chair"].id,
            state="ended",
            started_at=T0 + timedelta(minutes=5),
            ended_at=T0 + timedelta(hours=2),
        )
        s.add(meeting)
        await s.flush()
        mid = meeting.id
        for who in ("delegate", "district_delegate"):
            s.add(
                Invitation(
                    meeting_id=mid,
                    invitee_kind="account",
                    invitee_key=f"account:{acc[who].id}",
                    account_id=acc[who].id,
                )
            )
        first = AgendaItem(
            meeting_id=mid,
            position=0,
            title="Báo cáo kinh tế - xã hội",
            presenter_name="Sở Kế hoạch và Đầu tư",
            state="done",
            started_at=T0 + timedelta(minutes=10),
            ended_at=T0 + timedelta(minutes=40),
        )
        second = AgendaItem(meeting_id=mid, position=1, title="Đầu tư công", state="done")
        s.add_all([first, second])
        await s.flush()
        sub = AgendaItem(
            meeting_id=mid, parent_id=second.id, position=0, title="Giải ngân vốn", state="done"
        )
        s.add(sub)
        s.add(
            AttendanceRecord(
                meeting_id=mid,
                attendee_key=f"account:{acc['delegate'].id}",
                account_id=acc["delegate"].id,
                state="present",
                mode="online",
                checked_in_at=T0,
                recorded_by=f"account:{acc['delegate'].id}",
            )
        )
        s.add(
            AttendanceRecord(
                meeting_id=mid,
                attendee_key=f"account:{acc['district_delegate'].id}",
                account_id=acc["district_delegate"].id,
                state="excused",
                reason="Đi công tác",
                recorded_by=f"account:{acc['secretary'].id}",
            )
        )
        doc = Document(
            meeting_id=mid,
            agenda_item_id=first.id,
            title="Dự thảo báo cáo",
            state="published",
            current_version=2,
            created_by="account:1",
        )
        draft = Document(meeting_id=mid, title="Bản nháp", state="draft", created_by="account:1")
        s.add_all([doc, draft])
        await s.flush()
        for number, digest in enumerate(document_hashes, start=1):
            s.add(
                DocumentVersion(
                    document_id=doc.id,
                    number=number,
                    sha256=digest,
                    size=100,
                    pages=3,
                    filename="bao-cao.pdf",
                    uploaded_by="account:1",
                )
            )
        s.add(
            DocumentVersion(
                document_id=draft.id,
                number=1,
                sha256="c" * 64,
                size=1,
                pages=1,
                filename="x.pdf",
                uploaded_by="account:1",
            )
        )
        s.add(
            SpeakerRequest(
                meeting_id=mid,
                agenda_item_id=first.id,
                speaker_key=f"account:{acc['delegate'].id}",
                account_id=acc["delegate"].id,
                unit_id=org.commune,
                speaker_name="Lê Văn Định",
                topic="Đường giao thông nông thôn",
                state="done",
                granted_at=T0 + timedelta(minutes=20),
                ended_at=T0 + timedelta(minutes=23, seconds=20),
                seconds_spoken=200,
            )
        )
        s.add(
            SpeakerRequest(
                meeting_id=mid,
                speaker_key="account:999",
                unit_id=org.commune,
                speaker_name="Chưa được phát biểu",
                state="withdrawn",
            )
        )
        poll = Poll(
            meeting_id=mid,
            agenda_item_id=first.id,
            title="Thông qua báo cáo",
            kind="yes_no_abstain",
            secret=True,
            majority="two_thirds_all",
            state="closed",
            created_by="account:1",
            members_count=3,
            present_count=3,
            quorum_rule="two_thirds",
            quorum_met=True,
            ballot_count=3,
            closed_at=T0 + timedelta(minutes=50),
            outcome="passed",
            decided_by="at least two thirds of all members: 2 of 3 needed",
            result_json=json.dumps({"required": 2, "base": 3, "passed_option_ids": []}),
        )
        s.add(poll)
        await s.flush()
        for position, (label, votes) in enumerate((("yes", 2), ("no", 1), ("abstain", 0))):
            s.add(PollOption(poll_id=poll.id, position=position, label=label, votes=votes))
        s.add(
            Conclusion(
                meeting_id=mid,
                agenda_item_id=sub.id,
                content="Giao Sở Tài chính đẩy nhanh giải ngân.",
                assignee_unit_id=org.province,
                deadline=date(2026, 12, 31),
                created_by="account:1",
                updated_by="account:1",
            )
        )
    return mid


async def _meeting(sessions, meeting_id: int) -> Meeting:
    async with sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
    assert meeting is not None
    return meeting


async def test_prefill_collects_every_section(sessions, org):
    mid = await seed_meeting(sessions, org)
    async with sessions() as s:
        view = await service.current(s, await s.get(Meeting, mid))
        assert (await s.exec(select(Minutes))).first() is None  # reading stores nothing
    assert view.version == 0 and view.state == "draft" and view.free_text == ""
    c = view.sections
    assert c.meeting.title == "Họp Ủy ban nhân dân tỉnh tháng 11"
    assert c.meeting.chair == org.accounts["chair"].full_name
    assert c.meeting.secretary == org.accounts["secretary"].full_name
    assert c.meeting.organisation == "Tỉnh Quảng Ninh"  # the chair's unit
    assert c.meeting.started_at == T0 + timedelta(minutes=5)
    assert [(a.number, a.title) for a in c.agenda] == [
        ("1", "Báo cáo kinh tế - xã hội"),
        ("2", "Đầu tư công"),
        ("2.1", "Giải ngân vốn"),
    ]
    assert c.agenda[0].presenter == "Sở Kế hoạch và Đầu tư"
    assert c.agenda[0].ended_at == T0 + timedelta(minutes=40)
    by_name = {r.name: r for r in c.attendance.rows}
    delegate = by_name[org.accounts["delegate"].full_name]
    assert (delegate.status, delegate.mode, delegate.unit) == ("present", "online", "Xã Thanh Sơn")
    excused = by_name[org.accounts["district_delegate"].full_name]
    assert (excused.status, excused.reason) == ("excused", "Đi công tác")
    assert c.attendance.present == 1 and c.attendance.members >= 2
    assert c.attendance.quorum_met is False
    # Only the published document, every version, with its hash.
    assert [(d.title, d.version, d.sha256) for d in c.documents] == [
        ("Dự thảo báo cáo", 1, "a" * 64),
        ("Dự thảo báo cáo", 2, "b" * 64),
    ]
    assert c.documents[0].agenda_item == "1. Báo cáo kinh tế - xã hội"
    assert [(s.name, s.seconds, s.unit) for s in c.speakers] == [
        ("Lê Văn Định", 200, "Xã Thanh Sơn")
    ]
    [poll] = c.polls
    assert poll.secret and poll.outcome == "passed" and poll.valid is True
    assert [(o.label, o.votes) for o in poll.options] == [
        ("Tán thành", 2),
        ("Không tán thành", 1),
        ("Không biểu quyết", 0),
    ]
    assert "hai phần ba" in poll.rule and "2/3" in poll.rule
    [conclusion] = c.conclusions
    assert conclusion.agenda_item == "2.1. Giải ngân vốn"
    assert conclusion.assignee == "Tỉnh Quảng Ninh" and conclusion.deadline == date(2026, 12, 31)


def _norm(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


async def test_life_cycle_renders_stores_and_audits(sessions, org, tmp_path):
    mid = await seed_meeting(sessions, org)
    secretary, chair = org.actor("secretary"), org.actor("chair")
    config = config_for(tmp_path)
    # NFD input (as some keyboards send it) is stored NFC.
    notes = unicodedata.normalize("NFD", "Đồng chí Chủ tịch kết luận: tập trung giải ngân.")
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, mid)
        draft = await service.current(s, meeting)
        draft.sections.meeting.location = "Hội trường tầng 3"
        saved = await service.save_draft(
            s, secretary, meeting, version=0, sections=draft.sections, free_text=notes
        )
    assert saved.version == 1 and saved.free_text == unicodedata.normalize("NFC", notes)
    async with db.transaction(sessions) as s:
        submitted = await service.submit(s, secretary, await s.get(Meeting, mid), version=1)
    assert (submitted.state, submitted.version, submitted.submitted_by) == (
        "submitted",
        2,
        secretary.key,
    )
    async with db.transaction(sessions) as s:
        approved = await service.approve(
            s, chair, await s.get(Meeting, mid), version=2, config=config
        )
    assert approved.state == "approved" and approved.approved_by == chair.key
    assert approved.signed is False
    path = config.store.path_for(approved.pdf_sha256 or "")
    data = path.read_bytes()
    assert sha256_hex(data) == approved.pdf_sha256 and len(data) == approved.pdf_size

    # The PDF's text, extracted by pypdf, is exactly the Vietnamese source text.
    content = MinutesContent.model_validate_json(approved.sections_json)
    expected = plain_text(
        layout(
            content,
            approved.free_text,
            Approval(approved.approved_at, chair.name, content.meeting.secretary),
        )
    )
    extracted = pdf_text(data)
    assert _norm(extracted) == _norm(expected)
    for needle in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Hội trường tầng 3",
        "Giải ngân vốn",
        "Lê Văn Định",
        "Tán thành",
        "2 phiếu (66,7%)",
        "tập trung giải ngân",
    ):
        assert needle in extracted

    async with sessions() as s:
        entries = await audit.entries(s, mid)
        report = await audit.verify(s, audit.chain_for(mid))
    actions = [e.action for e in reversed(entries) if e.object_type == "minutes"]
    assert actions == ["minutes.created", "minutes.submitted", "minutes.approved"]
    assert json.loads(entries[0].after_json)["pdf_sha256"] == approved.pdf_sha256
    assert all(r.ok for r in report)

    async with sessions() as s:
        result = await service.verify(s, await s.get(Meeting, mid), config)
    assert result.ok and result.hash_matches and result.signatures == []


async def test_editing_needs_the_current_version(sessions, org, tmp_path):
    mid = await seed_meeting(sessions, org)
    secretary, chair = org.actor("secretary"), org.actor("chair")
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, mid)
        sections = (await service.current(s, meeting)).sections
        await service.save_draft(s, secretary, meeting, version=0, sections=sections, free_text="A")
    # Both editors loaded version 1; the chair saves first, the secretary's save is refused.
    async with db.transaction(sessions) as s:
        await service.save_draft(
            s, chair, await s.get(Meeting, mid), version=1, sections=sections, free_text="B"
        )
    for stale in (1, 0, 7):
        with pytest.raises(Conflict) as refused:
            async with db.transaction(sessions) as s:
                await service.save_draft(
                    s,
                    secretary,
                    await s.get(Meeting, mid),
                    version=stale,
                    sections=sections,
                    free_text="C",
                )
        assert refused.value.details["current_version"] == 2
    with pytest.raises(Conflict):
        async with db.transaction(sessions) as s:
            await service.submit(s, secretary, await s.get(Meeting, mid), version=1)
    async with sessions() as s:
        row = (await s.exec(select(Minutes))).one()
    assert (row.version, row.free_text, row.updated_by, row.state) == (2, "B", chair.key, "draft")


async def test_a_lost_race_is_a_conflict_not_an_overwrite(sessions, org):
    """Two transactions read version 1 and both write: the database lets only one through."""
    mid = await seed_meeting(sessions, org)
    actor = org.actor("secretary")
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, mid)
        sections = (await service.current(s, meeting)).sections
        await service.save_draft(s, actor, meeting, version=0, sections=sections, free_text="0")
    async with sessions() as first, sessions() as second:
        a = await service.find(first, mid)
        b = await service.find(second, mid)
        a.free_text, b.free_text = "first", "second"
        first.add(a)
        await first.commit()
        with pytest.raises(Conflict):
            await service._flush(second, b)
        await second.rollback()
    async with sessions() as s:
        row = (await s.exec(select(Minutes))).one()
    assert (row.free_text, row.version) == ("first", 2)


async def test_submit_and_approve_follow_the_states(sessions, org, tmp_path):
    mid = await seed_meeting(sessions, org)
    secretary, chair = org.actor("secretary"), org.actor("chair")
    config = config_for(tmp_path)
    with pytest.raises(Conflict):  # nothing saved yet
        async with db.transaction(sessions) as s:
            await service.submit(s, secretary, await s.get(Meeting, mid), version=0)
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, mid)
        sections = (await service.current(s, meeting)).sections
        await service.save_draft(s, secretary, meeting, version=0, sections=sections, free_text="")
    with pytest.raises(Conflict):  # a draft is not approved before it is submitted
        async with db.transaction(sessions) as s:
            await service.approve(s, chair, await s.get(Meeting, mid), version=1, config=config)
    async with db.transaction(sessions) as s:
        await service.submit(s, secretary, await s.get(Meeting, mid), version=1)
    with pytest.raises(Conflict):  # twice
        async with db.transaction(sessions) as s:
            await service.submit(s, secretary, await s.get(Meeting, mid), version=2)
    # An edit of submitted minutes takes them back to draft: the chair approves only what was
    # submitted after the last change.
    async with db.transaction(sessions) as s:
        edited = await service.save_draft(
            s, secretary, await s.get(Meeting, mid), version=2, sections=sections, free_text="x"
        )
    assert (edited.state, edited.submitted_at, edited.version) == ("draft", None, 3)
    with pytest.raises(Conflict):
        async with db.transaction(sessions) as s:
            await service.approve(s, chair, await s.get(Meeting, mid), version=3, config=config)
    assert not (tmp_path / "minutes").exists()  # nothing rendered for refused approvals


async def approved_meeting(
    sessions, org, tmp_path, signer=None, **seed: object
) -> tuple[int, Minutes]:
    """A seeded meeting whose minutes the secretary submitted and the chair approved."""
    mid = await seed_meeting(sessions, org, **seed)  # type: ignore[arg-type]
    secretary, chair = org.actor("secretary"), org.actor("chair")
    async with db.transaction(sessions) as s:
        meeting = await s.get(Meeting, mid)
        sections = (await service.current(s, meeting)).sections
        await service.save_draft(s, secretary, meeting, version=0, sections=sections, free_text="")
        await service.submit(s, secretary, meeting, version=1)
    async with db.transaction(sessions) as s:
        minutes = await service.approve(
            s, chair, await s.get(Meeting, mid), version=2, config=config_for(tmp_path, signer)
        )
    return mid, minutes


async def _row(sessions) -> tuple:
    async with sessions() as s:
        row = (await s.exec(select(Minutes))).one()
    return tuple(row.model_dump().items())


async def test_approved_minutes_cannot_be_changed_by_anyone(sessions, org, tmp_path):
    mid, minutes = await approved_meeting(sessions, org, tmp_path)
    before = await _row(sessions)
    config = config_for(tmp_path)
    sections = MinutesContent.model_validate_json(minutes.sections_json)
    for who in ("admin", "chair", "secretary"):
        actor = org.actor(who)
        for attempt in (
            lambda s, m, a=actor: service.save_draft(
                s, a, m, version=minutes.version, sections=sections, free_text="sửa"
            ),
            lambda s, m, a=actor: service.submit(s, a, m, version=minutes.version),
            lambda s, m, a=actor: service.approve(s, a, m, version=minutes.version, config=config),
        ):
            with pytest.raises(MinutesLocked):
                async with db.transaction(sessions) as s:
                    await attempt(s, await s.get(Meeting, mid))
    # Code that bypasses the service's checks is stopped by the ORM guard...
    with pytest.raises(MinutesLocked):
        async with db.transaction(sessions) as s:
            row = await service.find(s, mid)
            row.free_text = "giả mạo"
            s.add(row)
    with pytest.raises(MinutesLocked):
        async with db.transaction(sessions) as s:
            await s.delete(await service.find(s, mid))
    # ...and plain SQL by the database's triggers.
    for statement in (
        "UPDATE minutes SET free_text = 'giả mạo'",
        "UPDATE minutes SET state = 'draft'",
        "DELETE FROM minutes",
    ):
        with pytest.raises(DBAPIError, match="approved minutes cannot be changed"):
            async with db.transaction(sessions) as s:
                await s.exec(text(statement))  # type: ignore[call-overload]
    assert await _row(sessions) == before


async def test_a_signed_pdf_verifies_and_one_changed_byte_fails(sessions, org, tmp_path):
    pki = make_pki(tmp_path / "pki")
    signer = signing.load_signer(pki.p12, pki.passphrase)
    mid, minutes = await approved_meeting(sessions, org, tmp_path, signer)
    assert minutes.signed and "Văn phòng UBND tỉnh" in (minutes.signer_subject or "")
    config = config_for(tmp_path, signer)
    meeting = await _meeting(sessions, mid)
    async with sessions() as s:
        good = await service.verify(s, meeting, config)
    assert good.ok and good.hash_matches
    [sig] = good.signatures
    assert sig.intact and sig.valid and sig.trusted and sig.covers_whole_file
    assert "Văn phòng UBND tỉnh" in sig.signer
    assert sig.signing_time is not None and abs(sig.signing_time - minutes.approved_at) < timedelta(
        minutes=1
    )

    # Without the configured chain, the same signature is intact but not trusted.
    async with sessions() as s:
        untrusted = await service.verify(s, meeting, config_for(tmp_path))
    assert untrusted.signatures[0].intact and not untrusted.signatures[0].trusted

    path = config.store.path_for(minutes.pdf_sha256 or "")
    data = bytearray(path.read_bytes())
    data[7] ^= 0x01  # "%PDF-1.x": still a readable PDF, inside the signed byte range
    path.write_bytes(bytes(data))
    async with sessions() as s:
        bad = await service.verify(s, meeting, config)
    assert not bad.ok and not bad.hash_matches and bad.file_sha256 != minutes.pdf_sha256
    assert bad.signatures and not bad.signatures[0].intact and not bad.signatures[0].ok

    path.unlink()
    async with sessions() as s:
        gone = await service.verify(s, meeting, config)
    assert not gone.ok and not gone.file_present


async def test_unusable_certificates_are_refused_clearly(tmp_path):
    pki = make_pki(tmp_path / "pki")
    with pytest.raises(signing.SigningUnavailable, match="wrong passphrase"):
        signing.load_signer(pki.p12, "sai mật khẩu")
    with pytest.raises(signing.SigningUnavailable, match="cannot be read"):
        signing.load_signer(tmp_path / "missing.p12", pki.passphrase)
    not_p12 = tmp_path / "not.p12"
    not_p12.write_bytes(b"%PDF-1.7 not a certificate")
    with pytest.raises(signing.SigningUnavailable):
        signing.load_signer(not_p12, None)
    # Without the CA in the file, the signer certificate itself is the trust anchor.
    bare = make_pki(tmp_path / "bare", with_chain=False)
    loaded = signing.load_signer(bare.p12, bare.passphrase)
    assert [r.subject.human_friendly for r in loaded.trust_roots] == [loaded.subject]
