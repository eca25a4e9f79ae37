"""Helpers every benchmark script shares: ports, /proc CPU readings, percentiles, a logged child.

The scripts run as ``python bench/<name>.py``, so this directory is first on ``sys.path`` and
``import benchutil`` works from them and from ``fanout_lib`` (multiprocessing's spawn passes
``sys.path`` on to its children).
"""

import asyncio
import contextlib
import faulthandler
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (Linux /proc), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the ")" field 3 is state, so utime and stime (fields 14 and 15) are at 11 and 12
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (Linux /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def child_main(
    label: Any, results: Any, main: Callable[..., Coroutine[Any, Any, None]], *args: Any
) -> None:
    """Entry point of a spawned bench process: run ``main(*args)``; a crash goes to ``results``.

    The parent handles Ctrl-C and stops its children through its own events; SIGUSR1 dumps
    every thread's stack (the parent asks when a child looks stuck).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        asyncio.run(main(*args))
    except Exception as exc:
        results.put(("error", label, repr(exc)))


class LoggedProcess:
    """A child process whose stdout and stderr go to a log file."""

    grace_seconds = 10.0

    def __init__(self, command: list[str], log_path: Path, **popen: Any) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, **popen)
        self.pid = self.proc.pid

    def tail(self, lines: int = 30) -> str:
        """The end of the log."""
        self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def terminate(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.grace_seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"


class PhonghopServer(LoggedProcess):
    """``python -m signaling serve`` on a free loopback port, with its own data directory."""

    grace_seconds = 15.0

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str | None = None,
        redis_url: str | None = None,
        log_level: str = "warning",
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_password = "bench-" + secrets.token_urlsafe(18)
        command = [sys.executable, "-m", "signaling", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--data-dir", str(workdir / "data")]
        if database_url:
            command += ["--database-url", database_url]
        if redis_url:
            command += ["--redis-url", redis_url]
        environment = {
            **os.environ,
            "PHONGHOP_ADMIN_PASSWORD": self.admin_password,
            "PHONGHOP_LOG_LEVEL": log_level,
            # Every bench client logs in from 127.0.0.1, and runs in a row share a Redis: the
            # default per-address limit (20 per 5 minutes) would refuse them.
            "PHONGHOP_LOGIN_MAX_PER_ADDRESS": "100000",
            **(env or {}),
        }
        super().__init__(command, workdir / "server.log", env=environment, cwd=str(ROOT))

    async def wait_healthy(self, within: float = 60.0) -> None:
        """Poll GET /healthz until it answers 200."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def cpu_seconds(self) -> float:
        """CPU time the server has used."""
        return cpu_seconds(self.proc.pid)


class Rest:
    """Just enough of a REST client for seeding and driving a bench (bearer token)."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str | None = None) -> None:
        self.http = http
        self.base = base + API
        self.token = token

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """Send JSON; raise unless the status is ``expect``."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as r:
            data = await r.json(content_type=None)
            if r.status != expect:
                raise RuntimeError(f"{method} {path} → {r.status}: {data}")
            return data

    async def post(self, path: str, body: Any = None, expect: int = 201) -> Any:
        """POST JSON (201 expected unless told otherwise)."""
        return await self.call("POST", path, body, expect)

    async def login(self, username: str, password: str) -> None:
        """Password login; keep the bearer token."""
        self.token = None
        body = {"username": username, "password": password}
        self.token = (await self.call("POST", "/auth/login", body))["access_token"]


def stamped_log(prefix: str) -> Callable[[str], None]:
    """A progress logger on stderr: ``[prefix HH:MM:SS] message``."""

    def log(message: str) -> None:
        print(f"[{prefix} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    return log
