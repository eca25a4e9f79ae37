"""Fixtures: every test that uses ``server`` runs once on SQLite and once on PostgreSQL."""

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.harness import Api, Server, World, build_world, make_settings, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the server under test uses."""
    return request.param


@pytest.fixture
async def database_url(backend: str) -> AsyncIterator[str | None]:
    """None means the embedded default (SQLite in the data dir)."""
    if backend == "sqlite":
        yield None
    else:
        async with postgres_database() as url:
            yield url


@pytest.fixture
async def server(tmp_path, database_url) -> AsyncIterator[Server]:
    """A running server with a fresh data dir and database."""
    srv = Server(make_settings(tmp_path / "data", database_url))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client session (with a cookie jar that accepts 127.0.0.1)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
async def world(server: Server, http: aiohttp.ClientSession) -> World:
    """Units, one account per role, two endpoints and a meeting, seeded through the API."""
    return await build_world(server, http)


@pytest.fixture
async def media_server(tmp_path) -> AsyncIterator[Server]:
    """A server on SQLite only: media tests exercise the SFU, not the database backends."""
    srv = Server(make_settings(tmp_path / "data", None))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def media_world(media_server: Server) -> AsyncIterator[World]:
    """The seeded world with its meeting started by the chair."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        world = await build_world(media_server, http)
        chair = Api(media_server.url, http, token=world.tokens["chair"])
        status, _ = await chair.post(f"/api/v1/meetings/{world.meeting_id}/start")
        assert status == 200
        yield world
