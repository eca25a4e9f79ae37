"""Helpers every benchmark script shares: ports, /proc CPU readings, percentiles, a logged child.

The scripts run as ``python bench/<name>.py``, so this directory is first on ``sys.path`` and
``import benchutil`` works from them and from ``fanout_lib`` (multiprocessing's spawn passes
``sys.path`` on to its children).
"""

import asyncio
import faulthandler
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

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
