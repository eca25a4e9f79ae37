"""The real ``phonghop`` command in subprocesses: ``admin …`` and ``serve``.

Every process is bounded by a timeout and always killed; servers listen on free loopback ports.
"""

import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import socketio
from sqlalchemy import text
from sqlmodel import select

from meetings import audit, db
from meetings.models import Account, Endpoint, Unit
from tests.harness import Api, Server, free_port, make_settings, postgres_database, wait_for

COMMAND_TIMEOUT = 60.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
_SCRIPT = Path(sys.executable).with_name("phonghop")
PHONGHOP = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "signaling"]


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any PHONGHOP_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHONGHOP_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Result:
    """A finished command."""

    returncode: int
    stdout: str
    stderr: str


async def phonghop(
    *args: str, cwd: Path, env: dict[str, str] | None = None, as_module: bool = False
) -> Result:
    """Run ``phonghop args…`` (or ``python -m signaling args…``) to completion.

    The process is killed if it outlives the timeout.
    """
    command = [sys.executable, "-m", "signaling"] if as_module else PHONGHOP
    proc = await asyncio.create_subprocess_exec(
        *command,
        *args,
        cwd=cwd,
        env=env or clean_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return Result(proc.returncode or 0, out.decode(), err.decode())


@dataclass
class ServeProcess:
    """A running ``phonghop serve`` and everything it printed so far."""

    proc: asyncio.subprocess.Process
    url: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def err_text(self) -> str:
        return "".join(self.stderr)

    def json_logs(self) -> list[dict]:
        """The stderr lines that are JSON objects, decoded (each must decode)."""
        return [json.loads(line) for line in self.stderr if line.startswith("{")]

    def stray_lines(self) -> list[str]:
        """Stderr lines that are neither JSON log lines nor the indented console banners."""
        return [line for line in self.stderr if line.strip() and not line.startswith(("{", "  "))]

    async def wait_healthy(self) -> None:
        """Poll /healthz until 200; fail with the output if the process dies or never answers."""
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc.returncode is not None:
                    await asyncio.gather(*self.readers)
                    pytest.fail(f"phonghop serve exited ({self.proc.returncode}):\n{self.err_text}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            return
                if asyncio.get_running_loop().time() > deadline:
                    pytest.fail(f"phonghop serve did not become healthy:\n{self.err_text}")
                await asyncio.sleep(0.1)


async def _collect(stream: asyncio.StreamReader, into: list[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode())


@contextlib.asynccontextmanager
async def serve(
    *args: str, port: int, cwd: Path, env: dict[str, str] | None = None
) -> AsyncIterator[ServeProcess]:
    """Start ``phonghop serve args…``, wait until healthy, and always stop it afterwards."""
    proc = await asyncio.create_subprocess_exec(
        *PHONGHOP,
        "serve",
        *args,
        cwd=cwd,
        env=env or clean_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    server = ServeProcess(proc, f"http://127.0.0.1:{port}")
    assert proc.stdout is not None and proc.stderr is not None
    server.readers = [
        asyncio.create_task(_collect(proc.stdout, server.stdout)),
        asyncio.create_task(_collect(proc.stderr, server.stderr)),
    ]
    try:
        await server.wait_healthy()
        yield server
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await asyncio.wait_for(asyncio.gather(*server.readers), STOP_TIMEOUT)


async def login(http: aiohttp.ClientSession, url: str, username: str, password: str):
    """``(status, body)`` of a password login."""
    return await Api(url, http).post(
        "/api/v1/auth/login", {"username": username, "password": password}
    )


def _line(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    assert match is not None, f"no line matching {pattern!r} in:\n{text}"
    return match


# ---- phonghop admin ------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def storage(request, tmp_path) -> AsyncIterator[tuple[list[str], str | None]]:
    """Storage options for ``phonghop admin`` and the database URL they mean (None: SQLite)."""
    if request.param == "sqlite":
        # Not created yet: the command must create it.
        yield ["--data-dir", str(tmp_path / "data")], None
    else:
        async with postgres_database() as url:
            yield ["--database-url", url], url


async def _rows(database_url: str) -> tuple[list[Unit], list[Account], list[Endpoint]]:
    engine = db.create_engine(database_url)
    try:
        async with db.session_factory(engine)() as s:
            return (
                list((await s.exec(select(Unit).order_by(Unit.id))).all()),
                list((await s.exec(select(Account).order_by(Account.id))).all()),
                list((await s.exec(select(Endpoint).order_by(Endpoint.id))).all()),
            )
    finally:
        await engine.dispose()


async def test_admin_commands_then_log_in_through_a_server(tmp_path, storage):
    options, database_url = storage
    data_dir = tmp_path / "data"
    url = database_url or f"sqlite:///{data_dir / 'phonghop.sqlite3'}"

    async def admin(*args: str) -> Result:
        result = await phonghop("admin", *args, *options, cwd=tmp_path)
        assert result.returncode == 0, result
        assert "Traceback" not in result.stderr
        return result

    out = await admin("create-unit", "Tỉnh Quảng Ninh", "--kind", "province", "--code", "QN")
    assert out.stdout == "unit 1: Tỉnh Quảng Ninh (province)\n"
    out = await admin("create-unit", "Xã Quảng La", "--kind", "commune", "--parent", "1")
    assert out.stdout == "unit 2: Xã Quảng La (commune)\n"

    chosen = "Mật-khẩu-chọn-sẵn-2026"
    user = ["--full-name", "Nguyễn Văn A", "--unit", "1", "--role", "chair"]
    out = await admin("create-user", "NguyenVanA", *user, "--password", chosen)
    assert out.stdout == "account 1: nguyenvana (chair)\n"  # no password shown when given

    user = ["--full-name", "Trần Thị Thư Ký", "--unit", "2", "--role", "secretary"]
    out = (await admin("create-user", "thuky", *user, "--email", "ThuKy@QuangNinh.GOV.vn")).stdout
    assert _line(r"^account 2: thuky \(secretary\)$", out)
    generated = _line(r"^password: (\S+)$", out).group(1)
    assert len(generated) >= 10

    out = (await admin("create-endpoint", "Điểm cầu Xã Quảng La", "--unit", "2")).stdout
    assert _line(r"^endpoint 1: Điểm cầu Xã Quảng La$", out)
    token = _line(r"^device token \(shown once\): (phd_\S+)$", out).group(1)
    assert _line(r"^login link path: (\S+)$", out).group(1) == f"/device#token={token}"

    # The rows, as stored.
    units, accounts, endpoints = await _rows(url)
    assert [(u.id, u.name, u.kind, u.parent_id, u.code) for u in units] == [
        (1, "Tỉnh Quảng Ninh", "province", None, "QN"),
        (2, "Xã Quảng La", "commune", 1, None),
    ]
    assert [(a.username, a.full_name, a.unit_id, a.role, a.active, a.email) for a in accounts] == [
        ("nguyenvana", "Nguyễn Văn A", 1, "chair", True, None),
        ("thuky", "Trần Thị Thư Ký", 2, "secretary", True, "ThuKy@quangninh.gov.vn"),
    ]
    for a in accounts:
        assert a.password_hash.startswith("$argon2id$")
        assert chosen not in a.password_hash and generated not in a.password_hash
    assert [(e.id, e.name, e.unit_id) for e in endpoints] == [(1, "Điểm cầu Xã Quảng La", 2)]
    assert endpoints[0].token_hash == hashlib.sha256(token.encode()).hexdigest()

    # A server on the same storage lets them in; password resets act on the running server.
    server_dir = data_dir if database_url is None else tmp_path / "server-data"
    server = Server(make_settings(server_dir, database_url))
    await server.start()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            status, body = await login(browser, server.url, "nguyenvana", chosen)
            assert status == 200 and body["account"]["role"] == "chair", body
            assert (await Api(server.url, browser).get("/api/v1/auth/me"))[0] == 200
            bearer = Api(server.url, browser, token=body["access_token"])

            out = (await admin("reset-password", "NGUYENVANA")).stdout
            reset = _line(r"^password of nguyenvana reset: (\S+)$", out).group(1)
            assert reset not in (chosen, generated)
            # The reset ended the browser session and the bearer token issued before it.
            status, body = await Api(server.url, browser).get("/api/v1/auth/me")
            assert status == 401, body
            status, body = await bearer.get("/api/v1/auth/me")
            assert status == 401, body

        out = await admin("reset-password", "thuky", "--password", "thư-ký-đặt-lại-2026")
        assert out.stdout == "password of thuky reset\n"

        async with aiohttp.ClientSession() as http:
            assert (await login(http, server.url, "nguyenvana", reset))[0] == 200
            assert (await login(http, server.url, "NguyenVanA", chosen))[0] == 401
            status, body = await login(http, server.url, "thuky", "thư-ký-đặt-lại-2026")
            assert status == 200 and body["account"]["role"] == "secretary"
            assert (await login(http, server.url, "thuky", generated))[0] == 401
            status, body = await Api(server.url, http).post("/api/v1/auth/device", {"token": token})
            assert status == 200, body
            status, me = await Api(server.url, http, token=token).get("/api/v1/auth/me")
            assert status == 200 and me["kind"] == "endpoint" and me["unit_id"] == 2
    finally:
        await server.stop()
    _, accounts, _ = await _rows(url)
    assert all(reset not in a.password_hash for a in accounts)
    # Every command is in the audit log, as the operator ("system"), and the log verifies.
    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as s:
            logged = [(e.actor, e.action) for e in reversed(await audit.entries(s, None))]
            assert all(r.ok for r in await audit.verify(s))
    finally:
        await engine.dispose()
    assert logged == [
        ("system", "unit.created"),
        ("system", "unit.created"),
        ("system", "account.created"),
        ("system", "account.created"),
        ("system", "endpoint.created"),
        ("system", "account.created"),  # the server's first start: its administrator
        ("system", "account.password_reset"),
        ("system", "account.password_reset"),
    ]
    if database_url is not None:
        # With PostgreSQL the admin commands leave the filesystem alone.
        assert not data_dir.exists()


async def test_admin_errors_are_one_line_and_exit_1(tmp_path, storage):
    options, database_url = storage

    async def admin(*args: str) -> Result:
        return await phonghop("admin", *args, *options, cwd=tmp_path)

    assert (await admin("create-unit", "Tỉnh", "--kind", "province")).returncode == 0
    user = ["--full-name", "A", "--unit", "1", "--role", "delegate"]
    ok = await admin("create-user", "nguyenvana", *user, "--password", "x" * 12)
    assert ok.returncode == 0, ok

    pw = ["--password", "x" * 12]
    failures = {
        # The domain's rules.
        ("create-unit", "Xã", "--kind", "commune"): "a commune cannot be placed under nothing",
        ("create-user", "NguyenVanA", *user, *pw): "username already taken",
        ("create-user", "tranthib", *user, "--password", "short"): (
            "password must have at least 10 characters"
        ),
        ("reset-password", "nobody"): "no account named 'nobody'",
        ("create-user", "tranthic", *user, *pw, "--email", "không-hợp-lệ"): (
            "email: value is not a valid email address: An email address must have an @-sign."
        ),
        # The API's input rules hold on the command line too.
        ("create-user", "   ", *user, *pw): "username: String should have at least 3 characters",
        ("create-user", "bad name!", *user, *pw): (
            "username: String should match pattern '^[A-Za-z0-9._-]+$'"
        ),
        ("create-unit", "x" * 201, "--kind", "province"): (
            "name: String should have at most 200 characters"
        ),
        ("create-endpoint", "", "--unit", "1"): "name: String should have at least 1 character",
        ("reset-password", "nguyenvana", "--password", "p" * 257): (
            "new_password: String should have at most 256 characters"
        ),
    }
    if database_url is not None:
        # The rules do not depend on the backend; on PostgreSQL check the ones that reach it
        # (an over-long name used to crash there with a traceback instead of this message).
        failures = {k: v for k, v in failures.items() if k[1] in ("x" * 201, "NguyenVanA")}
    # Independent (each fails without writing), so they run side by side.
    results = await asyncio.gather(*(admin(*args) for args in failures))
    for (args, message), result in zip(failures.items(), results, strict=True):
        assert result.returncode == 1, (args, result)
        assert result.stdout == ""
        assert result.stderr == f"error: {message}\n", (args, result.stderr)

    # Bad arguments are argparse's business: exit status 2 and a usage line.
    result = await admin("create-user", "x", "--full-name", "X", "--unit", "1", "--role", "king")
    assert result.returncode == 2 and "usage: phonghop admin create-user" in result.stderr

    # Nothing but the two successful commands left a trace.
    units, accounts, endpoints = await _rows(
        database_url or f"sqlite:///{tmp_path / 'data' / 'phonghop.sqlite3'}"
    )
    assert [u.name for u in units] == ["Tỉnh"]
    assert [a.username for a in accounts] == ["nguyenvana"]
    assert endpoints == []


# ---- phonghop serve ------------------------------------------------------------------


async def test_serve_demo(tmp_path):
    port = free_port()
    data_dir = tmp_path / "data"
    async with serve(
        "--demo", "--port", str(port), "--data-dir", str(data_dir), port=port, cwd=tmp_path
    ) as srv:
        text = srv.err_text
        url = _line(r"phonghop demo is running at (\S+)$", text).group(1)
        assert url == srv.url
        meeting_id = int(_line(r"Live demo meeting: id (\d+)$", text).group(1))
        logins = dict(re.findall(r"^ {4}(chutri|thuky|daibieu|quansat) +(\S+)$", text, re.M))
        assert set(logins) == {"chutri", "thuky", "daibieu", "quansat"}
        devices = re.findall(rf"^ {{4}}(.+): {re.escape(url)}/device#token=(phd_\S+)$", text, re.M)
        assert len(devices) == 3

        # Startup objects are frozen out of the collector's full passes (signaling/collector.py).
        frozen = [e for e in srv.json_logs() if e["event"] == "collector.frozen"]
        assert len(frozen) == 1 and frozen[0]["objects"] > 10_000, frozen
        async with aiohttp.ClientSession() as http:
            assert (await Api(url, http).get("/healthz"))[0] == 200
            for username in ("chutri", "daibieu"):
                status, body = await login(http, url, username, logins[username])
                assert status == 200, body
                status, mine = await Api(url, http, token=body["access_token"]).get(
                    "/api/v1/meetings"
                )
                assert status == 200
                demo = next(m for m in mine if m["id"] == meeting_id)
                assert demo["state"] == "live"
            # A printed device link logs the commune endpoint in, and it sees the meeting too.
            name, token = devices[0]
            status, me = await Api(url, http, token=token).get("/api/v1/auth/me")
            assert status == 200 and me["kind"] == "endpoint" and me["name"] == name
            status, mine = await Api(url, http, token=token).get("/api/v1/meetings")
            assert status == 200 and meeting_id in [m["id"] for m in mine]
            # ... and joins it over socket.io.
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(url, auth={"token": token}, transports=["websocket"])
            try:
                ack = await client.call("join", {"meeting_id": meeting_id}, timeout=10)
            finally:
                await client.disconnect()
            assert ack["ok"] and ack["meeting"]["state"] == "live", ack
            assert ack["self"]["name"] == name and ack["self"]["meeting_role"] == "endpoint"

            # Logs are JSON lines with the usual fields; the login was logged.
            def logged_login() -> bool:
                return any(e.get("event") == "login.ok" for e in srv.json_logs())

            await wait_for(logged_login, 10)
            logs = srv.json_logs()
            assert logs
            for entry in logs:
                assert {"event", "level", "logger", "timestamp"} <= entry.keys(), entry
            assert any(e["event"] == "bootstrap.admin_created" for e in logs)
            assert logged_login()
            assert "phonghop-demo" not in "".join(json.dumps(e) for e in logs)
            assert srv.stray_lines() == []


async def test_first_start_prints_the_admin_password_once(tmp_path):
    port = free_port()
    data = ["--port", str(port), "--data-dir", str(tmp_path / "data")]
    # The command line beats the environment.
    env = clean_env(PHONGHOP_PORT=str(free_port()))
    async with serve(*data, port=port, cwd=tmp_path, env=env) as first:
        text = first.err_text
        assert "first start" in text
        password = _line(r"^ +password: (\S+)$", text).group(1)
        async with aiohttp.ClientSession() as http:
            status, body = await login(http, first.url, "admin", password)
            assert status == 200 and body["account"]["role"] == "admin", body
            token = body["access_token"]
        # Printed on the console, never written to the logs.
        assert all(password not in json.dumps(e) for e in first.json_logs())
        created = [e for e in first.json_logs() if e["event"] == "bootstrap.admin_created"]
        assert created and created[0]["password_generated"] is True

    async with serve(*data, port=port, cwd=tmp_path, env=env) as second:
        async with aiohttp.ClientSession() as http:
            assert (await login(http, second.url, "admin", password))[0] == 200
            # The signing key persisted in the data dir: a token from the first run still works.
            status, me = await Api(second.url, http, token=token).get("/api/v1/auth/me")
            assert status == 200 and me["username"] == "admin"
    assert first.stray_lines() == [] and second.stray_lines() == []
    # SIGTERM stops the server cleanly (the helper would have had to kill it otherwise).
    assert first.proc.returncode == 0 and second.proc.returncode == 0
    assert "first start" not in second.err_text
    assert password not in second.err_text
    assert not any(e["event"] == "bootstrap.admin_created" for e in second.json_logs())


async def test_settings_come_from_the_environment(tmp_path):
    port = free_port()
    data_dir = tmp_path / "elsewhere"
    password = "env-admin-password-2026"
    async with postgres_database() as url:
        env = clean_env(
            PHONGHOP_PORT=str(port),
            PHONGHOP_DATA_DIR=str(data_dir),
            PHONGHOP_DATABASE_URL=url,
            PHONGHOP_ADMIN_PASSWORD=password,
            PHONGHOP_LOG_LEVEL="DEBUG",
        )
        async with serve(port=port, cwd=tmp_path, env=env) as srv:
            async with aiohttp.ClientSession() as http:
                status, body = await login(http, srv.url, "admin", password)
                assert status == 200, body
            assert "first start" not in srv.err_text  # the password was given, not generated
            assert any(e["level"] == "debug" for e in srv.json_logs())
        # The data dir came from the environment; the accounts are in PostgreSQL.
        assert (data_dir / "secret_key").exists()
        assert not (data_dir / "phonghop.sqlite3").exists()
        assert not (tmp_path / "data").exists()
        engine = db.create_engine(url)
        try:
            async with db.session_factory(engine)() as s:
                admins = (await s.exec(select(Account.username))).all()
        finally:
            await engine.dispose()
        assert admins == ["admin"]
        # The admin commands read the same variables (here through ``python -m signaling``).
        result = await phonghop(
            "admin",
            "create-unit",
            "Tỉnh Lạng Sơn",
            "--kind",
            "province",
            cwd=tmp_path,
            env=env,
            as_module=True,
        )
        assert result.returncode == 0 and result.stdout.startswith("unit "), result
        engine = db.create_engine(url)
        try:
            async with db.session_factory(engine)() as s:
                names = (await s.exec(select(Unit.name).order_by(Unit.id))).all()
        finally:
            await engine.dispose()
        assert names[-1] == "Tỉnh Lạng Sơn"


async def test_verify_audit_reports_tampering(tmp_path):
    """``admin verify-audit`` exits 0 on an intact log and 1, naming the entry, after an edit."""
    url = f"sqlite:///{tmp_path / 'data' / 'phonghop.sqlite3'}"
    (tmp_path / "data").mkdir()
    engine = db.create_engine(url)
    try:
        await db.migrate(engine)
        sessions = db.session_factory(engine)
        for i in range(3):
            async with db.transaction(sessions) as s:
                await audit.append(s, None, "unit.created", "unit", i, after={"name": f"Xã {i}"})
        ok = await phonghop("admin", "verify-audit", cwd=tmp_path)
        assert ok.returncode == 0, ok
        assert ok.stdout == "global: 3 entries, ok\n"
        async with db.transaction(sessions) as s:
            await s.exec(text("UPDATE audit_entry SET actor = 'account:99' WHERE seq = 2"))
    finally:
        await engine.dispose()
    broken = await phonghop("admin", "verify-audit", cwd=tmp_path)
    assert broken.returncode == 1
    assert "seq 2: content does not match its hash" in broken.stdout
    assert broken.stderr.startswith("error: the audit log does not verify")
