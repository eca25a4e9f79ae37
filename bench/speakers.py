"""List-of-speakers benchmark: N delegates ask to speak at once, the chair works the queue.

Starts a real server (``python -m signaling serve``) on a free loopback port with a fresh data
directory, seeds it through the public REST API (a commune with N delegates, a chair, a live
meeting inviting the commune), connects every delegate over socket.io and joins the meeting.
Then all N send ``speaker.request`` at the same moment, each followed at once by a second
request that must be refused (one open request per person). The chair then grants the floor
``--grants`` times in queue order (``speaker.grant``: each grant ends the previous speech)
and ends the last speech.

Progress goes to stderr; the last line on stdout is one JSON object::

    {"delegates", "accepted", "duplicates", "queue_dense", "request_p50_ms", "request_p99_ms",
     "grant_p50_ms", "grant_p99_ms", "events_per_delegate", "server_cpu_s"}

``duplicates`` counts second requests the server accepted (must be 0); ``queue_dense`` says
whether the queue positions came back as exactly 0..N-1; ``events_per_delegate`` is how many
``speakers.changed`` events an average delegate received (one per change, to the whole room).

Usage::

    python bench/speakers.py --delegates 200 [--grants 20] [--database-url postgresql+asyncpg://...]
"""

import argparse
import asyncio
import json
import secrets
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from benchutil import (
    API,
    PhonghopServer,
    cpu_seconds,
    percentile,
    stamped_log,
)

log = stamped_log("speakers")


async def call(http: aiohttp.ClientSession, url: str, method: str, path: str, **kw: Any) -> Any:
    """One REST call that must succeed."""
    token = kw.pop("token", None)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url + API + path, headers=headers, **kw) as r:
        data = await r.json(content_type=None)
        if r.status >= 300:
            raise RuntimeError(f"{method} {path} → {r.status}: {data}")
        return data


async def seed(http: aiohttp.ClientSession, server: PhonghopServer, n: int) -> dict[str, Any]:
    """A commune of ``n`` delegates, a chair, and a live meeting inviting the commune."""
    url = server.url
    body = {"username": "admin", "password": server.admin_password}
    admin = (await call(http, url, "POST", "/auth/login", json=body))["access_token"]
    province = await call(
        http, url, "POST", "/units", token=admin, json={"name": "Tỉnh", "kind": "province"}
    )
    commune = await call(
        http,
        url,
        "POST",
        "/units",
        token=admin,
        json={"name": "Xã Bench", "kind": "commune", "parent_id": province["id"]},
    )
    password = "pw-" + secrets.token_urlsafe(12)
    gate = asyncio.Semaphore(8)

    async def account(username: str, role: str, unit: int) -> str:
        body = {
            "username": username,
            "full_name": f"Đại biểu {username}",
            "unit_id": unit,
            "role": role,
            "password": password,
        }
        async with gate:
            created = await call(http, url, "POST", "/accounts", token=admin, json=body)
            login = {"username": username, "password": password}
            token = (await call(http, url, "POST", "/auth/login", json=login))["access_token"]
        return f"{created['id']}:{token}"

    chair_id, chair_token = (await account("bench.chair", "chair", province["id"])).split(":", 1)
    delegates = await asyncio.gather(
        *(account(f"bench.d{i:04d}", "delegate", commune["id"]) for i in range(n))
    )
    meeting = await call(
        http,
        url,
        "POST",
        "/meetings",
        token=admin,
        json={
            "title": "Kỳ họp (bench phát biểu)",
            "starts_at": datetime.now(UTC).isoformat(),
            "chair_id": int(chair_id),
        },
    )
    invitees = {"invitees": [{"kind": "unit", "id": commune["id"]}]}
    await call(
        http, url, "POST", f"/meetings/{meeting['id']}/invitations", token=admin, json=invitees
    )
    await call(http, url, "POST", f"/meetings/{meeting['id']}/start", token=chair_token)
    return {
        "meeting_id": meeting["id"],
        "chair": chair_token,
        "delegates": [d.split(":", 1)[1] for d in delegates],
    }


async def connect(
    url: str, token: str, meeting_id: int, counter: list[int]
) -> socketio.AsyncClient:
    """A socket.io client joined to the meeting, counting ``speakers.changed`` events."""
    client = socketio.AsyncClient(reconnection=False)

    def changed(data: Any) -> None:
        counter[0] += 1

    client.on("speakers.changed", changed)
    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=20)
    ack = await client.call("join", {"meeting_id": meeting_id}, timeout=30)
    if not ack.get("ok"):
        raise RuntimeError(f"join refused: {ack}")
    return client


async def run(args: argparse.Namespace, server: PhonghopServer) -> dict[str, Any]:
    """Seed, connect, request all at once, grant through the queue; return the figures."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        world = await seed(http, server, args.delegates)
    log(f"seeded {args.delegates} delegates")
    meeting_id = world["meeting_id"]
    counters = [[0] for _ in world["delegates"]]
    gate = asyncio.Semaphore(32)

    async def joined(token: str, counter: list[int]) -> socketio.AsyncClient:
        async with gate:
            return await connect(server.url, token, meeting_id, counter)

    clients = await asyncio.gather(
        *(joined(t, c) for t, c in zip(world["delegates"], counters, strict=True))
    )
    chair = await connect(server.url, world["chair"], meeting_id, [0])
    log("all connected and joined")
    cpu_before = cpu_seconds(server.pid)

    async def ask(n: int, client: socketio.AsyncClient) -> tuple[float, bool, bool]:
        started = time.perf_counter()
        payload = {"meeting_id": meeting_id, "topic": f"Ý kiến số {n}"}
        first = await client.call("speaker.request", payload, timeout=60)
        elapsed = time.perf_counter() - started
        second = await client.call("speaker.request", payload, timeout=60)
        return elapsed, bool(first.get("ok")), bool(second.get("ok"))

    results = await asyncio.gather(*(ask(n, c) for n, c in enumerate(clients)))
    request_ms = [r[0] * 1000 for r in results]
    listing = await chair.call("speaker.list", {"meeting_id": meeting_id}, timeout=30)
    waiting = listing["speakers"]["waiting"]
    grant_ms = []
    for request in waiting[: args.grants]:
        started = time.perf_counter()
        payload = {"meeting_id": meeting_id, "request_id": request["id"]}
        ack = await chair.call("speaker.grant", payload, timeout=30)
        grant_ms.append((time.perf_counter() - started) * 1000)
        if not ack.get("ok"):
            raise RuntimeError(f"grant refused: {ack}")
    if grant_ms:
        await chair.call("speaker.end", {"meeting_id": meeting_id}, timeout=30)
    await asyncio.sleep(1.0)  # let the last room events arrive
    server_cpu = cpu_seconds(server.pid) - cpu_before
    for client in [*clients, chair]:
        await client.disconnect()
    return {
        "delegates": args.delegates,
        "accepted": sum(1 for r in results if r[1]),
        "duplicates": sum(1 for r in results if r[2]),
        "queue_dense": [r["position"] for r in waiting] == list(range(len(waiting))),
        "request_p50_ms": round(percentile(request_ms, 50), 1),
        "request_p99_ms": round(percentile(request_ms, 99), 1),
        "grants": len(grant_ms),
        "grant_p50_ms": round(percentile(grant_ms, 50), 1),
        "grant_p99_ms": round(percentile(grant_ms, 99), 1),
        "events_per_delegate": round(sum(c[0] for c in counters) / len(counters), 1),
        "server_cpu_s": round(server_cpu, 2),
    }


def main() -> None:
    """Parse arguments, run the server and the clients, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--delegates", type=int, default=200)
    parser.add_argument("--grants", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="phonghop-bench-speakers-"))
    server = PhonghopServer(workdir, database_url=args.database_url)
    try:
        asyncio.run(server.wait_healthy())
        figures = asyncio.run(run(args, server))
    except BaseException:
        log("failed; server log tail:\n" + server.tail())
        raise
    finally:
        server.terminate()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
