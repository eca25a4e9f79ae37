"""kill -9 of the server while it records: the partial file plays, and a restart files it."""

import asyncio
import hashlib
import os
import signal
from pathlib import Path

import aiohttp

from tests.harness import Api, Server, build_world, free_port, make_settings
from tests.media.peers import Endpoint
from tests.signaling.test_media_signaling import SfuClient
from tests.signaling.test_recordings_api import audio_gaps, decode_all, ffprobe, needs_ffprobe
from tests.signaling.test_scaleout import ServerProcess


@needs_ffprobe
async def test_a_killed_server_leaves_a_playable_recording_that_restart_files(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, None)
    env = {
        "PHONGHOP_ADMIN_PASSWORD": settings.admin_password or "",
        "PHONGHOP_LOG_LEVEL": "WARNING",
        "PHONGHOP_RECORDING_TRACKS": "true",  # the per-producer files are recovered too
    }
    process = ServerProcess(free_port(), env, ["--data-dir", str(data_dir)])
    clients: list[SfuClient] = []
    try:
        await process.wait_ready()
        async with aiohttp.ClientSession() as http:
            world = await build_world(process, http)  # type: ignore[arg-type]
            mid = world.meeting_id
            chair = Api(process.url, http, token=world.tokens["chair"])
            status, _ = await chair.post(f"/api/v1/meetings/{mid}/start")
            assert status == 200
            clients.append(
                await SfuClient.join(process, world.tokens["chair"], mid, Endpoint())  # type: ignore[arg-type]
            )
            status, started = await chair.post(f"/api/v1/meetings/{mid}/recording")
            assert status == 201, started
            await asyncio.sleep(4)
            os.kill(process.proc.pid, signal.SIGKILL)
            process.proc.wait(10)
    finally:
        for client in clients:
            await client.close()
        if process.proc.poll() is None:
            process.proc.kill()

    # What the killed process left: a WebM that plays up to its last second or two.
    folder = data_dir / "recordings" / f"meeting-{mid}"
    [partial] = list(folder.glob("*.webm"))
    probed = ffprobe(partial)
    assert [s["codec_name"] for s in probed["streams"]] == ["vp8", *["opus"] * 3], probed
    decoded = decode_all(partial)
    assert len(decoded["sizes"]) >= 30 * 2, len(decoded["sizes"])  # ≥ 2 s of 30 fps video
    assert decoded["audio"][-1][1] >= 2.0 and audio_gaps(decoded["audio"]) == []
    for track in decoded["audio_tracks"]:  # the other voices' tracks (silent) kept up too
        assert track[-1][1] >= 1.0 and audio_gaps(track) == [], track[-3:]

    # Restarted on the same data: the recording is filed as interrupted, with its figures.
    server = Server(settings)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            chair = Api(server.url, http, token=world.tokens["chair"])
            status, listed = await chair.get(f"/api/v1/meetings/{mid}/recordings")
            assert status == 200, listed
            [filed] = listed
            assert filed["id"] == started["id"] and filed["state"] == "interrupted", filed
            assert filed["stopped_by"] == "system" and filed["duration_s"] >= 2.0
            assert filed["size"] == partial.stat().st_size
            assert filed["sha256"] == hashlib.sha256(partial.read_bytes()).hexdigest()
            # The chair's own track files, read back from what the dead recorder left.
            status, detail = await chair.get(f"/api/v1/meetings/{mid}/recordings/{filed['id']}")
            assert status == 200, detail
            chair_key = f"account:{world.accounts['chair']}"
            tracks = {(t["participant"], t["source"]): t for t in detail["tracks"]}
            assert set(tracks) == {(chair_key, "camera"), (chair_key, "microphone")}, tracks
            for track in tracks.values():
                data = (folder / f"{started['id']}-tracks" / track["name"]).read_bytes()
                assert track["sha256"] == hashlib.sha256(data).hexdigest()
                assert track["offset_s"] is None and track["duration_s"] >= 2.0, track
            # The meeting can be recorded again.
            status, again = await chair.post(f"/api/v1/meetings/{mid}/recording")
            assert status == 201 and again["id"] != started["id"], again
            status, stopped = await chair.request("DELETE", f"/api/v1/meetings/{mid}/recording")
            assert status == 200 and stopped["state"] == "ready", stopped
    finally:
        await server.stop()


async def test_a_shutdown_finishes_and_files_the_recording(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", None)
    server = Server(settings)
    await server.start()
    stopped = False
    try:
        async with aiohttp.ClientSession() as http:
            world = await build_world(server, http)
            mid = world.meeting_id
            chair = Api(server.url, http, token=world.tokens["chair"])
            assert (await chair.post(f"/api/v1/meetings/{mid}/start"))[0] == 200
            client = await SfuClient.join(server, world.tokens["chair"], mid, Endpoint())
            try:
                status, started = await chair.post(f"/api/v1/meetings/{mid}/recording")
                assert status == 201, started
                await asyncio.sleep(2)
            finally:
                await client.close()
        await server.stop()
        stopped = True
        server = Server(settings)
        await server.start()
        stopped = False
        async with aiohttp.ClientSession() as http:
            chair = Api(server.url, http, token=world.tokens["chair"])
            status, listed = await chair.get(f"/api/v1/meetings/{mid}/recordings")
            [filed] = listed
            assert filed["state"] == "ready" and filed["stopped_by"] == "system", filed
            assert filed["duration_s"] >= 1.5 and filed["sha256"]
    finally:
        if not stopped:
            await server.stop()
