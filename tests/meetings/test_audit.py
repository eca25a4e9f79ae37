"""The hash-chained audit log on both backends: appends, verification, tamper detection."""

import asyncio

from sqlalchemy import text
from sqlmodel import select

from meetings import audit, db
from meetings.audit import AuditEntry


async def _append(sessions, org, n: int, meeting_id: int | None = None) -> None:
    for i in range(n):
        async with db.transaction(sessions) as s:
            await audit.append(
                s,
                org.actor("admin"),
                "thing.changed",
                "thing",
                i,
                meeting_id=meeting_id,
                before={"title": "Cũ"},
                after={"title": f"Mới {i}", "ghi chú": "Biên bản"},
            )


async def test_appends_chain_and_verify(sessions, org):
    async with sessions() as s:
        (seeded,) = await audit.verify(s)  # building the org is audited too
    await _append(sessions, org, 3)
    await _append(sessions, org, 2, meeting_id=7)
    async with sessions() as s:
        reports = await audit.verify(s)
        rows = (await s.exec(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(r.chain, r.entries, r.ok) for r in reports] == [
        ("global", seeded.entries + 3, True),
        ("meeting:7", 2, True),
    ]
    assert rows[0].prev_hash == audit.GENESIS and rows[0].seq == 1
    global_rows = [r for r in rows if r.chain == "global"][seeded.entries :]
    assert [r.seq for r in global_rows] == [seeded.entries + i for i in (1, 2, 3)]
    assert global_rows[1].prev_hash == global_rows[0].hash
    assert global_rows[0].actor == org.actor("admin").key
    assert "Mới 0" in global_rows[0].after_json  # UTF-8 kept, not \u-escaped


async def test_concurrent_appends_keep_one_chain(sessions, org):
    async def one(i: int) -> None:
        async with db.transaction(sessions) as s:
            await audit.append(s, None, "vote.cast", "poll", 1, meeting_id=1, after={"i": i})

    await asyncio.gather(*(one(i) for i in range(30)))
    async with sessions() as s:
        (report,) = await audit.verify(s, "meeting:1")
    assert report.ok, report.problems
    assert report.entries == 30


async def test_rolled_back_append_leaves_no_trace(sessions, org):
    await _append(sessions, org, 1, meeting_id=9)
    try:
        async with db.transaction(sessions) as s:
            await audit.append(s, None, "x.y", "x", 1, meeting_id=9)
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    await _append(sessions, org, 1, meeting_id=9)
    async with sessions() as s:
        (report,) = await audit.verify(s, "meeting:9")
    assert report.ok and report.entries == 2


async def _tamper(sessions, org, sql: str) -> list[str]:
    """Append 4 entries to a fresh chain, run ``sql`` on it, return what verify finds."""
    await _append(sessions, org, 4, meeting_id=9)
    async with db.transaction(sessions) as s:
        await s.exec(text(sql + " AND chain = 'meeting:9'"))
    async with sessions() as s:
        (report,) = await audit.verify(s, "meeting:9")
    return report.problems


async def test_tampering_is_detected(sessions, org):
    problems = await _tamper(
        sessions, org, 'UPDATE audit_entry SET after_json = \'{"title":"Sửa"}\' WHERE seq = 2'
    )
    assert any("seq 2: content" in p for p in problems)


async def test_deleting_the_last_entry_is_detected(sessions, org):
    problems = await _tamper(sessions, org, "DELETE FROM audit_entry WHERE seq = 4")
    assert any("head says seq 4" in p for p in problems)


async def test_deleting_a_middle_entry_is_detected(sessions, org):
    problems = await _tamper(sessions, org, "DELETE FROM audit_entry WHERE seq = 2")
    assert any("entry missing" in p for p in problems)
