"""The ``relay`` SFU: aiortc's own fan-out, ``aiortc.contrib.media.MediaRelay``, as a server.

This is what an aiortc application gets without an SFU of its own: the publisher's tracks are
received (decoded) by aiortc, ``MediaRelay`` hands each decoded frame to every subscriber's
sender, and each sender encodes it again (VP8 and Opus), so the cost is one decode plus one
encode per subscriber. Its receiver estimates no bandwidth for the bench's tapped subscribers,
so its encoders stay at aiortc's default bitrate; the benchmark therefore compares it per
delivered frame.

Run as ``python -m fanout_lib.relay --port P`` (cwd ``bench/``). HTTP API on loopback:
``POST /publish`` and ``POST /subscribe`` take ``{sdp, type}`` offers and answer them;
``GET /origins`` maps each subscriber video SSRC to its RTP timestamp origin (below).

Added latency needs to know which publisher frame a re-encoded frame came from. aiortc's
receiver makes the decoded frame's ``pts`` the publisher's RTP timestamp minus that of the first
frame it received, and each sender stamps ``origin + pts`` with a random ``origin``. The server
sees the publisher's first timestamp (``media.aiortc_hooks.observe_rtp``) and each sender's
first packet, and publishes ``origin − first``: the benchmark maps re-encoded frames back by
timestamp.
"""

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

import aiohttp
from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from av.frame import Frame

from media.aiortc_hooks import observe_rtp, outgoing_stream

from .common import payload_types
from .probes import peer_transport, watch_sent_rtp


class OriginProbe(MediaStreamTrack):
    """Passes a relayed video track through and remembers the last frame's ``pts``."""

    kind = "video"

    def __init__(self, inner: MediaStreamTrack) -> None:
        super().__init__()
        self.inner = inner
        self.last_pts: int | None = None

    async def recv(self) -> Frame:  # type: ignore[override]
        """The next relayed frame."""
        frame = await self.inner.recv()
        self.last_pts = frame.pts
        return frame

    def stop(self) -> None:
        """Stop the relayed proxy too."""
        super().stop()
        self.inner.stop()


class RelayServer:
    """One publisher, any number of subscribers, all through one ``MediaRelay``."""

    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.pcs: set[RTCPeerConnection] = set()
        self.tracks: dict[str, MediaStreamTrack] = {}
        self.origins: dict[int, int] = {}  # subscriber video SSRC → origin − first
        self.first_timestamp: int | None = None  # of the publisher's video
        self.published = asyncio.Event()

    def _peer(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.add(pc)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self.pcs.discard(pc)
                await pc.close()

        return pc

    async def publish(self, request: web.Request) -> web.Response:
        """Answer the publisher's offer; keep its tracks."""
        offer = RTCSessionDescription(**await request.json())
        pc = self._peer()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tracks[track.kind] = track
            if {"audio", "video"} <= self.tracks.keys():
                self.published.set()

        await pc.setRemoteDescription(offer)
        video_pt = next(pt for pt, info in payload_types(offer.sdp).items() if info.codec == "vp8")

        def on_rtp(data: bytes, arrival_ms: int) -> None:
            if self.first_timestamp is None and data[1] & 0x7F == video_pt:
                self.first_timestamp = int.from_bytes(data[4:8], "big")

        observe_rtp(peer_transport(pc), on_rtp)
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response(_description(pc))

    async def subscribe(self, request: web.Request) -> web.Response:
        """Answer a subscriber's recvonly offer with relayed (re-encoded) tracks."""
        offer = RTCSessionDescription(**await request.json())
        await asyncio.wait_for(self.published.wait(), 30)
        pc = self._peer()
        await pc.setRemoteDescription(offer)
        probe = OriginProbe(self.relay.subscribe(self.tracks["video"], buffered=False))
        pc.addTrack(self.relay.subscribe(self.tracks["audio"], buffered=False))
        pc.addTrack(probe)
        await pc.setLocalDescription(await pc.createAnswer())
        video = next(t for t in pc.getTransceivers() if t.sender.track is probe)
        ssrc, payload_type = outgoing_stream(video, "video/VP8")

        def on_sent(data: bytes) -> None:
            if ssrc in self.origins or probe.last_pts is None or self.first_timestamp is None:
                return
            if data[1] & 0x7F == payload_type and int.from_bytes(data[8:12], "big") == ssrc:
                timestamp = int.from_bytes(data[4:8], "big")
                origin = timestamp - probe.last_pts - self.first_timestamp
                self.origins[ssrc] = origin & 0xFFFFFFFF

        watch_sent_rtp(video.sender.transport, on_sent)
        return web.json_response(_description(pc))

    async def get_origins(self, request: web.Request) -> web.Response:
        """Subscriber video SSRC → its encoder's origin minus the publisher's first timestamp."""
        return web.json_response({str(k): v for k, v in self.origins.items()})

    async def close(self) -> None:
        """Close every peer connection."""
        await asyncio.gather(*(pc.close() for pc in list(self.pcs)), return_exceptions=True)


def _description(pc: RTCPeerConnection) -> dict[str, str]:
    return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:port until SIGTERM/SIGINT."""
    server = RelayServer()
    app = web.Application()
    app.router.add_post("/publish", server.publish)
    app.router.add_post("/subscribe", server.subscribe)
    app.router.add_get("/origins", server.get_origins)
    app.router.add_get("/healthz", lambda _: _ok())
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()
    await runner.cleanup()


async def _ok() -> web.Response:
    return web.Response(text="ok")


class RelayClient:
    """Publisher and subscriber side of the relay server's HTTP API."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.url: str = config["url"]
        self.http: aiohttp.ClientSession | None = None

    async def _post(self, path: str, pc: RTCPeerConnection) -> RTCSessionDescription:
        if self.http is None:
            self.http = aiohttp.ClientSession()
        body = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
        async with self.http.post(self.url + path, json=body) as r:
            r.raise_for_status()
            return RTCSessionDescription(**await r.json())

    async def publish(self, pc: RTCPeerConnection) -> None:
        """Offer the publisher's tracks."""
        await pc.setLocalDescription(await pc.createOffer())
        await pc.setRemoteDescription(await self._post("/publish", pc))

    async def subscribe(self, pc: RTCPeerConnection, index: int, prepare: Any) -> None:
        """Offer recvonly audio + video; ``prepare(pc)`` runs before the media can flow."""
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        prepare(pc)
        await pc.setRemoteDescription(await self._post("/subscribe", pc))

    async def close(self) -> None:
        """Close the HTTP session."""
        if self.http is not None:
            await self.http.close()


async def fetch_origins(url: str) -> dict[int, int]:
    """The relay server's encoder timestamp origins."""
    async with aiohttp.ClientSession() as http, http.get(url + "/origins") as r:
        return {int(k): v for k, v in (await r.json()).items()}


def main() -> None:
    """Command line of the relay server process."""
    parser = argparse.ArgumentParser(description="aiortc MediaRelay server for bench/fanout.py")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
