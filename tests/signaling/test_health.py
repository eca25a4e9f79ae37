"""Health and metrics endpoints."""

from prometheus_client.parser import text_string_to_metric_families

from tests.harness import Api, sio_client
from tests.signaling.helpers_authz import call


async def test_healthz_reports_database_and_disabled_redis(server, http):
    status, body = await Api(server.url, http).get("/healthz")
    assert status == 200
    assert body["status"] == "ok" and body["database"] == "ok" and body["redis"] == "disabled"
    assert body["version"]


async def test_healthz_is_503_when_the_database_is_gone(server, http):
    await server.state.engine.dispose()
    # Point the engine at a database that cannot be opened.
    from meetings.db import create_engine

    server.state.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    status, body = await Api(server.url, http).get("/healthz")
    assert status == 503
    assert body["database"] == "error" and body["status"] == "error"


async def test_metrics_expose_the_instruments(server, http, world):
    status, text = await Api(server.url, http).get("/metrics")
    assert status == 200
    for name in (
        "phonghop_connected_clients",
        "phonghop_live_meetings",
        "phonghop_joins_total",
        "phonghop_http_request_duration_seconds_bucket",
    ):
        assert name in text


async def test_metrics_time_socket_events_by_registered_name(server, http, world):
    client = await sio_client(server, world.tokens["delegate"])
    try:
        ack = await call(client, "join", {"meeting_id": world.meeting_id})
        assert ack["ok"], ack
        ack = await call(client, "no.such.event", {})
        assert not ack["ok"], ack
    finally:
        await client.disconnect()
    status, text = await Api(server.url, http).get("/metrics")
    assert status == 200
    counts = {
        sample.labels["event"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "phonghop_socket_event_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    }
    assert counts.get("join") == 1, counts
    assert counts.get("unknown") == 1, counts
    assert "no.such.event" not in counts
