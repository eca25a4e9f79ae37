"""Voting benchmark: N delegates vote in one poll over socket.io, each also tries a duplicate.

Starts a real server (``python -m signaling serve``) on a free loopback port with a fresh data
directory, seeds it through the public REST API (a province, a commune, a chair and N delegate
accounts, a live meeting inviting the commune), then starts ``--procs`` client processes. Each
logs its delegates in, connects them over socket.io, joins the meeting and checks them in
(``attendance.check_in``). The chair then opens one poll (REST); every client votes when it
hears ``poll.opened``:

* ``--arrival burst``: at once, all N within a few milliseconds (the worst case);
* ``--arrival human`` (default): after a delay drawn uniformly from 0.5 s to ``--spread`` s,
  like delegates reading the question and pressing a button.

``vote.cast`` is acknowledged only after the ballot's transaction has committed; the server
groups ballots that arrive together into one transaction (meetings/voting/writer.py). Right
after its acknowledgement each client sends a second, different ballot, which must be refused
(``already_voted``). The chair then closes the poll; the stored result must count exactly N
ballots and match, option by option, what the clients were told was accepted.

Progress goes to stderr; the last line on stdout is one JSON object::

    {"voters", "counted", "duplicates", "seconds", "p50_ack_ms", "p99_ack_ms", "arrival", ...}

``duplicates`` is the number of second ballots the server accepted (must be 0); ``seconds``
runs from the chair's open request to the last acknowledgement. ``server_p99_ack_ms_at_most``
and ``server_acks_over_100ms`` come from the server's own ``vote.cast`` latency histogram
(``/metrics``), so a slow acknowledgement can be told apart from a busy client process; each
client process stands in for many browsers and pauses its garbage collector while voting.

Usage::

    python bench/votes.py --voters 600 [--procs 4] [--arrival human|burst] [--spread 8]
        [--secret] [--database-url postgresql+asyncpg://...]
"""

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import os
import queue
import random
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from benchutil import (
    PhonghopServer,
    Rest,
    child_main,
    cpu_seconds,
    percentile,
    stamped_log,
)
from prometheus_client.parser import text_string_to_metric_families

log = stamped_log("votes")


async def seed(url: str, admin_password: str, voters: int, parallel: int) -> dict[str, Any]:
    """A commune with ``voters`` delegates, a chair and a live meeting inviting the commune."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        admin = Rest(http, url)
        await admin.login("admin", admin_password)
        province = await admin.call(
            "POST", "/units", {"name": "Tỉnh Bench", "kind": "province"}, 201
        )
        commune = await admin.call(
            "POST",
            "/units",
            {"name": "Xã Bench", "kind": "commune", "parent_id": province["id"]},
            201,
        )
        password = "dbieu-" + secrets.token_urlsafe(12)
        gate = asyncio.Semaphore(parallel)

        async def account(username: str, role: str, unit: int) -> dict[str, Any]:
            body = {
                "username": username,
                "full_name": f"Đại biểu {username}",
                "unit_id": unit,
                "role": role,
                "password": password,
            }
            async with gate:
                return await admin.call("POST", "/accounts", body, 201)

        chair = await account("bench.chair", "chair", province["id"])
        names = [f"bench.d{n:04d}" for n in range(voters)]
        await asyncio.gather(*(account(name, "delegate", commune["id"]) for name in names))
        log(f"seeded {voters} delegate accounts")
        meeting = await admin.call(
            "POST",
            "/meetings",
            {
                "title": "Kỳ họp HĐND (bench biểu quyết)",
                "starts_at": datetime.now(UTC).isoformat(),
                "chair_id": chair["id"],
            },
            201,
        )
        await admin.call(
            "POST",
            f"/meetings/{meeting['id']}/invitations",
            {"invitees": [{"kind": "unit", "id": commune["id"]}]},
            201,
        )
        chair_api = Rest(http, url)
        await chair_api.login("bench.chair", password)
        await chair_api.call("POST", f"/meetings/{meeting['id']}/start")
        return {
            "meeting_id": meeting["id"],
            "usernames": names,
            "password": password,
            "chair_token": chair_api.token,
        }


# ---- client processes ---------------------------------------------------------------------


async def voters_main(
    index: int,
    url: str,
    meeting_id: int,
    usernames: list[str],
    password: str,
    options: dict[str, Any],
    results: Any,
) -> None:
    """One process's delegates: log in, connect, join, check in; vote on ``poll.opened``."""
    import socketio  # imported here: the parent does not need it

    rng = random.Random(options["seed"] * 1000 + index)
    gate = asyncio.Semaphore(options["concurrency"])
    clients: list[Any] = []
    ack_ms: list[float] = []
    ack_sent: list[float] = []  # wall time each acknowledged first ballot was sent
    accepted: dict[int, int] = {}  # option id → ballots acknowledged
    duplicates = refused_duplicates = 0
    errors: list[str] = []
    first_sent: list[float] = []
    last_ack = [0.0]
    finished = asyncio.Event()
    pending = [len(usernames)]

    async def vote(client: Any, poll: dict[str, Any]) -> None:
        nonlocal duplicates, refused_duplicates
        option_ids = [o["id"] for o in poll["options"]]
        choice = rng.choice(option_ids)
        if options["arrival"] == "human":
            await asyncio.sleep(rng.uniform(0.5, options["spread"]))
        body = {"meeting_id": meeting_id, "poll_id": poll["id"], "choices": [choice]}
        try:
            sent = time.time()
            first_sent.append(sent)
            t0 = time.monotonic()
            ack = await client.call("vote.cast", body, timeout=options["timeout"])
            ack_ms.append((time.monotonic() - t0) * 1000)
            ack_sent.append(sent)
            last_ack[0] = max(last_ack[0], time.time())
            if ack.get("ok"):
                accepted[choice] = accepted.get(choice, 0) + 1
            else:
                errors.append(f"vote refused: {ack}"[:300])
            other = option_ids[(option_ids.index(choice) + 1) % len(option_ids)]
            again = await client.call(
                "vote.cast", {**body, "choices": [other]}, timeout=options["timeout"]
            )
            if again.get("ok"):
                duplicates += 1
            elif again.get("error", {}).get("code") == "already_voted":
                refused_duplicates += 1
            else:
                errors.append(f"duplicate: {again}"[:300])
        except Exception as exc:
            errors.append(f"vote: {exc!r}")
        finally:
            pending[0] -= 1
            if pending[0] == 0:
                finished.set()

    async def prepare(username: str) -> None:
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)

        def on_opened(data: dict[str, Any]) -> None:
            asyncio.get_running_loop().create_task(vote(client, data["poll"]))

        client.on("poll.opened", on_opened)
        async with gate:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
                rest = Rest(http, url)
                await rest.login(username, password)
            await client.connect(
                url, auth={"token": rest.token}, transports=["websocket"], wait_timeout=30
            )
            ack = await client.call("join", {"meeting_id": meeting_id}, timeout=30)
            if not ack.get("ok"):
                raise RuntimeError(f"join refused: {ack}")
            ack = await client.call("attendance.check_in", {"meeting_id": meeting_id}, timeout=30)
            if not ack.get("ok"):
                raise RuntimeError(f"check-in refused: {ack}")
        clients.append(client)

    await asyncio.gather(*(prepare(u) for u in usernames))
    # This process stands in for many delegates' own browsers: its garbage collector must not
    # stall them all at once and have that counted as server latency. What exists now (the
    # connected clients) is frozen, and collection waits until the votes are in.
    gc.collect()
    gc.freeze()
    gc.disable()
    cpu_ready = cpu_seconds(os.getpid())
    results.put(("ready", index, len(clients)))
    try:
        await asyncio.wait_for(finished.wait(), options["spread"] + options["timeout"] + 60)
    except TimeoutError:
        errors.append(f"{pending[0]} voters never finished")
    results.put(
        (
            "voted",
            index,
            {
                "ack_ms": ack_ms,
                "ack_sent": ack_sent,
                "accepted": accepted,
                "duplicates": duplicates,
                "refused_duplicates": refused_duplicates,
                "first_sent": min(first_sent, default=0.0),
                "last_ack": last_ack[0],
                "errors": errors[:10],
                "error_count": len(errors),
                "cpu": cpu_seconds(os.getpid()) - cpu_ready,
            },
        )
    )
    gc.enable()
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


def collect(results: Any, kind: str, procs: list[Any], within: float) -> dict[int, Any]:
    """One message of ``kind`` from each client process."""
    got: dict[int, Any] = {}
    deadline = time.monotonic() + within
    while len(got) < len(procs):
        if time.monotonic() > deadline:
            raise TimeoutError(f"client processes did not all report {kind!r}")
        try:
            what, index, data = results.get(timeout=1.0)
        except queue.Empty:
            if any(not p.is_alive() for i, p in enumerate(procs) if i not in got):
                raise RuntimeError("a client process exited early") from None
            continue
        if what == "error":
            raise RuntimeError(f"client process {index} failed: {data}")
        if what == kind:
            got[index] = data
    return got


# ---- the run ------------------------------------------------------------------------------


async def conduct(url: str, seeded: dict[str, Any], secret: bool) -> tuple[Rest, int, float]:
    """The chair prepares and opens the poll; returns (client, poll id, wall time of open)."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    chair = Rest(http, url, seeded["chair_token"])
    m = seeded["meeting_id"]
    poll = await chair.call(
        "POST",
        f"/meetings/{m}/polls",
        {
            "title": "Thông qua Nghị quyết kế hoạch đầu tư công năm 2027",
            "kind": "yes_no_abstain",
            "secret": secret,
            "majority": "all_members",
        },
        201,
    )
    opened_at = time.time()
    opened = await chair.call("POST", f"/meetings/{m}/polls/{poll['id']}/open")
    if opened["present_count"] != len(seeded["usernames"]):
        raise RuntimeError(f"{opened['present_count']} voters present, expected all")
    return chair, poll["id"], opened_at


async def vote_cast_buckets(url: str) -> dict[float, int]:
    """Cumulative counts of the server's ``vote.cast`` handling-time histogram, by bound."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        text = await response.text()
    return {
        float(sample.labels["le"]): int(sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == "phonghop_socket_event_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket") and sample.labels.get("event") == "vote.cast"
    }


def bucket_percentile(buckets: dict[float, int], q: float) -> float | None:
    """The upper bound (ms) of the bucket holding the q-th percentile (None if no events)."""
    total = buckets.get(float("inf"), 0)
    if not total:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= total * q / 100:
            return bound * 1000
    return None


def server_over(buckets: dict[float, int], seconds: float) -> int:
    """How many events the server took longer than ``seconds`` (a bucket bound) to answer."""
    return buckets.get(float("inf"), 0) - buckets.get(seconds, 0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Everything, start to end; returns the JSON report."""
    workdir = Path(tempfile.mkdtemp(prefix="phonghop-votes-"))
    server: PhonghopServer | None = None
    procs: list[Any] = []
    try:
        server = PhonghopServer(
            workdir, database_url=args.database_url, log_level=args.server_log_level
        )
        asyncio.run(server.wait_healthy())
        log(f"server pid {server.pid} at {server.url}")
        seeded = asyncio.run(
            seed(server.url, server.admin_password, args.voters, args.seed_parallel)
        )
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        options = {
            "arrival": args.arrival,
            "spread": args.spread,
            "timeout": args.timeout,
            "concurrency": args.concurrency,
            "seed": args.seed,
        }
        names = seeded["usernames"]
        for i in range(args.procs):
            part = names[i :: args.procs]
            proc = ctx.Process(
                target=child_main,
                args=(
                    i,
                    results,
                    voters_main,
                    i,
                    server.url,
                    seeded["meeting_id"],
                    part,
                    seeded["password"],
                    options,
                    results,
                ),
                daemon=True,
            )
            proc.start()
            procs.append(proc)
        ready = collect(results, "ready", procs, within=600)
        log(f"{sum(ready.values())} voters joined and checked in")

        async def vote_and_close() -> dict[str, Any]:
            cpu0 = cpu_seconds(server.pid)
            buckets0 = await vote_cast_buckets(server.url)
            chair, poll_id, opened_at = await conduct(server.url, seeded, args.secret)
            try:
                voted = await asyncio.to_thread(
                    collect, results, "voted", procs, args.spread + args.timeout + 120
                )
                cpu = cpu_seconds(server.pid) - cpu0
                buckets = await vote_cast_buckets(server.url)
                m = seeded["meeting_id"]
                closed = await chair.call("POST", f"/meetings/{m}/polls/{poll_id}/close")
                voters = await chair.call("GET", f"/meetings/{m}/polls/{poll_id}/voters")
            finally:
                await chair.http.close()
            return {
                "voted": voted,
                "closed": closed,
                "voters": voters,
                "opened_at": opened_at,
                "cpu": cpu,
                "server_buckets": {le: n - buckets0.get(le, 0) for le, n in buckets.items()},
            }

        outcome = asyncio.run(vote_and_close())
        voted = outcome["voted"].values()
        acks = [ms for v in voted for ms in v["ack_ms"]]
        timed = sorted(
            (
                (ms, sent)
                for v in voted
                for ms, sent in zip(v["ack_ms"], v["ack_sent"], strict=True)
            ),
            reverse=True,
        )
        told: dict[int, int] = {}
        for v in voted:
            for option, n in v["accepted"].items():
                told[int(option)] = told.get(int(option), 0) + n
        stored = {o["id"]: o["votes"] for o in outcome["closed"]["options"]}
        errors = [e for v in voted for e in v["errors"]]
        return {
            "voters": args.voters,
            "counted": outcome["closed"]["ballot_count"],
            "duplicates": sum(v["duplicates"] for v in voted),
            "seconds": round(max(v["last_ack"] for v in voted) - outcome["opened_at"], 3),
            "p50_ack_ms": round(percentile(acks, 50), 1),
            "p99_ack_ms": round(percentile(acks, 99), 1),
            "max_ack_ms": round(max(acks, default=0.0), 1),
            # When the slowest 1 % were sent (s after the open request): a cluster points at
            # one stall, a spread at steady queueing.
            "slowest_sent_at_s": [
                round(sent - outcome["opened_at"], 2)
                for _, sent in timed[: max(1, len(timed) // 100)]
            ],
            "arrival": (
                "burst: every voter at once on poll.opened"
                if args.arrival == "burst"
                else f"human: each voter after uniform(0.5, {args.spread}) s from poll.opened"
            ),
            "secret": args.secret,
            "duplicates_refused": sum(v["refused_duplicates"] for v in voted),
            "tally_matches_acks": stored == {o: told.get(o, 0) for o in stored},
            "all_marked_voted": all(v["has_voted"] for v in outcome["voters"]),
            "outcome": outcome["closed"]["outcome"],
            "errors": len(errors),
            "error_samples": errors[:3],
            "server_cpu_seconds": round(outcome["cpu"], 2),
            # The server's own view (prometheus histogram of vote.cast handling, first ballots
            # and duplicates): tells server-side waiting apart from client-side scheduling.
            "server_p99_ack_ms_at_most": bucket_percentile(outcome["server_buckets"], 99),
            "server_acks_over_100ms": server_over(outcome["server_buckets"], 0.1),
            "client_procs": args.procs,
            "database": "postgresql" if args.database_url else "sqlite",
        }
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
        if server is not None:
            server.terminate()
            if args.keep:
                log(f"kept {workdir}")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--voters", type=int, default=600)
    p.add_argument("--procs", type=int, default=4, help="client processes")
    p.add_argument("--arrival", choices=("human", "burst"), default="human")
    p.add_argument("--spread", type=float, default=8.0, help="human arrival: latest vote, s")
    p.add_argument("--secret", action="store_true", help="a secret poll (default: named)")
    p.add_argument("--concurrency", type=int, default=8, help="logins/joins in flight per proc")
    p.add_argument("--seed-parallel", type=int, default=8)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--database-url", help="passed to the server; an empty database (default: SQLite)"
    )
    p.add_argument("--server-log-level", default="WARNING")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server.log)")
    return p.parse_args(argv)


def main() -> int:
    """Run and print the report as the last line."""
    args = parse_args()
    report = run(args)
    print(json.dumps(report, ensure_ascii=False))
    ok = (
        report["counted"] == args.voters
        and report["duplicates"] == 0
        and report["tally_matches_acks"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
