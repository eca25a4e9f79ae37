"""The SFU under test as a process the benchmark starts, measures and stops."""

import argparse
import contextlib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Protocol

import benchutil

from . import common

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BENCH_DIR.parent


class SfuServer(Protocol):
    """What the benchmark needs of a server under test."""

    pid: int
    client_config: dict[str, Any]  # given to the publisher's and subscribers' SfuClient

    def cpu_seconds(self) -> float:
        """CPU time the server (and its children) used so far."""
        ...

    def timestamp_origins(self) -> dict[int, int]:
        """Subscriber video SSRC → RTP timestamp origin, for SFUs that re-encode."""
        ...

    def tail(self) -> str:
        """The end of the server's log."""
        ...

    def stop(self) -> None:
        """Stop the server and remove what it created."""
        ...


def start_server(mode: str, subscribers: int, args: argparse.Namespace) -> SfuServer:
    """Start the SFU called ``mode`` and wait until it answers."""
    if mode == "relay":
        return RelayProcess()
    if mode == "janus":
        from .janus import JanusProcess

        return JanusProcess(keep=args.keep)
    if mode == "phonghop":
        from .phonghop import PhonghopProcess

        return PhonghopProcess(subscribers, args)
    raise ValueError(f"unknown SFU {mode!r}")


class LoggedProcess(benchutil.LoggedProcess):
    """A logged child process whose CPU time counts its children too (Janus, the relay)."""

    def cpu_seconds(self) -> float:
        """CPU time of the process and its children."""
        return common.tree_cpu_seconds(self.pid)


def wait_http(url: str, proc: subprocess.Popen, within: float = 30.0) -> None:
    """Poll ``url`` until it answers (any HTTP status)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {within:.0f} s")


class RelayProcess(LoggedProcess):
    """``python -m fanout_lib.relay`` on a free loopback port."""

    def __init__(self) -> None:
        import tempfile

        port = benchutil.free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = Path(tempfile.mkdtemp(prefix="phonghop-fanout-relay-"))
        command = [sys.executable, "-m", "fanout_lib.relay", "--port", str(port)]
        super().__init__(command, self.workdir / "relay.log", cwd=str(BENCH_DIR))
        wait_http(self.url + "/healthz", self.proc)
        self.client_config = {"url": self.url}

    def timestamp_origins(self) -> dict[int, int]:
        """The relay's encoders stamp ``origin + publisher timestamp``."""
        import asyncio

        from .relay import fetch_origins

        return asyncio.run(fetch_origins(self.url))

    def stop(self) -> None:
        """Stop the relay server and remove its log."""
        self.terminate()
        import shutil

        with contextlib.suppress(OSError):
            shutil.rmtree(self.workdir)
