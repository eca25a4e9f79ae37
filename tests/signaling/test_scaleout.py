"""Scale-out: two server processes share rooms, presence, revocations and login limits via Redis."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from tests.harness import (
    ADMIN_PASSWORD,
    Api,
    Server,
    World,
    build_world,
    free_port,
    make_settings,
    postgres_database,
    sio_client,
    wait_for,
)
from tests.signaling.test_socket_presence import Recorder

REDIS_URL = "redis://127.0.0.1:6379/0"


class ServerProcess:
    """``phonghop serve`` in its own OS process."""

    def __init__(self, port: int, env: dict[str, str], args: list[str]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signaling", "serve", "--port", str(port), *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    async def wait_ready(self) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        self.proc.stderr.read().decode() if self.proc.stderr else "died"
                    )
                try:
                    async with http.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("second server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Cluster:
    def __init__(self, first: Server, second: ServerProcess, namespace: str) -> None:
        self.first = first
        self.second = second
        self.namespace = namespace


@pytest.fixture
async def cluster(tmp_path) -> AsyncIterator[Cluster]:
    namespace = f"phtest{uuid.uuid4().hex[:8]}"
    async with postgres_database() as url:
        data_dir = tmp_path / "data"
        first = Server(
            make_settings(
                data_dir,
                url,
                redis_url=REDIS_URL,
                redis_namespace=namespace,
                login_max_per_account=3,
            )
        )
        await first.start()
        env = {
            "PHONGHOP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "PHONGHOP_REDIS_NAMESPACE": namespace,
            "PHONGHOP_PRESENCE_FLUSH_MS": "20",
            "PHONGHOP_RECONNECT_GRACE_SECONDS": "1.5",
            "PHONGHOP_LOGIN_MAX_PER_ACCOUNT": "3",
            "PHONGHOP_LOG_LEVEL": "WARNING",
        }
        second = ServerProcess(
            free_port(),
            env,
            ["--data-dir", str(data_dir), "--database-url", url, "--redis-url", REDIS_URL],
        )
        try:
            await second.wait_ready()
            yield Cluster(first, second, namespace)
        finally:
            second.stop()
            await first.stop()
            redis = Redis.from_url(REDIS_URL)
            keys = [k async for k in redis.scan_iter(f"{namespace}:*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


class _Remote:
    """Enough of ``Server`` for ``sio_client`` to connect to the other process."""

    def __init__(self, url: str) -> None:
        self.url = url


async def test_rooms_and_presence_span_processes(cluster: Cluster, http):
    world: World = await build_world(cluster.first, http)
    other = _Remote(cluster.second.url)
    a = Recorder(await sio_client(cluster.first, world.tokens["chair"]))
    ack = await a.client.call("join", {"meeting_id": world.meeting_id})
    assert ack["ok"]
    b = Recorder(await sio_client(other, world.endpoint_tokens[0]))
    ack = await b.client.call("join", {"meeting_id": world.meeting_id})
    assert ack["ok"]
    # The second process sees presence held for the first one.
    assert {p["key"] for p in ack["participants"]} == {
        f"account:{world.accounts['chair']}",
        f"endpoint:{world.endpoints[0]}",
    }
    # A room broadcast from the second process reaches a client of the first.
    await wait_for(lambda: f"endpoint:{world.endpoints[0]}" in a.keys)
    # Negotiation relay across processes.
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    ack = await b.client.call(
        "rtc.offer",
        {
            "meeting_id": world.meeting_id,
            "to": f"account:{world.accounts['chair']}",
            "type": "offer",
            "sdp": sdp,
        },
    )
    assert ack["ok"]
    await wait_for(lambda: a.named("rtc.offer"))
    # Leave on one process is seen on the other; REST on the first reads Redis presence.
    assert (await b.client.call("leave", {"meeting_id": world.meeting_id}))["ok"]
    await wait_for(lambda: f"endpoint:{world.endpoints[0]}" not in a.keys)
    # meeting.ended issued through the first process reaches clients of the second.
    ack = await b.client.call("join", {"meeting_id": world.meeting_id})
    chair = Api(cluster.first.url, http, token=world.tokens["chair"])
    assert (await chair.post(f"/api/v1/meetings/{world.meeting_id}/start"))[0] == 200
    assert (await chair.post(f"/api/v1/meetings/{world.meeting_id}/end"))[0] == 200
    await wait_for(lambda: b.named("meeting.ended"))
    for rec in (a, b):
        await rec.client.disconnect()


async def test_reconnect_to_the_other_process_within_grace(cluster: Cluster, http):
    world = await build_world(cluster.first, http)
    a = Recorder(await sio_client(cluster.first, world.tokens["chair"]))
    assert (await a.client.call("join", {"meeting_id": world.meeting_id}))["ok"]
    b = Recorder(await sio_client(cluster.first, world.endpoint_tokens[1]))
    assert (await b.client.call("join", {"meeting_id": world.meeting_id}))["ok"]
    key = f"endpoint:{world.endpoints[1]}"
    await wait_for(lambda: key in a.keys)
    await b.client.disconnect()
    # The endpoint comes back through the other process (as behind a load balancer).
    back = Recorder(await sio_client(_Remote(cluster.second.url), world.endpoint_tokens[1]))
    await wait_for(lambda: back.named("session.restored"))
    assert back.named("session.restored")[0]["meetings"] == [world.meeting_id]
    await asyncio.sleep(2.0)  # past the grace period of the first process's timer
    assert key in a.keys and a.named("participant.left") == []
    for rec in (a, back):
        await rec.client.disconnect()


async def test_revocation_disconnects_on_every_process(cluster: Cluster, http):
    world = await build_world(cluster.first, http)
    remote = Recorder(await sio_client(_Remote(cluster.second.url), world.endpoint_tokens[0]))
    assert (await remote.client.call("join", {"meeting_id": world.meeting_id}))["ok"]
    admin = Api(cluster.first.url, http, token=world.tokens["admin"])
    status, _ = await admin.delete(f"/api/v1/endpoints/{world.endpoints[0]}/token")
    assert status == 200
    await wait_for(lambda: not remote.client.connected)
    assert remote.named("session.revoked")


async def test_login_limits_are_shared(cluster: Cluster, http):
    await build_world(cluster.first, http)
    for url in (cluster.first.url, cluster.second.url, cluster.first.url):
        status, _ = await Api(url, http).post(
            "/api/v1/auth/login", {"username": "delegate1", "password": "wrong-password"}
        )
        assert status == 401
    status, body = await Api(cluster.second.url, http).post(
        "/api/v1/auth/login", {"username": "delegate1", "password": "wrong-password"}
    )
    assert status == 429 and body["error"]["code"] == "rate_limited"


async def test_health_reports_redis(cluster: Cluster, http):
    status, body = await Api(cluster.second.url, http).get("/healthz")
    assert status == 200 and body["redis"] == "ok"
    # Swap in a client for a Redis that is not there: health must say which part failed.
    state = cluster.first.state
    good = state.redis
    state.redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        status, body = await Api(cluster.first.url, http).get("/healthz")
        assert status == 503 and body["redis"] == "error" and body["database"] == "ok"
    finally:
        await state.redis.aclose()
        state.redis = good
