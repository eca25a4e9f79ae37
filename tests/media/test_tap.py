"""A tap: SFU consumers delivering plain RTP to a sink in the process (the recorder's way in)."""

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from media import rtp
from media.codecs import vp8_keyframe_start
from media.tap import Tap
from media.worker import MediaError, Worker
from tests.media.peers import Endpoint
from tests.media.test_sfu import Recorder as Notes
from tests.media.test_sfu import _connect, _producer


@dataclass
class CapturingSink:
    """Keeps every packet the tap delivers, per slot, with its mime type."""

    tap: Tap
    params: dict[str, Any]
    packets: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    closed: bool = False

    def on_packet(self, mid: str, kind: str, mime: str, packet: bytes, arrival: float) -> None:
        self.packets.setdefault(mid, []).append((mime, packet))

    async def close(self) -> dict[str, Any]:
        self.closed = True
        return {"packets": {mid: len(p) for mid, p in self.packets.items()}, **self.params}


async def wait_for(predicate: Any, within: float = 20.0) -> None:
    """Poll ``predicate`` until true (media takes a moment to flow)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_tap_records_one_continuous_stream_across_a_publisher_switch():
    notes = Notes()
    sinks: list[CapturingSink] = []

    def factory(tap: Tap, params: dict[str, Any]) -> CapturingSink:
        sinks.append(CapturingSink(tap, params))
        return sinks[-1]

    worker = Worker(notes, sinks=factory)
    one, two = Endpoint(), Endpoint(video_size=(160, 120))
    try:
        await worker.request("router.create", {"router_id": "m"})
        await _connect(worker, "m", "one", one)
        await _connect(worker, "m", "two", two)
        await worker.request(
            "tap.create",
            {
                "router_id": "m",
                "tap_id": "rec",
                "slots": {"v": "video", "a": "audio"},
                "sink": {"path": "/nowhere"},
            },
        )
        sink = sinks[0]
        for mid, kind in (("v", "video"), ("a", "audio")):
            await worker.request(
                "tap.assign",
                {"tap_id": "rec", "mid": mid, "producer_id": _producer(notes, "one", kind)},
            )
        await wait_for(lambda: len(sink.packets.get("v", [])) > 30)
        before = len(sink.packets["v"])
        for mid, kind in (("v", "video"), ("a", "audio")):
            await worker.request(
                "tap.assign",
                {"tap_id": "rec", "mid": mid, "producer_id": _producer(notes, "two", kind)},
            )
        await wait_for(lambda: len(sink.packets["v"]) > before + 30)
        stats = await worker.request("tap.stats", {"tap_id": "rec"})
        assert stats["v"]["producer_id"] == _producer(notes, "two", "video")
        assert stats["v"]["switches"] == 1 and stats["a"]["switches"] == 1

        video = sink.packets["v"]
        assert {mime for mime, _ in video} == {"video/vp8"}
        assert {mime for mime, _ in sink.packets["a"]} == {"audio/opus"}
        headers = [rtp.parse_header(p) for _, p in video]
        # The first packet starts a keyframe, and so does the first packet of the new publisher.
        payload = memoryview(video[0][1])[headers[0].header_length :]
        assert vp8_keyframe_start(payload)
        switch = before + next(
            i
            for i, (_, p) in enumerate(video[before:])
            if vp8_keyframe_start(memoryview(p)[headers[before + i].header_length :])
        )
        # One stream: consecutive sequence numbers across the switch, timestamps moving on.
        sequences = [h.sequence for h in headers]
        steps = {(b - a) & 0xFFFF for a, b in itertools.pairwise(sequences)}
        assert steps <= {1, 0xFFFF, 2, 3}, steps  # in order but for loopback reordering/loss
        assert (headers[switch].sequence - headers[switch - 1].sequence) & 0xFFFF == 1
        advance = (headers[switch].timestamp - headers[switch - 1].timestamp) & 0xFFFFFFFF
        assert 0 < advance < 90000 * 5
        assert len({h.ssrc for h in headers}) == 1

        summary = await worker.request("tap.close", {"tap_id": "rec"})
        assert sink.closed and summary["path"] == "/nowhere" and summary["packets"]["v"] > 60
        assert "rec" not in worker.taps and not worker.routers["m"].taps
        # Closed: its consumers are detached from the publishers.
        for producer in worker.routers["m"].producers.values():
            assert all(c.mid not in ("v", "a") for c in producer.consumers)
    finally:
        await worker.close()
        await one.close()
        await two.close()


async def test_tap_requests_are_checked():
    worker = Worker(Notes())
    try:
        await worker.request("router.create", {"router_id": "m"})
        try:
            await worker.request(
                "tap.create",
                {"router_id": "m", "tap_id": "t", "slots": {"v": "video"}, "sink": {}},
            )
        except MediaError as exc:
            assert exc.code == "unavailable"  # no sink factory: this worker cannot record
        else:
            raise AssertionError("a tap without a sink factory was created")
    finally:
        await worker.close()

    worker = Worker(Notes(), sinks=lambda tap, params: CapturingSink(tap, params))
    try:
        await worker.request("router.create", {"router_id": "m"})
        cases = [
            ("tap.create", {"router_id": "nope", "tap_id": "t", "slots": {}}, "not_found"),
            (
                "tap.create",
                {"router_id": "m", "tap_id": "t", "slots": {"x": "data"}},
                "bad_request",
            ),
            ("tap.assign", {"tap_id": "nope", "mid": "v", "producer_id": None}, "not_found"),
            ("tap.close", {"tap_id": "nope"}, "not_found"),
        ]
        for method, params, code in cases:
            try:
                await worker.request(method, params)
            except MediaError as exc:
                assert exc.code == code, (method, params, exc.code)
            else:
                raise AssertionError(f"{method} {params} was accepted")
        await worker.request(
            "tap.create", {"router_id": "m", "tap_id": "t", "slots": {"v": "video"}}
        )
        for params, code in (
            ({"tap_id": "t", "mid": "zz", "producer_id": None}, "not_found"),
            ({"tap_id": "t", "mid": "v", "producer_id": "nope"}, "not_found"),
        ):
            try:
                await worker.request("tap.assign", params)
            except MediaError as exc:
                assert exc.code == code
            else:
                raise AssertionError(params)
        # Closing the meeting's router closes its taps (their sinks finish their files).
        tap = worker.taps["t"]
        await worker.request("router.close", {"router_id": "m"})
        assert tap.closed and tap.sink.closed and not worker.taps
    finally:
        await worker.close()
