"""Recording a meeting through the real server: two aiortc publishers, the spotlight switching.

The recorder joins the meeting's Router as a tap; what it writes is checked with Debian's
``ffprobe`` and by decoding every packet with PyAV (only the test decodes: the server never
does).
"""

import asyncio
import hashlib
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy
import pytest

from tests.harness import Api, Server, World, sio_client, wait_for
from tests.media.peers import Endpoint
from tests.signaling.test_media_signaling import SfuClient, _key

FFPROBE = shutil.which("ffprobe")
needs_ffprobe = pytest.mark.skipif(FFPROBE is None, reason="Debian's ffmpeg is not installed")


def ffprobe(path: Path) -> dict[str, Any]:
    """``ffprobe`` of a file as JSON (streams and format)."""
    assert FFPROBE is not None
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return json.loads(out.stdout)


def decode_all(path: Path) -> dict[str, Any]:
    """Decode every packet of the file: video packets, sizes of the decoded video frames,
    audio frame spans (s)."""
    sizes: list[tuple[int, int]] = []
    tracks: dict[int, list[tuple[float, float]]] = {}
    voiced: dict[int, float] = {}
    video_packets = 0
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size == 0:
                continue
            video_packets += packet.stream.type == "video"
            for frame in packet.decode():
                if packet.stream.type == "video":
                    sizes.append((frame.width, frame.height))
                else:
                    start = float(frame.pts * frame.time_base)
                    seconds = frame.samples / frame.sample_rate
                    index = packet.stream.index
                    tracks.setdefault(index, []).append((start, start + seconds))
                    if float(numpy.abs(frame.to_ndarray()).max()) > 0.05:  # the 0.3 tone
                        voiced[index] = voiced.get(index, 0.0) + seconds
    audio = [tracks[n] for n in sorted(tracks)]
    return {
        "video_packets": video_packets,
        "sizes": sizes,
        "audio": audio[0] if audio else [],  # the first (default) track
        "audio_tracks": audio,
        "voiced_s": [voiced.get(n, 0.0) for n in sorted(tracks)],
    }


def audio_gaps(spans: list[tuple[float, float]]) -> list[float]:
    """Holes between consecutive decoded audio frames (s)."""
    spans = sorted(spans)
    return [b[0] - a[1] for a, b in itertools.pairwise(spans) if b[0] - a[1] > 0.002]


async def recordings_count(api: Api, meeting_id: int) -> int:
    status, body = await api.get(f"/api/v1/meetings/{meeting_id}/recordings")
    assert status == 200, body
    return len(body)


@needs_ffprobe
async def test_chair_records_two_publishers_switching_the_spotlight(
    media_server: Server, media_world: World
) -> None:
    w, mid = media_world, media_world.meeting_id
    # Live sources: media time is wall-clock time, as with real cameras (see LiveClock). The
    # chair is silent at first, so the commune takes the floor; then both talk at once.
    chair = await SfuClient.join(
        media_server, w.tokens["chair"], mid, Endpoint(live=True, quiet=True)
    )
    commune = await SfuClient.join(
        media_server, w.endpoint_tokens[0], mid, Endpoint(video_size=(160, 120), live=True)
    )
    told: list[Any] = []
    commune.sio.on("recording.state", told.append)
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(media_server.url, http, token=w.tokens["chair"])
            await wait_for(lambda: commune.showing(_key(w, "chair")) is not None, within=10)
            await wait_for(lambda: chair.speakers[-1:] == [_key(w, "endpoint0")], within=10)
            status, started = await api.post(f"/api/v1/meetings/{mid}/recording")
            began = time.monotonic()
            assert status == 201, started
            assert started["state"] == "recording" and started["started_by"] == _key(w, "chair")
            await wait_for(lambda: len(told) == 1, within=5)
            assert told[0]["recording"]["id"] == started["id"]
            # A late joiner learns it from the join ack.
            late = await sio_client(media_server, w.endpoint_tokens[1])
            ack = await late.call("join", {"meeting_id": mid})
            assert ack["ok"] and ack["recording"]["id"] == started["id"], ack
            await late.disconnect()
            # A second start is refused; nothing more is stored.
            status, body = await api.post(f"/api/v1/meetings/{mid}/recording")
            assert status == 409, body
            assert await recordings_count(api, mid) == 1

            await asyncio.sleep(3)
            chair.endpoint.speak(True)  # the commune keeps the floor; the chair is a voice
            ack = await chair.sio.call(
                "media.spotlight", {"meeting_id": mid, "participant": _key(w, "endpoint0")}
            )
            assert ack["ok"], ack
            await asyncio.sleep(3)
            ack = await chair.sio.call("recording.stop", {"meeting_id": mid}, timeout=20)
            elapsed = time.monotonic() - began
            assert ack["ok"], ack
            await wait_for(lambda: len(told) == 2, within=5)
            assert told[1]["recording"] is None

            stopped = ack["recording"]
            assert stopped["state"] == "ready" and stopped["stopped_by"] == _key(w, "chair")
            status, detail = await api.get(f"/api/v1/meetings/{mid}/recordings/{started['id']}")
            assert status == 200, detail
            assert abs(detail["duration_s"] - elapsed) < 0.5, (detail, elapsed)
            path = media_server.settings.data_dir / "recordings" / f"meeting-{mid}"
            [file] = list(path.iterdir())
            assert file.suffix == ".webm" and file.stat().st_size == detail["size"]

            # Downloaded with Range, the bytes are the file's.
            async with http.get(
                f"{media_server.url}/api/v1/meetings/{mid}/recordings/{started['id']}/file",
                headers={"Authorization": f"Bearer {w.tokens['chair']}", "Range": "bytes=0-99"},
            ) as response:
                assert response.status == 206
                assert response.headers["Content-Type"] == "video/webm"
                assert await response.read() == file.read_bytes()[:100]
            assert hashlib.sha256(file.read_bytes()).hexdigest() == detail["sha256"]

        probed = ffprobe(file)
        codecs = [s["codec_name"] for s in probed["streams"]]
        assert codecs == ["vp8", "opus", "opus", "opus"], probed  # the floor, then two voices
        titles = [s.get("tags", {}).get("title") for s in probed["streams"][1:]]
        assert titles == ["floor", "voice 2", "voice 3"], probed
        assert abs(float(probed["format"]["duration"]) - elapsed) < 0.5, (probed, elapsed)
        decoded = decode_all(file)
        # Both publishers are in the file, in order: the chair's 320x240 then the commune's.
        sizes = decoded["sizes"]
        assert sizes[0] == (320, 240) and sizes[-1] == (160, 120), sizes[
            :: max(1, len(sizes) // 20)
        ]
        # Every video packet decodes to a picture (a busy machine may send fewer than 30 fps).
        assert len(sizes) == decoded["video_packets"] > 10 * elapsed
        spans = decoded["audio"]
        assert spans and abs(spans[-1][1] - elapsed) < 0.5
        assert audio_gaps(spans) == []  # continuous
        # Every track is continuous to the end; both voices are in the file: the commune's
        # on the floor track all along, the chair's (talking over it) on the next.
        tracks = decoded["audio_tracks"]
        assert len(tracks) == 3
        for track in tracks:
            assert audio_gaps(track) == [] and abs(max(e for _, e in track) - elapsed) < 0.5
        floor, chair_voice, _ = decoded["voiced_s"]
        assert floor > elapsed - 1.0 and 2.0 < chair_voice < elapsed - 2.0, decoded["voiced_s"]
    finally:
        await chair.close()
        await commune.close()


async def test_recording_refusals_leave_nothing_behind(
    media_server: Server, media_world: World
) -> None:
    w, mid = media_world, media_world.meeting_id
    async with aiohttp.ClientSession() as http:
        chair = Api(media_server.url, http, token=w.tokens["chair"])
        delegate = Api(media_server.url, http, token=w.tokens["delegate"])
        status, body = await delegate.post(f"/api/v1/meetings/{mid}/recording")
        assert status == 403 and body["error"]["code"] == "forbidden", body
        status, body = await chair.request("DELETE", f"/api/v1/meetings/{mid}/recording")
        assert status == 409, body
        status, body = await chair.post("/api/v1/meetings/999999/recording")
        assert status == 404, body
        assert await recordings_count(chair, mid) == 0
        sio = await sio_client(media_server, w.tokens["delegate"])
        try:
            assert (await sio.call("join", {"meeting_id": mid}))["ok"]
            ack = await sio.call("recording.start", {"meeting_id": mid})
            assert not ack["ok"] and ack["error"]["code"] == "forbidden", ack
            ack = await sio.call("recording.start", {"meeting_id": "x"})
            assert not ack["ok"] and ack["error"]["code"] == "invalid_payload", ack
        finally:
            await sio.disconnect()
        assert await recordings_count(chair, mid) == 0


async def test_ending_the_meeting_files_its_recording(
    media_server: Server, media_world: World
) -> None:
    w, mid = media_world, media_world.meeting_id
    chair_client = await SfuClient.join(media_server, w.tokens["chair"], mid, Endpoint())
    try:
        async with aiohttp.ClientSession() as http:
            chair = Api(media_server.url, http, token=w.tokens["chair"])
            status, started = await chair.post(f"/api/v1/meetings/{mid}/recording")
            assert status == 201, started
            await asyncio.sleep(2)
            status, body = await chair.post(f"/api/v1/meetings/{mid}/end")
            assert status == 200, body
            status, listed = await chair.get(f"/api/v1/meetings/{mid}/recordings")
            assert status == 200
            [recording] = listed
            assert recording["state"] == "ready" and recording["stopped_by"] == "system"
            assert recording["duration_s"] > 1.0 and recording["sha256"]
    finally:
        await chair_client.close()
