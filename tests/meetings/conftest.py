"""Domain fixtures: every test here runs once on SQLite (a file) and once on PostgreSQL.

The services in ``meetings`` are called directly over a real, migrated database.
"""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import db
from tests.harness import postgres_database
from tests.meetings.support import Org, build_org


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file in tmp_path or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'domain.sqlite3'}"
    else:
        async with postgres_database() as url:
            yield url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """The engine the server would use, with the schema migrated to head."""
    engine = db.create_engine(db_url)
    await db.migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory the services are used with."""
    return db.session_factory(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session (flushes are visible inside it; nothing is committed unless a test does)."""
    async with sessions() as s:
        yield s


@pytest.fixture
async def org(sessions: async_sessionmaker[AsyncSession]) -> Org:
    """Two provinces with districts, communes, accounts of every role and endpoints (committed)."""
    async with db.transaction(sessions) as s:
        return await build_org(s)
