"""Engine, sessions and migrations on both backends."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

import meetings.schema  # noqa: F401  (registers every table on SQLModel.metadata)
from meetings import db
from meetings.models import Account, Invitation, Unit

TABLES = {
    "unit",
    "account",
    "endpoint",
    "meeting",
    "invitation",
    "auth_session",
    "audit_entry",
    "audit_head",
    "agenda_item",
    "attendance",
    "meeting_quorum",
    "poll",
    "poll_option",
    "poll_voter",
    "poll_receipt",
    "poll_ballot",
    "minutes",
    "document",
    "document_version",
    "document_page",
    "document_copy",
    "document_receipt",
    "document_comment",
    "mail_outbox",
    "speaker_request",
    "conclusion",
    "recording",
}


def _heads() -> list[str]:
    heads = ScriptDirectory.from_config(db.alembic_config()).get_heads()
    assert heads
    return sorted(heads)


async def _state(engine) -> tuple[set[str], list[str]]:
    """(tables, alembic versions) as found in the database."""
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    return tables, [v for (v,) in versions]


async def _differences(engine, metadata: sa.MetaData) -> list:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), metadata)
        )


def test_normalise_url():
    assert db.normalise_url("sqlite:///data/x.sqlite3") == "sqlite+aiosqlite:///data/x.sqlite3"
    assert db.normalise_url("sqlite://") == "sqlite+aiosqlite://"
    assert db.normalise_url("postgresql://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert db.normalise_url("postgres://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert db.normalise_url("postgresql+asyncpg://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert db.normalise_url("sqlite+aiosqlite:///x") == "sqlite+aiosqlite:///x"


async def test_migrate_creates_the_schema_at_head(engine):
    tables, versions = await _state(engine)
    assert TABLES | {"alembic_version"} <= tables
    assert sorted(versions) == _heads()
    await db.ping(engine)


async def test_migrating_twice_is_a_no_op(engine, sessions):
    async with db.transaction(sessions) as s:
        s.add(Unit(name="Tỉnh Quảng Ninh", kind="province", code="QN"))
    before = await _state(engine)
    await db.migrate(engine)
    await db.migrate(engine)
    assert await _state(engine) == before
    async with sessions() as s:
        assert [u.code for u in (await s.exec(select(Unit))).all()] == ["QN"]


async def test_the_migrations_match_the_models(engine):
    """Autogenerate would write nothing: the head revision is exactly SQLModel's metadata."""
    assert await _differences(engine, SQLModel.metadata) == []


async def test_the_model_comparison_sees_drift(engine):
    """Guard for the test above: a model change the migrations lack is reported."""
    drifted = sa.MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(drifted)
    sa.Table("not_migrated", drifted, sa.Column("id", sa.Integer, primary_key=True))
    drifted.tables["meeting"].append_column(sa.Column("location", sa.String(200)))
    found = {(d[0], getattr(d[-1], "name", None)) for d in await _differences(engine, drifted)}
    assert ("add_table", "not_migrated") in found
    assert ("add_column", "location") in found


async def test_a_fresh_database_url_without_driver_works(db_url, tmp_path):
    """Plain ``sqlite:``/``postgresql:`` URLs get the async driver (as users type them)."""
    plain = db_url.replace("+asyncpg", "")
    engine = db.create_engine(plain)
    try:
        await db.migrate(engine)  # already at head: nothing to do
        _, versions = await _state(engine)
        assert sorted(versions) == _heads()
    finally:
        await engine.dispose()


async def test_foreign_keys_are_enforced(sessions):
    """SQLite needs ``PRAGMA foreign_keys=ON`` on every connection for this."""
    async with sessions() as s:
        s.add(Account(username="x", full_name="X", unit_id=4242, role="chair", password_hash="h"))
        with pytest.raises(IntegrityError):
            await s.commit()
    async with sessions() as s:
        s.add(Invitation(meeting_id=4242, invitee_kind="unit", invitee_key="unit:1"))
        with pytest.raises(IntegrityError):
            await s.commit()


async def test_timestamps_come_back_as_aware_utc(sessions):
    ict = timezone(timedelta(hours=7))
    async with db.transaction(sessions) as s:
        unit = Unit(name="P", kind="province", created_at=datetime(2026, 11, 24, 8, 0, tzinfo=ict))
        naive = Unit(name="Q", kind="province", created_at=datetime(2026, 11, 24, 1, 0))
        s.add_all([unit, naive])
    async with sessions() as s:
        for row in (await s.get(Unit, unit.id), await s.get(Unit, naive.id)):
            assert row.created_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
            assert row.created_at.utcoffset() == timedelta(0)


async def test_transaction_commits_or_rolls_back(sessions):
    async with db.transaction(sessions) as s:
        s.add(Unit(name="kept", kind="province"))
    with pytest.raises(RuntimeError):
        async with db.transaction(sessions) as s:
            s.add(Unit(name="dropped", kind="province"))
            await s.flush()
            raise RuntimeError("boom")
    async with sessions() as s:
        names = [u.name for u in (await s.exec(select(Unit))).all()]
    assert names == ["kept"]


async def test_sessions_keep_objects_usable_after_commit(sessions):
    async with sessions() as s:
        unit = Unit(name="P", kind="province")
        s.add(unit)
        await s.commit()
        assert unit.name == "P" and unit.id is not None  # no lazy reload (no greenlet needed)
