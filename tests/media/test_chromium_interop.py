"""Interop with Chromium: real browser pages publish through the SFU and receive from it.

Headless Debian Chromium (driven by Playwright for Python, never a downloaded browser) with
fake capture devices loads ``/static/sfu-test.html``, which runs the browser client
``web/static/js/rtc-client.js`` against a real server. Everything asserted comes from the
receivers' own ``getStats()`` (frames decoded, frame size, codec) and the SFU's counters.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from tests.chromium import launched, needs_chromium
from tests.harness import Server, World, wait_for
from tests.media.peers import Endpoint, frames
from tests.signaling.test_media_signaling import SfuClient

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Real host addresses in Chromium's candidates (the SFU cannot resolve mDNS names).
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # Headless pages are "hidden": keep their timers and media pipelines at full speed.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
CAMERA_720P = {"width": 1280, "height": 720, "frameRate": {"max": 15}}
H264_BASELINE = {"profile-level-id": "42e01f", "packetization-mode": "1"}
WITHIN = 40.0  # seconds for a condition on a 2-core machine running three encoders


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium for one test."""
    async with launched(CHROMIUM_ARGS) as chromium:
        yield chromium


class BrowserClient:
    """One Chromium page running rtc-client.js, seen from Python."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    @classmethod
    async def open(
        cls, browser: Browser, server: Server, token: str, meeting_id: int, **options: Any
    ) -> "BrowserClient":
        context = await browser.new_context()
        client = cls(await context.new_page())
        await client.page.goto(f"{server.url}/static/sfu-test.html")
        await client.page.evaluate(
            "options => window.startClient(options)",
            {"token": token, "meetingId": meeting_id, **options},
        )
        return client

    async def js(self, expression: str, arg: Any = None) -> Any:
        return await self.page.evaluate(expression, arg)

    async def showing(self, participant: str, source: str = "camera") -> str | None:
        return await self.js("([p, s]) => window.client.showing(p, s)", [participant, source])

    async def inbound(self, mid: str) -> dict[str, Any] | None:
        return await self.js("mid => window.client.inboundStats(mid)", mid)

    async def outbound(self, source: str = "camera") -> list[dict[str, Any]]:
        return await self.js("s => window.client.outboundStats(s)", source)

    async def view(self, mid: str, max_height: int) -> dict[str, Any]:
        return await self.js("([m, h]) => window.client.view(m, h)", [mid, max_height])

    async def errors(self) -> list[str]:
        return await self.js("() => window.clientErrors")

    async def close(self) -> None:
        try:
            await self.js("() => window.client && window.client.close()")
        finally:
            await self.page.context.close()


async def until(
    probe: Callable[[], Awaitable[Any]],
    predicate: Callable[[Any], bool],
    what: str,
    within: float = WITHIN,
) -> Any:
    """Poll ``probe()`` until ``predicate`` holds on its value; the last value on failure."""
    deadline = asyncio.get_running_loop().time() + within
    value = None
    while True:
        value = await probe()
        if predicate(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not reached in {within:.0f} s; last: {value!r}")
        await asyncio.sleep(0.25)


async def decoding(client: BrowserClient, mid: str, **match: Any) -> dict[str, Any]:
    """Stats once slot ``mid`` decodes frames matching ``match`` and then decodes more."""

    def fits(stats: dict[str, Any] | None) -> bool:
        return bool(stats and stats["framesDecoded"] > 0) and all(
            stats.get(k) == v for k, v in match.items()
        )

    first = await until(lambda: client.inbound(mid), fits, f"slot {mid} decoding {match}")
    return await until(
        lambda: client.inbound(mid),
        lambda s: fits(s) and s["framesDecoded"] > first["framesDecoded"] + 10,
        f"slot {mid} still decoding {match}",
    )


def chair_key(world: World) -> str:
    return f"account:{world.accounts['chair']}"


def simulcast_producer(server: Server) -> dict[str, Any]:
    """The SFU's counters for the one simulcast (three-layer) video producer."""
    worker = server.state.signaling.media.worker
    found = [
        {**stats, "id": producer.id, "heights": [layer.height for layer in producer.layers]}
        for transport in worker.transports.values()
        for producer in transport.producers.values()
        if producer.kind == "video" and len(producer.layers) == 3
        for stats in [transport.stats()["producers"][producer.id]]
    ]
    assert len(found) == 1, found
    return found[0]


def consumer_slot(server: Server, mid: str, producer_id: str) -> dict[str, Any]:
    """The SFU's counters of the receive slot ``mid`` showing ``producer_id``."""
    worker = server.state.signaling.media.worker
    found = [
        slot
        for transport in worker.transports.values()
        for slot_mid, slot in transport.stats()["slots"].items()
        if slot_mid == mid and slot["producer_id"] == producer_id
    ]
    assert len(found) == 1, found
    return found[0]


async def open_simulcast_chair(
    browser: Browser, server: Server, world: World, **options: Any
) -> BrowserClient:
    return await BrowserClient.open(
        browser,
        server,
        world.tokens["chair"],
        world.meeting_id,
        simulcast=True,
        videoCodec="video/VP8",
        constraints={"audio": True, "video": CAMERA_720P},
        **options,
    )


async def open_commune(browser: Browser, server: Server, world: World) -> BrowserClient:
    return await BrowserClient.open(
        browser,
        server,
        world.endpoint_tokens[0],
        world.meeting_id,
        constraints={"audio": True, "video": {"width": 320, "height": 240}},
    )


@needs_chromium
async def test_chromium_vp8_simulcast_reaches_chromium_and_follows_media_view(
    media_server, media_world, browser
):
    w = media_world
    chair = await open_simulcast_chair(browser, media_server, w)
    commune = await open_commune(browser, media_server, w)
    try:
        # Chromium encodes the camera three times: 1/4, 1/2 and full size.
        await until(
            chair.outbound,
            lambda s: (
                {layer["rid"]: layer["frameHeight"] for layer in s}
                == {"l": 180, "m": 360, "h": 720}
            ),
            "three layers encoded",
        )
        # The SFU receives three layers (lowest first), each carrying packets.
        producer = await until(
            lambda: asyncio.sleep(0, simulcast_producer(media_server)),
            lambda p: all(n > 0 for n in p["layers"]) and p["heights"] == [180, 360, 720],
            "packets on every simulcast layer",
        )
        assert len(producer["layers"]) == 3
        mid = await until(
            lambda: commune.showing(chair_key(w)), lambda m: m is not None, "chair spotlight slot"
        )
        stats = await decoding(commune, mid, mimeType="video/VP8")
        assert stats["frameHeight"] in (180, 360, 720)
        # A small tile: the low layer (a quarter of 720 lines).
        ack = await commune.view(mid, 180)
        assert ack["ok"], ack
        await decoding(commune, mid, frameHeight=180, mimeType="video/VP8")
        # A medium tile: the middle layer.
        ack = await commune.view(mid, 360)
        assert ack["ok"], ack
        await decoding(commune, mid, frameHeight=360, mimeType="video/VP8")
        assert await chair.errors() == [] and await commune.errors() == []
    finally:
        for client in (commune, chair):
            await client.close()


@needs_chromium
async def test_chromium_vp8_simulcast_top_layer_by_default_and_after_media_view(
    media_server, media_world, browser
):
    w = media_world
    chair = await open_simulcast_chair(browser, media_server, w)
    commune = await open_commune(browser, media_server, w)
    try:
        mid = await until(
            lambda: commune.showing(chair_key(w)), lambda m: m is not None, "chair spotlight slot"
        )
        # By default the SFU sends the top layer.
        await decoding(commune, mid, frameHeight=720, mimeType="video/VP8")
        producer = simulcast_producer(media_server)
        assert all(n > 0 for n in producer["layers"]), producer
        ack = await commune.view(mid, 180)
        assert ack["ok"], ack
        await decoding(commune, mid, frameHeight=180)
        ack = await commune.view(mid, 720)
        assert ack["ok"], ack
        await decoding(commune, mid, frameHeight=720)
        # Back up without flapping (a browser's REMB alone would keep it at 180p, see
        # media/layers.py): every switch is accounted for by the two media.view changes, a
        # probe up or a failed probe going back down, plus at most one move each way of the
        # estimate or of Chromium's CPU adaptation (which stops the top layer on a loaded
        # machine) -- not a switch per REMB report. The back-off bounds the probes.
        slot = consumer_slot(media_server, mid, producer_id=producer["id"])
        assert slot["target_layer"] == 2, slot
        assert slot["switches"] <= 2 + slot["probes"] + slot["failed_probes"] + 2, slot
        assert slot["failed_probes"] <= 3, slot
    finally:
        for client in (commune, chair):
            await client.close()


@needs_chromium
async def test_chromium_h264_reaches_chromium(media_server, media_world, browser):
    w = media_world
    chair = await BrowserClient.open(
        browser,
        media_server,
        w.tokens["chair"],
        w.meeting_id,
        videoCodec="video/H264",
        videoCodecFmtp=H264_BASELINE,
        videoCodecOnly=True,
        constraints={"audio": True, "video": {"width": 640, "height": 360}},
    )
    commune = await BrowserClient.open(
        browser,
        media_server,
        w.endpoint_tokens[0],
        w.meeting_id,
        constraints={"audio": True, "video": {"width": 320, "height": 240}},
    )
    try:
        sent = await until(
            chair.outbound, lambda s: bool(s and s[0]["framesEncoded"]), "chair encoding"
        )
        assert sent[0]["mimeType"] == "video/H264"
        mid = await until(
            lambda: commune.showing(chair_key(w)), lambda m: m is not None, "chair spotlight slot"
        )
        stats = await decoding(commune, mid, mimeType="video/H264")
        assert stats["frameHeight"] == 360
        assert await chair.errors() == [] and await commune.errors() == []
    finally:
        for client in (commune, chair):
            await client.close()


@needs_chromium
async def test_chromium_publishes_to_an_aiortc_endpoint(media_server, media_world, browser):
    w = media_world
    chair = await BrowserClient.open(
        browser,
        media_server,
        w.tokens["chair"],
        w.meeting_id,
        constraints={"audio": True, "video": {"width": 640, "height": 360}},
    )
    commune = await SfuClient.join(
        media_server, w.endpoint_tokens[0], w.meeting_id, Endpoint(tone=False)
    )
    try:
        await wait_for(lambda: commune.showing(chair_key(w)) is not None, within=WITHIN)
        video = await frames(commune.endpoint.track(commune.showing(chair_key(w))), 10)
        assert {(f.width, f.height) for f in video[-3:]} == {(640, 360)}
        await wait_for(
            lambda: commune.showing(chair_key(w), "microphone") is not None, within=WITHIN
        )
        microphone = commune.showing(chair_key(w), "microphone")
        audio = await frames(commune.endpoint.track(microphone), 25)
        assert all(f.sample_rate == 48000 for f in audio)
        assert await chair.errors() == []
    finally:
        await commune.close()
        await chair.close()


async def test_the_client_and_its_vendor_library_are_served(media_server):
    async with aiohttp.ClientSession() as http:
        for path, kind in (
            ("/static/js/rtc-client.js", "text/javascript"),
            ("/static/vendor/socket.io.esm.min.js", "text/javascript"),
            ("/static/sfu-test.html", "text/html"),
        ):
            async with http.get(media_server.url + path) as response:
                assert response.status == 200, path
                assert response.content_type == kind
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                etag = response.headers["ETag"]
            async with http.get(
                media_server.url + path, headers={"If-None-Match": etag}
            ) as response:
                assert response.status == 304
        for path in ("/static/../pyproject.toml", "/static/js/missing.js", "/static/vendor/x.js"):
            async with http.get(media_server.url + path) as response:
                assert response.status == 404, path
