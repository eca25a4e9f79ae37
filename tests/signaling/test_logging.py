"""Structured logs: JSON lines carrying the meeting and the actor they concern."""

import json
import logging

from signaling.logs import configure_logging
from tests.harness import Api, World, sio_client


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_log_lines_are_json_with_meeting_and_actor(server, http, world: World, capsys):
    configure_logging("INFO", json=True)
    try:
        capsys.readouterr()
        client = await sio_client(server, world.endpoint_tokens[0])
        assert (await client.call("join", {"meeting_id": world.meeting_id}))["ok"]
        assert not (await client.call("join", {"meeting_id": "nope"}))["ok"]
        await client.disconnect()
        api = Api(server.url, http, token=world.tokens["delegate"])
        status, _ = await api.post(f"/api/v1/meetings/{world.meeting_id}/start")
        assert status == 403
        lines = _json_lines(capsys.readouterr().err)
    finally:
        logging.getLogger().handlers.clear()
    joined = [entry for entry in lines if entry["event"] == "meeting.joined"]
    assert joined and joined[0]["meeting_id"] == world.meeting_id
    assert joined[0]["actor"] == f"endpoint:{world.endpoints[0]}"
    rejected = [entry for entry in lines if entry["event"] == "socket.rejected"]
    assert rejected and rejected[0]["code"] == "invalid_payload"
    denied = [entry for entry in lines if entry["event"] == "http.error"]
    assert denied and denied[0]["status"] == 403
    assert denied[0]["meeting_id"] == world.meeting_id
    assert denied[0]["actor"] == f"account:{world.accounts['delegate']}"
    assert all({"timestamp", "level", "event"} <= entry.keys() for entry in lines)
