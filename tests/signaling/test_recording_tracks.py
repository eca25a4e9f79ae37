"""PHONGHOP_RECORDING_TRACKS: each producer also recorded into its own file, listed with hashes."""

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.harness import Api, Server, World, build_world, make_settings, wait_for
from tests.media.peers import Endpoint
from tests.signaling.test_media_signaling import SfuClient, _key
from tests.signaling.test_recordings_api import audio_gaps, decode_all, ffprobe, needs_ffprobe


@pytest.fixture
async def tracks_server(tmp_path: Path) -> AsyncIterator[Server]:
    server = Server(make_settings(tmp_path / "data", None, recording_tracks=True))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def tracks_world(tracks_server: Server) -> AsyncIterator[World]:
    async with aiohttp.ClientSession() as http:
        world = await build_world(tracks_server, http)
        chair = Api(tracks_server.url, http, token=world.tokens["chair"])
        status, _ = await chair.post(f"/api/v1/meetings/{world.meeting_id}/start")
        assert status == 200
        yield world


@needs_ffprobe
async def test_every_producer_gets_its_own_track_file_while_recorded(
    tracks_server: Server, tracks_world: World
) -> None:
    w, mid, server = tracks_world, tracks_world.meeting_id, tracks_server
    chair = await SfuClient.join(server, w.tokens["chair"], mid, Endpoint(live=True))
    commune: SfuClient | None = None
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(server.url, http, token=w.tokens["chair"])
            status, started = await api.post(f"/api/v1/meetings/{mid}/recording")
            assert status == 201, started
            began = time.monotonic()
            await asyncio.sleep(1.0)
            # A commune joins during the recording and leaves before it ends.
            commune = await SfuClient.join(
                server, w.endpoint_tokens[0], mid, Endpoint(video_size=(160, 120), live=True)
            )
            joined = time.monotonic() - began
            await wait_for(lambda: chair.showing(_key(w, "endpoint0")) is not None, within=10)
            await asyncio.sleep(2.0)
            await commune.close()
            commune = None
            left = time.monotonic() - began
            await asyncio.sleep(1.0)
            status, stopped = await api.request("DELETE", f"/api/v1/meetings/{mid}/recording")
            elapsed = time.monotonic() - began
            assert status == 200 and stopped["state"] == "ready", stopped

            status, detail = await api.get(f"/api/v1/meetings/{mid}/recordings/{started['id']}")
            assert status == 200, detail
            tracks = {(t["participant"], t["source"]): t for t in detail["tracks"]}
            chair_key, commune_key = _key(w, "chair"), _key(w, "endpoint0")
            assert set(tracks) == {
                (chair_key, "camera"),
                (chair_key, "microphone"),
                (commune_key, "camera"),
                (commune_key, "microphone"),
            }, detail["tracks"]
            assert [t["number"] for t in detail["tracks"]] == [1, 2, 3, 4]

            folder = server.settings.data_dir / "recordings" / f"meeting-{mid}"
            folder = folder / f"{started['id']}-tracks"
            for track in detail["tracks"]:
                path = folder / track["name"]
                data = path.read_bytes()
                assert track["size"] == len(data)
                assert track["sha256"] == hashlib.sha256(data).hexdigest()
                # Downloadable, Range included, by number.
                async with http.get(
                    f"{server.url}/api/v1/meetings/{mid}/recordings/{started['id']}"
                    f"/tracks/{track['number']}",
                    headers={"Authorization": f"Bearer {w.tokens['chair']}", "Range": "bytes=4-"},
                ) as response:
                    assert response.status == 206
                    assert await response.read() == data[4:]
            status, body = await api.get(
                f"/api/v1/meetings/{mid}/recordings/{started['id']}/tracks/5"
            )
            assert status == 404 and body["error"]["code"] == "not_found", body

        # The chair's files span the recording; the commune's its stay in it.
        camera = tracks[(chair_key, "camera")]
        assert camera["offset_s"] < 0.5
        assert abs(camera["duration_s"] - elapsed) < 0.7, (camera, elapsed)
        probed = ffprobe(folder / camera["name"])
        assert [s["codec_name"] for s in probed["streams"]] == ["vp8"], probed
        decoded = decode_all(folder / camera["name"])
        assert decoded["sizes"] and set(decoded["sizes"]) == {(320, 240)}
        assert len(decoded["sizes"]) == decoded["video_packets"]

        voice = tracks[(commune_key, "microphone")]
        probed = ffprobe(folder / voice["name"])
        assert [s["codec_name"] for s in probed["streams"]] == ["opus"], probed
        assert joined - 0.5 < voice["offset_s"] < joined + 1.5, (voice, joined)
        assert 0.5 < voice["duration_s"] < left - joined + 0.7, (voice, joined, left)
        spans = decode_all(folder / voice["name"])["audio"]
        assert spans and audio_gaps(spans) == []
        picture = tracks[(commune_key, "camera")]
        assert set(decode_all(folder / picture["name"])["sizes"]) == {(160, 120)}
    finally:
        await chair.close()
        if commune is not None:
            await commune.close()
