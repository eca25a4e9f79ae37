"""The ``janus`` SFU: Debian's Janus 1.1.2, VideoRoom plugin, driven over its HTTP API.

Janus leaves loopback interfaces out of its ICE candidates, so on one machine it needs an
interface of its own: ``JanusProcess`` creates a network namespace with one end of a veth pair
(``10.77.<n>.1``, the other end ``10.77.<n>.2`` on the host), starts ``janus`` inside it with
a config directory holding only the VideoRoom plugin and the HTTP transport (bound to the
namespace's address: the link exists only between the benchmark and Janus), and removes the
namespace and the veth pair when it stops (also at exit). This needs root (``ip netns``).

``JanusClient`` is the publisher's and subscribers' side: one Janus session per process,
one plugin handle per peer, events fetched by long polling. The publisher ``joinandconfigure`` s
as a publisher with a fixed feed id; subscribers ``join`` as subscribers to that feed, answer
Janus's offer and ``start``. Neither side trickles: aiortc's SDP carries all its candidates.
"""

import asyncio
import atexit
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from . import common
from .servers import LoggedProcess, wait_http

JANUS = "/usr/bin/janus"
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
ROOM = 1234
FEED = 1
HTTP_PORT = 8088


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


class Namespace:
    """A network namespace joined to the host by a veth pair, removed on ``remove``."""

    def __init__(self) -> None:
        n = os.getpid() % 200 + 20
        tag = f"{os.getpid() % 100000}"
        self.name = f"phonghop-bench-{tag}"
        self.host_if, self.inner_if = f"phb{tag}h", f"phb{tag}j"
        self.host_ip, self.inner_ip = f"10.77.{n}.2", f"10.77.{n}.1"
        self._removed = False
        self.remove()  # leftovers of a crashed run with the same pid
        self._removed = False
        atexit.register(self.remove)
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.inner_if)
            _ip("link", "set", self.inner_if, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            self.run("ip", "addr", "add", f"{self.inner_ip}/24", "dev", self.inner_if)
            self.run("ip", "link", "set", self.inner_if, "up")
            self.run("ip", "link", "set", "lo", "up")
            self.run("ip", "route", "add", "default", "via", self.host_ip)
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            self.remove()
            stderr = getattr(exc, "stderr", b"") or b""
            raise RuntimeError(
                f"cannot create the network namespace for Janus (root needed): {exc} "
                f"{stderr.decode(errors='replace')}"
            ) from exc

    def run(self, *command: str) -> None:
        """Run a command inside the namespace."""
        subprocess.run(
            ["ip", "netns", "exec", self.name, *command], check=True, capture_output=True
        )

    def exec_prefix(self) -> list[str]:
        """Prefix that runs a command inside the namespace (``ip netns exec`` execs it)."""
        return ["ip", "netns", "exec", self.name]

    def remove(self) -> None:
        """Delete the namespace (its veth end goes with it) and the host's end."""
        if self._removed:
            return
        self._removed = True
        _ip("netns", "del", self.name, check=False)
        _ip("link", "del", self.host_if, check=False)


def write_config(directory: Path, inner_if: str, inner_ip: str) -> Path:
    """A Janus config dir with only VideoRoom and the HTTP transport; returns janus.jcfg."""
    for sub, lib in (("plugins", "libjanus_videoroom.so"), ("transports", "libjanus_http.so")):
        (directory / sub).mkdir(parents=True)
        (directory / sub / lib).symlink_to(JANUS_LIB / sub / lib)
    for sub in ("events", "loggers"):
        (directory / sub).mkdir()
    main = directory / "janus.jcfg"
    main.write_text(
        f"""general: {{
    configs_folder = "{directory}"
    plugins_folder = "{directory}/plugins"
    transports_folder = "{directory}/transports"
    events_folder = "{directory}/events"
    loggers_folder = "{directory}/loggers"
    debug_level = {os.environ.get("FANOUT_JANUS_DEBUG_LEVEL", "3")}
    session_timeout = 0
    server_name = "phonghop-bench"
}}
certificates: {{
}}
media: {{
    ipv6 = false
    rtp_port_range = "20000-40000"
    min_nack_queue = 500
    nack_optimizations = false
}}
nat: {{
    nice_debug = false
    full_trickle = false
    ice_lite = false
    ice_tcp = false
    ice_enforce_list = "{inner_if}"
}}
plugins: {{
}}
transports: {{
}}
events: {{
    broadcast = false
}}
"""
    )
    (directory / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {HTTP_PORT}
    ip = "{inner_ip}"
    https = false
}}
admin: {{
    admin_http = false
}}
cors: {{
}}
"""
    )
    (directory / "janus.plugin.videoroom.jcfg").write_text(
        "general: {\n    string_ids = false\n}\n"
    )
    return main


class JanusProcess(LoggedProcess):
    """Janus inside its own network namespace, with a VideoRoom for the benchmark."""

    def __init__(self, keep: bool = False) -> None:
        if not Path(JANUS).exists():
            raise RuntimeError("janus is not installed (apt-get install -y janus)")
        self.keep = keep
        self.workdir = Path(tempfile.mkdtemp(prefix="phonghop-fanout-janus-"))
        self.namespace = Namespace()
        try:
            config = write_config(
                self.workdir / "config", self.namespace.inner_if, self.namespace.inner_ip
            )
            command = [
                *self.namespace.exec_prefix(),
                JANUS,
                "-C",
                str(config),
                "-F",
                str(config.parent),
                "-o",
            ]
            super().__init__(command, self.workdir / "janus.log")
            self.url = f"http://{self.namespace.inner_ip}:{HTTP_PORT}/janus"
            wait_http(f"{self.url}/info", self.proc)
            asyncio.run(create_room(self.url))
        except BaseException:
            self.stop()
            raise
        self.client_config = {"url": self.url, "room": ROOM, "feed": FEED}

    def timestamp_origins(self) -> dict[int, int]:
        """Janus forwards frames untouched: they are matched by payload."""
        return {}

    def stop(self) -> None:
        """Stop Janus, remove the namespace and (unless kept) the config dir."""
        with contextlib.suppress(AttributeError):
            self.terminate()
        self.namespace.remove()
        if self.keep:
            common.log(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


async def create_room(url: str) -> None:
    """Create the benchmark's VideoRoom (one publisher, no bitrate cap, VP8 + Opus)."""
    client = JanusClient({"url": url, "room": ROOM, "feed": FEED})
    try:
        handle = await client.attach()
        data, _ = await client.message(
            handle,
            {
                "request": "create",
                "room": ROOM,
                "publishers": 1,
                "bitrate": 0,
                "fir_freq": 0,
                "videocodec": "vp8",
                "audiocodec": "opus",
                "notify_joining": False,
                "permanent": False,
            },
        )
        if data.get("videoroom") != "created":
            raise RuntimeError(f"Janus did not create the room: {data}")
    finally:
        await client.close()


class JanusError(RuntimeError):
    """Janus answered with an error."""


class JanusClient:
    """One Janus session over HTTP, long-polled for events, with any number of handles."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.url: str = config["url"]
        self.room: int = config["room"]
        self.feed: int = config["feed"]
        self.http: aiohttp.ClientSession | None = None
        self.session: int | None = None
        self.pending: dict[str, asyncio.Future] = {}
        self.poller: asyncio.Task | None = None
        self._creating = asyncio.Lock()  # peers of one process attach concurrently

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.http is not None
        body = {**body, "transaction": body.get("transaction") or secrets.token_hex(8)}
        async with self.http.post(url, json=body) as r:
            data = await r.json(content_type=None)
        if data.get("janus") == "error":
            raise JanusError(str(data.get("error")))
        return data

    async def _session(self) -> int:
        async with self._creating:
            if self.session is None:
                self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
                data = await self._post(self.url, {"janus": "create"})
                self.session = data["data"]["id"]
                self.poller = asyncio.ensure_future(self._poll())
        return self.session

    async def _poll(self) -> None:
        assert self.http is not None
        while True:
            try:
                url = f"{self.url}/{self.session}?maxev=10&rid={int(time.time() * 1000)}"
                async with self.http.get(url) as r:
                    data = await r.json(content_type=None)
            except (aiohttp.ClientError, OSError) as exc:
                common.log(f"janus long poll: {exc!r}")
                await asyncio.sleep(0.5)
                continue
            for event in data if isinstance(data, list) else [data]:
                future = self.pending.pop(event.get("transaction") or "", None)
                if future is not None and not future.done():
                    future.set_result(event)

    async def attach(self) -> int:
        """A new VideoRoom plugin handle."""
        session = await self._session()
        data = await self._post(
            f"{self.url}/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"}
        )
        return data["data"]["id"]

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a plugin request; (plugin data, JSEP) of its response or asynchronous event."""
        session = await self._session()
        transaction = secrets.token_hex(8)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.pending[transaction] = future
        request: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            request["jsep"] = jsep
        try:
            data = await self._post(f"{self.url}/{session}/{handle}", request)
            if data.get("janus") == "ack":
                data = await asyncio.wait_for(future, 30)
        finally:
            self.pending.pop(transaction, None)
        plugin = data.get("plugindata", {}).get("data", {})
        if "error" in plugin:
            raise JanusError(f"{plugin.get('error_code')}: {plugin['error']}")
        return plugin, data.get("jsep")

    async def publish(self, pc: RTCPeerConnection) -> None:
        """Join the room as the publisher (feed ``FEED``) with the connection's offer."""
        await pc.setLocalDescription(await pc.createOffer())
        handle = await self.attach()
        _, jsep = await self.message(
            handle,
            {
                "request": "joinandconfigure",
                "ptype": "publisher",
                "room": self.room,
                "id": self.feed,
                "display": "bench publisher",
                "audio": True,
                "video": True,
            },
            _jsep(pc),
        )
        if not jsep:
            raise JanusError("no answer to the publisher's offer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))

    async def subscribe(self, pc: RTCPeerConnection, index: int, prepare: Any) -> None:
        """Subscribe to the publisher's feed: Janus offers, the peer answers."""
        handle = await self.attach()
        _, jsep = await self.message(
            handle,
            {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "streams": [{"feed": self.feed}],
            },
        )
        if not jsep:
            raise JanusError("Janus sent no offer to the subscriber")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
        prepare(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.message(handle, {"request": "start", "room": self.room}, _jsep(pc))

    async def close(self) -> None:
        """Destroy the session (Janus hangs up its handles) and close HTTP."""
        if self.poller is not None:
            self.poller.cancel()
        if self.http is not None:
            if self.session is not None:
                with contextlib.suppress(aiohttp.ClientError, OSError, JanusError):
                    await self._post(f"{self.url}/{self.session}", {"janus": "destroy"})
            await self.http.close()


def _jsep(pc: RTCPeerConnection) -> dict[str, Any]:
    description = pc.localDescription
    return {"type": description.type, "sdp": description.sdp, "trickle": False}
