"""The ``phonghop`` SFU: this project's server, started and seeded as bench/signaling.py does.

``PhonghopProcess`` runs benchutil's ``PhonghopServer`` (``python -m signaling serve`` on a
free loopback port with a fresh data dir) and bench/signaling.py's ``seed`` (a province, the
communes, one endpoint device per subscriber, a chair, a live meeting). The publisher is the
chair: every endpoint receives the chair's camera and microphone (docs: the spotlight defaults
to the chair). Subscribers are the endpoints, with their device tokens.

``PhonghopClient`` negotiates per /tmp/spec/sfu-protocol.md: socket.io ``connect`` with the
token, ``join``, then the client is always the offerer (``rtc.offer`` without ``to``; the ack
carries the answer). The publisher offers sendonly microphone + camera (``sources`` by mid);
subscribers offer one recvonly audio and one recvonly video transceiver and, on
``rtc.renegotiate``, add what is asked for and offer again.
"""

import argparse
import asyncio
import importlib.util
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import benchutil
from aiortc import RTCPeerConnection, RTCSessionDescription

from . import common
from .servers import BENCH_DIR


def _bench_signaling() -> ModuleType:
    """bench/signaling.py, loaded under another name (``signaling`` is the server package)."""
    spec = importlib.util.spec_from_file_location("bench_signaling", BENCH_DIR / "signaling.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PhonghopProcess:
    """``python -m signaling serve`` with a live meeting, a chair and N endpoint devices."""

    def __init__(self, subscribers: int, args: argparse.Namespace) -> None:
        self.bench = _bench_signaling()
        self.keep = args.keep
        self.workdir = Path(tempfile.mkdtemp(prefix="phonghop-fanout-"))
        self.server = benchutil.PhonghopServer(
            self.workdir, log_level=str(args.server_log_level).lower()
        )
        self.pid: int = self.server.proc.pid
        self.seeded: dict[str, Any] | None = None
        try:
            asyncio.run(self.server.wait_healthy())
            self.seeded = asyncio.run(
                self.bench.seed(
                    self.server.url,
                    self.server.admin_password,
                    subscribers,
                    min(subscribers, 10),
                    8,
                )
            )
        except BaseException:
            self.stop()
            raise
        self.client_config = {
            "url": self.server.url,
            "meeting_id": self.seeded["meeting_id"],
            "publisher_token": self.seeded["chair_token"],
            "tokens": self.seeded["tokens"],
        }

    def cpu_seconds(self) -> float:
        """CPU time of the server process and any children (media workers)."""
        return common.tree_cpu_seconds(self.pid)

    def timestamp_origins(self) -> dict[int, int]:
        """phonghop forwards frames untouched: they are matched by payload."""
        return {}

    def tail(self) -> str:
        """The end of the server's log."""
        return self.server.tail()

    def _recording(self, method: str) -> dict[str, Any]:
        """Start (POST) or stop (DELETE) the meeting's recording as its chair."""
        import json
        import urllib.request

        assert self.seeded is not None
        request = urllib.request.Request(
            f"{self.server.url}/api/v1/meetings/{self.seeded['meeting_id']}/recording",
            method=method,
            headers={"Authorization": f"Bearer {self.seeded['chair_token']}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def start_recording(self) -> dict[str, Any]:
        """The chair starts recording (the recorder joins the meeting's router)."""
        return self._recording("POST")

    def stop_recording(self) -> dict[str, Any]:
        """The chair stops it: the file is finished and hashed; its row is returned."""
        return self._recording("DELETE")

    def stop(self) -> None:
        """End the meeting, stop the server, remove its data (unless kept)."""
        if self.seeded is not None and self.server.proc.poll() is None:
            try:
                asyncio.run(
                    self.bench.end_meeting(
                        self.server.url, self.seeded["meeting_id"], self.seeded["chair_token"]
                    )
                )
            except Exception as exc:
                common.log(f"could not end the meeting: {exc!r}")
        self.server.terminate()
        if self.keep:
            common.log(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


class PhonghopError(RuntimeError):
    """The server refused a request."""


class PhonghopClient:
    """socket.io clients (one per peer) negotiating with phonghop's SFU."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.meeting_id: int = config["meeting_id"]
        self.sockets: list[Any] = []

    async def _connect(self, token: str) -> Any:
        import socketio

        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        await sio.connect(
            self.config["url"], auth={"token": token}, transports=["websocket"], wait_timeout=30
        )
        self.sockets.append(sio)
        await self._call(sio, "join", {"meeting_id": self.meeting_id})
        return sio

    async def _call(self, sio: Any, event: str, data: dict[str, Any]) -> dict[str, Any]:
        ack = await sio.call(event, data, timeout=30)
        if not isinstance(ack, dict) or not ack.get("ok"):
            raise PhonghopError(f"{event}: {ack}")
        # the spec puts the result under "data"; the gateway (events.py) spreads it into the ack
        return ack["data"] if isinstance(ack.get("data"), dict) else ack

    async def _offer(self, sio: Any, pc: RTCPeerConnection) -> None:
        if pc.signalingState != "have-local-offer":
            await pc.setLocalDescription(await pc.createOffer())
        body: dict[str, Any] = {
            "meeting_id": self.meeting_id,
            "type": "offer",
            "sdp": pc.localDescription.sdp,
        }
        sources = {  # what each sending mid carries
            t.mid: ("microphone" if t.kind == "audio" else "camera")
            for t in pc.getTransceivers()
            if t.mid is not None and t.direction in ("sendonly", "sendrecv")
        }
        if sources:
            body["sources"] = sources
        answer = await self._call(sio, "rtc.offer", body)
        if "sdp" not in answer:
            raise PhonghopError(f"rtc.offer: no answer in the acknowledgement {answer}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    async def publish(self, pc: RTCPeerConnection) -> None:
        """Join as the chair and offer microphone + camera."""
        sio = await self._connect(self.config["publisher_token"])
        async with self._renegotiate_on(sio, pc):
            await self._offer(sio, pc)

    async def subscribe(self, pc: RTCPeerConnection, index: int, prepare: Any) -> None:
        """Join as endpoint ``index`` and offer one recvonly audio + video slot."""
        sio = await self._connect(self.config["tokens"][index])
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        prepare(pc)
        async with self._renegotiate_on(sio, pc):
            await self._offer(sio, pc)

    def _renegotiate_on(self, sio: Any, pc: RTCPeerConnection) -> asyncio.Lock:
        """Answer ``rtc.renegotiate`` with a new offer; the lock keeps offers one at a time.

        A renegotiation can be asked for while the first offer is still in flight: hold the
        returned lock around that offer too, or the second answer finds the peer stable.
        """
        lock = asyncio.Lock()

        async def on_renegotiate(data: dict[str, Any]) -> None:
            if data.get("meeting_id") != self.meeting_id:
                return
            async with lock:
                for kind in ("audio", "video"):
                    have = sum(
                        1
                        for t in pc.getTransceivers()
                        if t.kind == kind and t.direction in ("recvonly", "sendrecv")
                    )
                    for _ in range(int(data.get(kind, 0)) - have):
                        pc.addTransceiver(kind, direction="recvonly")
                try:
                    await self._offer(sio, pc)
                except Exception as exc:
                    common.log(f"renegotiation failed: {exc!r}")

        sio.on("rtc.renegotiate", on_renegotiate)
        return lock

    async def close(self) -> None:
        """Disconnect every socket."""
        await asyncio.gather(*(s.disconnect() for s in self.sockets), return_exceptions=True)
