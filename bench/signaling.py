"""Signaling benchmark: N endpoint devices connect over socket.io and join one meeting.

Starts a real server (``python -m signaling serve``) on a free loopback port with a fresh data
directory, seeds it through the public REST API (a province, communes, N endpoints with device
tokens, a chair, a live meeting inviting the province), then starts ``--procs`` client processes.
Each runs many ``socketio.AsyncClient``s that connect with their device token and ``join`` the
meeting, at most ``--concurrency`` at a time per process. The timed phase runs from a common
start signal to the last join acknowledgement. Afterwards every client must have seen all N
participants (join snapshot ∪ ``participant.joined`` − ``participant.left``). At the end the
chair ends the meeting (which clears its presence, in Redis too) and the server is stopped.

Progress goes to stderr; the last line on stdout is one JSON object::

    {"clients", "joined", "seconds", "p50_join_ack_ms", "p99_join_ack_ms", "presence_ok", ...}

Usage::

    python bench/signaling.py --clients 1000 [--procs 4] [--concurrency 2]
        [--database-url postgresql+asyncpg://...] [--redis-url redis://...] [--profile out.svg]

Client processes share the machine with the server, so ``server_cpu_seconds`` and
``client_cpu_seconds`` are reported, and ``other_cpu_seconds`` for anything else that ran
meanwhile (a busy machine makes the numbers meaningless).
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from benchutil import (
    PhonghopServer,
    Rest,
    child_main,
    cpu_seconds,
    machine_busy_seconds,
    percentile,
    stamped_log,
)

log = stamped_log("bench")


async def seed(url: str, admin_password: str, clients: int, communes: int, parallel: int) -> dict:
    """Province, communes, one endpoint per client, a chair and a live meeting for the province."""
    jar = aiohttp.DummyCookieJar()  # bearer only: no session cookie, no CSRF
    connector = aiohttp.TCPConnector(limit=parallel)
    async with aiohttp.ClientSession(cookie_jar=jar, connector=connector) as http:
        admin = Rest(http, url)
        await admin.login("admin", admin_password)
        province = await admin.post("/units", {"name": "Tỉnh Bench", "kind": "province"})
        gate = asyncio.Semaphore(parallel)

        async def make(path: str, body: dict) -> dict:
            async with gate:
                return await admin.post(path, body)

        commune_ids = [
            u["id"]
            for u in await asyncio.gather(
                *(
                    make(
                        "/units",
                        {"name": f"Xã Bench {i}", "kind": "commune", "parent_id": province["id"]},
                    )
                    for i in range(communes)
                )
            )
        ]
        log(f"seeded {len(commune_ids)} communes")
        created = await asyncio.gather(
            *(
                make(
                    "/endpoints",
                    {"name": f"Điểm cầu {i}", "unit_id": commune_ids[i % len(commune_ids)]},
                )
                for i in range(clients)
            )
        )
        tokens = [e["token"] for e in created]
        log(f"seeded {len(tokens)} endpoints")
        chair_password = "chair-" + secrets.token_urlsafe(18)
        chair_account = await admin.post(
            "/accounts",
            {
                "username": "bench.chair",
                "full_name": "Chủ trì Bench",
                "unit_id": province["id"],
                "role": "chair",
                "password": chair_password,
            },
        )
        meeting = await admin.post(
            "/meetings",
            {
                "title": "Giao ban trực tuyến (bench)",
                "starts_at": datetime.now(UTC).isoformat(),
                "chair_id": chair_account["id"],
            },
        )
        await admin.post(
            f"/meetings/{meeting['id']}/invitations",
            {"invitees": [{"kind": "unit", "id": province["id"]}]},
        )
        chair = Rest(http, url)
        await chair.login("bench.chair", chair_password)
        await chair.post(f"/meetings/{meeting['id']}/start", None, 200)
        log(f"meeting {meeting['id']} is live")
        return {"meeting_id": meeting["id"], "tokens": tokens, "chair_token": chair.token}


async def end_meeting(url: str, meeting_id: int, chair_token: str) -> None:
    """End the meeting, which also clears its presence (in Redis too)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        chair = Rest(http, url)
        chair.token = chair_token
        await chair.post(f"/meetings/{meeting_id}/end", None, 200)


async def check_presence_empty(redis_url: str, meeting_id: int) -> None:
    """With Redis, a previous run's presence for the same meeting id would skew this one."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        stale = await redis.hlen(f"phonghop:presence:{meeting_id}")
    finally:
        await redis.aclose()
    if stale:
        raise RuntimeError(
            f"Redis already holds {stale} participants for meeting {meeting_id}: "
            "use an empty Redis database (e.g. redis://127.0.0.1:6379/15)"
        )


# ---- client processes ---------------------------------------------------------------------


async def _wait_event(event: Any) -> None:
    """Wait for a multiprocessing event without blocking the loop."""
    await asyncio.to_thread(event.wait)


async def clients(
    index: int,
    url: str,
    meeting_id: int,
    tokens: list[str],
    expected: int,
    options: dict[str, Any],
    start: Any,
    stop: Any,
    results: Any,
) -> None:
    """One client process's socket.io clients (run through ``benchutil.child_main``)."""
    import socketio  # imported here: the parent does not need it

    extra = {"compress": 15} if options["ws_compress"] else {}
    n = len(tokens)
    clients = [
        socketio.AsyncClient(
            reconnection=False, handle_sigint=False, websocket_extra_options=dict(extra)
        )
        for _ in range(n)
    ]
    seen: list[set[str]] = [set() for _ in range(n)]  # snapshot ∪ joined − left, per client
    complete = asyncio.Event()
    remaining = [n]  # clients that have not yet seen ``expected`` participants
    done = [False] * n
    complete_at: list[float] = []

    def settle(i: int) -> None:
        if not done[i] and len(seen[i]) >= expected:
            done[i] = True
            remaining[0] -= 1
            if remaining[0] == 0:
                complete_at.append(time.monotonic())
                complete.set()

    def attach_handlers(i: int, client: Any) -> None:
        def on_joined(data: dict) -> None:
            if data.get("meeting_id") == meeting_id:
                seen[i].update(p["key"] for p in data.get("participants", ()))
                settle(i)

        def on_left(data: dict) -> None:
            if data.get("meeting_id") == meeting_id:
                seen[i].difference_update(p["key"] for p in data.get("participants", ()))
                if len(seen[i]) < expected and done[i]:
                    done[i] = False
                    remaining[0] += 1

        client.on("participant.joined", on_joined)
        client.on("participant.updated", on_joined)  # still present, state changed
        client.on("participant.left", on_left)

    for i, client in enumerate(clients):
        attach_handlers(i, client)

    connect_ms: list[float] = []
    join_ms: list[float] = []
    errors: list[str] = []
    last_ack = 0.0
    gate = asyncio.Semaphore(options["concurrency"])

    async def run_one(i: int) -> None:
        nonlocal last_ack
        client = clients[i]
        async with gate:
            t0 = time.monotonic()
            try:
                await client.connect(
                    url,
                    auth={"token": tokens[i]},
                    transports=["websocket"],
                    wait_timeout=options["timeout"],
                )
            except Exception as exc:
                errors.append(f"connect: {exc!r}")
                return
            t1 = time.monotonic()
            connect_ms.append((t1 - t0) * 1000)
            try:
                ack = await client.call(
                    "join", {"meeting_id": meeting_id}, timeout=options["timeout"]
                )
            except Exception as exc:
                errors.append(f"join: {exc!r}")
                return
            t2 = time.monotonic()
        if not isinstance(ack, dict) or not ack.get("ok"):
            errors.append(f"join refused: {ack!r}"[:300])
            return
        join_ms.append((t2 - t1) * 1000)
        last_ack = max(last_ack, t2)
        seen[i].update(p["key"] for p in ack.get("participants", ()))
        settle(i)

    cpu_ready = cpu_seconds(os.getpid())
    results.put(("ready", index, None))
    await _wait_event(start)
    started = time.monotonic()
    await asyncio.gather(*(run_one(i) for i in range(n)))
    joined = len(join_ms)
    results.put(
        (
            "joined",
            index,
            {
                "started": started,
                "last_ack": last_ack,
                "connect_ms": connect_ms,
                "join_ms": join_ms,
                "joined": joined,
                "errors": errors[:20],
                "error_count": len(errors),
            },
        )
    )

    # presence: wait until every joined client has seen everyone (or give up)
    if joined == n:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(complete.wait(), options["presence_timeout"])
    else:
        await asyncio.sleep(min(options["presence_timeout"], 2.0))
    sizes = [len(s) for s in seen]
    results.put(
        (
            "presence",
            index,
            {
                "complete_at": complete_at[0] if complete_at else None,
                "short": sum(1 for s in sizes if s != expected),
                "min_seen": min(sizes, default=0),
                "max_seen": max(sizes, default=0),
                "cpu": cpu_seconds(os.getpid()) - cpu_ready,
            },
        )
    )

    await _wait_event(stop)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


def split(items: list[str], parts: int) -> Iterator[list[str]]:
    """Near-equal contiguous slices."""
    size, extra = divmod(len(items), parts)
    at = 0
    for p in range(parts):
        take = size + (1 if p < extra else 0)
        yield items[at : at + take]
        at += take


def collect(
    results: Any, inbox: dict[tuple[str, int], Any], kind: str, within: float, procs: list
) -> dict[int, Any]:
    """Wait for one message of ``kind`` from each client process.

    Messages of other kinds read meanwhile are kept in ``inbox`` for a later call: a fast
    process may report its presence while another is still joining.
    """
    got = {i: inbox.pop((kind, i)) for i in range(len(procs)) if (kind, i) in inbox}
    deadline = time.monotonic() + within
    while len(got) < len(procs):
        missing = [i for i in range(len(procs)) if i not in got]
        left = deadline - time.monotonic()
        if left <= 0:
            for i in missing:  # their stacks go to stderr (faulthandler in benchutil.child_main)
                with contextlib.suppress(OSError):
                    os.kill(procs[i].pid, signal.SIGUSR1)
            time.sleep(1.0)
            raise TimeoutError(f"client processes {missing} did not report {kind!r}")
        try:
            what, index, data = results.get(timeout=min(left, 1.0))
        except queue.Empty:
            dead = [i for i in missing if not procs[i].is_alive()]
            if dead:
                codes = [procs[i].exitcode for i in dead]
                raise RuntimeError(f"client processes {dead} exited (codes {codes})") from None
            continue
        if what == "error":
            raise RuntimeError(f"client process {index} failed: {data}")
        if what == kind:
            got[index] = data
        else:
            inbox[(what, index)] = data
    return got


def start_profiler(path: str, pid: int) -> subprocess.Popen:
    """py-spy (next to this Python, or on PATH) sampling the server until stopped."""
    exe = Path(sys.executable).with_name("py-spy")
    command = [str(exe) if exe.exists() else "py-spy", "record", "--pid", str(pid)]
    fmt = "speedscope" if path.endswith(".json") else "raw" if path.endswith(".txt") else None
    command += ["-o", path, "--rate", "200", "--nonblocking"]
    if fmt:
        command += ["--format", fmt]
    proc = subprocess.Popen(command, stdout=sys.stderr, stderr=sys.stderr)
    time.sleep(1.0)  # let it attach
    return proc


def stop_profiler(proc: subprocess.Popen, path: str) -> None:
    """SIGINT makes py-spy write its output."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
    log(f"profile written to {path}")


# ---- main ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start, seed, measure, clean up; return the result line."""
    workdir = Path(tempfile.mkdtemp(prefix="phonghop-bench-"))
    server: PhonghopServer | None = None
    procs: list[mp.process.BaseProcess] = []
    ctx = mp.get_context("spawn")
    profiler: subprocess.Popen | None = None
    seeded: dict[str, Any] | None = None
    stop = ctx.Event()
    try:
        server = PhonghopServer(
            workdir,
            database_url=args.database_url,
            redis_url=args.redis_url,
            log_level=args.server_log_level,
        )
        asyncio.run(server.wait_healthy())
        log(f"server pid {server.proc.pid} at {server.url}")
        t_seed = time.monotonic()
        communes = args.communes or args.clients
        seeded = asyncio.run(
            seed(server.url, server.admin_password, args.clients, communes, args.seed_parallel)
        )
        log(f"seeding took {time.monotonic() - t_seed:.1f} s")
        if args.redis_url:
            asyncio.run(check_presence_empty(args.redis_url, seeded["meeting_id"]))

        nprocs = max(1, min(args.procs, args.clients))
        start = ctx.Event()
        results = ctx.Queue()
        options = {
            "concurrency": args.concurrency,
            "timeout": args.timeout,
            "presence_timeout": args.presence_timeout,
            "ws_compress": args.ws_compress,
        }
        for index, tokens in enumerate(split(seeded["tokens"], nprocs)):
            p = ctx.Process(
                target=child_main,
                args=(
                    index,
                    results,
                    clients,
                    index,
                    server.url,
                    seeded["meeting_id"],
                    tokens,
                    args.clients,
                    options,
                    start,
                    stop,
                    results,
                ),
                daemon=True,
            )
            p.start()
            procs.append(p)
        inbox: dict[tuple[str, int], Any] = {}
        collect(results, inbox, "ready", 60, procs)
        log(f"{nprocs} client processes ready; go")

        if args.profile:
            profiler = start_profiler(args.profile, server.proc.pid)
        cpu0 = server.cpu_seconds()
        busy0 = machine_busy_seconds()
        t0 = time.monotonic()
        start.set()
        joined = collect(results, inbox, "joined", args.timeout * 4 + 60, procs)
        cpu_joined = server.cpu_seconds()
        presence = collect(results, inbox, "presence", args.presence_timeout + 60, procs)
        cpu_presence = server.cpu_seconds()
        busy = machine_busy_seconds() - busy0
        if profiler is not None:
            stop_profiler(profiler, args.profile)

        join_ms = [v for r in joined.values() for v in r["join_ms"]]
        connect_ms = [v for r in joined.values() for v in r["connect_ms"]]
        n_joined = sum(r["joined"] for r in joined.values())
        last_ack = max((r["last_ack"] for r in joined.values() if r["last_ack"]), default=t0)
        for r in joined.values():
            for e in r["errors"]:
                log(f"client error: {e}")
        error_count = sum(r["error_count"] for r in joined.values())
        short = sum(p["short"] for p in presence.values())
        client_cpu = sum(p["cpu"] for p in presence.values())
        complete = [p["complete_at"] for p in presence.values()]
        presence_ok = n_joined == args.clients and short == 0
        result = {
            "clients": args.clients,
            "joined": n_joined,
            "seconds": round(last_ack - t0, 3),
            "p50_join_ack_ms": round(percentile(join_ms, 50), 1),
            "p99_join_ack_ms": round(percentile(join_ms, 99), 1),
            "presence_ok": presence_ok,
            "presence_short": short,
            "presence_seconds": (
                round(max(complete) - t0, 3) if all(c is not None for c in complete) else None
            ),
            "min_participants_seen": min(p["min_seen"] for p in presence.values()),
            "max_join_ack_ms": round(max(join_ms, default=0.0), 1),
            "p50_connect_ms": round(percentile(connect_ms, 50), 1),
            "p99_connect_ms": round(percentile(connect_ms, 99), 1),
            "errors": error_count,
            "server_cpu_seconds": round(cpu_joined - cpu0, 2),
            "server_cpu_seconds_to_presence": round(cpu_presence - cpu0, 2),
            "client_cpu_seconds": round(client_cpu, 2),
            # CPU used by anything else on the machine meanwhile (other jobs skew the result)
            "other_cpu_seconds": round(max(0.0, busy - client_cpu - (cpu_presence - cpu0)), 2),
            "procs": nprocs,
            "concurrency_per_proc": args.concurrency,
            "database": "postgresql" if args.database_url else "sqlite",
            "redis": bool(args.redis_url),
            "ws_compress": args.ws_compress,
        }
        return result
    except BaseException:
        if server is not None:
            log("server output (tail):\n" + server.tail())
        raise
    finally:
        if profiler is not None and profiler.poll() is None:
            profiler.kill()
        stop.set()
        for p in procs:
            p.join(timeout=20)
            if p.is_alive():
                p.kill()
                p.join()
        if server is not None:
            if seeded is not None and server.proc.poll() is None:
                try:
                    ending = end_meeting(server.url, seeded["meeting_id"], seeded["chair_token"])
                    asyncio.run(ending)
                except Exception as exc:
                    log(f"could not end the meeting: {exc!r}")
            server.terminate()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=100, help="socket.io clients (endpoints)")
    p.add_argument("--procs", type=int, default=4, help="client processes")
    p.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="connect+join in flight per client process (default 2: with 4 processes this "
        "already keeps the server busy; more in flight only queues at the server, and the "
        "ack latency grows as procs × concurrency / throughput)",
    )
    p.add_argument("--communes", type=int, default=0, help="communes to seed (default: one each)")
    p.add_argument(
        "--database-url",
        help="passed to the server; must be an empty database (default: SQLite in a temp dir)",
    )
    p.add_argument(
        "--redis-url", help="passed to the server; best an unused Redis database (default: none)"
    )
    p.add_argument("--timeout", type=float, default=30.0, help="connect / join ack timeout (s)")
    p.add_argument(
        "--presence-timeout",
        type=float,
        default=30.0,
        help="how long clients wait to see everyone after joining (s)",
    )
    p.add_argument("--seed-parallel", type=int, default=16, help="concurrent seeding requests")
    p.add_argument(
        "--ws-compress",
        action="store_true",
        help="offer permessage-deflate like browsers do (the Python client does not by default)",
    )
    p.add_argument("--server-log-level", default="WARNING")
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="record the server with py-spy during the timed phase (.svg, .json or .txt)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server.log)")
    args = p.parse_args(argv)
    if args.clients < 1:
        p.error("--clients must be at least 1")
    return args


def main() -> int:
    """Run and print the JSON line last."""
    args = parse_args()
    result = run(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
