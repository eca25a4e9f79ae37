"""Bad input over REST and socket.io: a clear 4xx / error ack, and the database untouched."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio

from tests.harness import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    Api,
    Server,
    build_world,
    login_token,
    make_settings,
    sio_client,
)
from tests.signaling.helpers_authz import (
    VALID_CANDIDATE,
    VALID_SDP,
    Recorder,
    assert_error,
    assert_nack,
    assert_same_db,
    call,
    db_snapshot,
)

JSON = {"Content-Type": "application/json"}


async def test_rest_bad_input_is_refused_and_changes_nothing(server, http):
    w = await build_world(server, http)
    admin = Api(server.url + "/api/v1", http, token=w.tokens["admin"])
    chair = Api(server.url + "/api/v1", http, token=w.tokens["chair"])
    delegate_api = Api(server.url + "/api/v1", http, token=w.tokens["delegate"])
    anonymous = Api(server.url + "/api/v1", http)
    m = w.meeting_id
    delegate = w.accounts["delegate"]
    meeting = {"title": "Họp", "starts_at": "2026-12-01T08:00:00Z", "chair_id": w.accounts["chair"]}
    # (client, method, path, request kwargs, expected status, expected code)
    cases: list[tuple[Api, str, str, dict[str, Any], int, str]] = [
        # malformed JSON
        (
            admin,
            "POST",
            "/units",
            {"data": b'{"name": "x", ', "headers": JSON},
            400,
            "malformed_json",
        ),
        (
            admin,
            "POST",
            "/units",
            {"data": b"\xff\xfe\x00", "headers": JSON},
            400,
            "malformed_json",
        ),
        (
            chair,
            "POST",
            f"/meetings/{m}/invitations",
            {"data": b"{'invitees': []}"},
            400,
            "malformed_json",
        ),
        # JSON, but not an object
        (admin, "POST", "/units", {"json": [1, 2]}, 422, "validation_error"),
        (admin, "POST", "/units", {"data": b"null", "headers": JSON}, 422, "validation_error"),
        (admin, "POST", "/units", {"json": "province"}, 422, "validation_error"),
        (admin, "POST", "/units", {}, 422, "validation_error"),  # empty body
        # wrong types and out-of-range values
        (
            admin,
            "POST",
            "/units",
            {"json": {"name": 5, "kind": "province"}},
            422,
            "validation_error",
        ),
        (
            admin,
            "POST",
            "/units",
            {"json": {"name": "X", "kind": "planet"}},
            422,
            "validation_error",
        ),
        (
            admin,
            "POST",
            "/units",
            {"json": {"name": "   ", "kind": "province"}},
            422,
            "validation_error",
        ),
        (
            admin,
            "POST",
            "/units",
            {"json": {"name": "X", "kind": "commune", "parent_id": "one"}},
            422,
            "validation_error",
        ),
        (
            chair,
            "POST",
            "/meetings",
            {"json": {**meeting, "starts_at": "next tuesday"}},
            422,
            "validation_error",
        ),
        (
            chair,
            "POST",
            "/meetings",
            {"json": {**meeting, "chair_id": "abc"}},
            422,
            "validation_error",
        ),
        (
            chair,
            "POST",
            "/meetings",
            {"json": {**meeting, "chair_id": 2**31}},
            422,
            "validation_error",
        ),
        (
            chair,
            "POST",
            "/meetings",
            {"json": {**meeting, "title": "x" * 301}},
            422,
            "validation_error",
        ),
        (
            chair,
            "POST",
            f"/meetings/{m}/invitations",
            {"json": {"invitees": "everyone"}},
            422,
            "validation_error",
        ),
        (
            chair,
            "POST",
            f"/meetings/{m}/invitations",
            {"json": {"invitees": []}},
            422,
            "validation_error",
        ),
        (
            chair,
            "POST",
            f"/meetings/{m}/invitations",
            {"json": {"invitees": [{"kind": "province", "id": 1}]}},
            422,
            "validation_error",
        ),
        (
            chair,
            "POST",
            f"/meetings/{m}/invitations",
            {"json": {"invitees": [{"kind": "account", "id": 0}]}},
            422,
            "validation_error",
        ),
        (
            admin,
            "PATCH",
            f"/accounts/{delegate}",
            {"json": {"active": "maybe"}},
            422,
            "validation_error",
        ),
        (
            admin,
            "PATCH",
            f"/accounts/{delegate}",
            {"json": {"role": "superadmin"}},
            422,
            "validation_error",
        ),
        (
            admin,
            "POST",
            "/accounts",
            {
                "json": {
                    "username": "bad name!",
                    "full_name": "X",
                    "unit_id": w.province,
                    "role": "delegate",
                    "password": USER_PASSWORD,
                }
            },
            422,
            "validation_error",
        ),
        # unknown fields: a typo or a mass-assignment attempt is an error, never ignored
        (
            admin,
            "POST",
            "/units",
            {"json": {"name": "X", "kind": "province", "colour": "red"}},
            422,
            "validation_error",
        ),
        (chair, "PATCH", f"/meetings/{m}", {"json": {"state": "ended"}}, 422, "validation_error"),
        (
            admin,
            "PATCH",
            f"/accounts/{delegate}",
            {"json": {"password_hash": "x"}},
            422,
            "validation_error",
        ),
        (
            admin,
            "POST",
            "/accounts",
            {
                "json": {
                    "username": "newbie",
                    "full_name": "X",
                    "unit_id": w.province,
                    "role": "delegate",
                    "password": USER_PASSWORD,
                    "active": False,
                }
            },
            422,
            "validation_error",
        ),
        # query strings
        (admin, "GET", "/accounts?unit_id=abc", {}, 422, "validation_error"),
        (admin, "GET", "/accounts?unit_id=-1", {}, 422, "validation_error"),
        (admin, "GET", f"/endpoints?unit_id={w.province}&evil=1", {}, 422, "validation_error"),
        # path parameters
        (admin, "GET", "/meetings/abc", {}, 404, "not_found"),
        (admin, "GET", "/meetings/0", {}, 404, "not_found"),
        (admin, "GET", "/meetings/99999999999", {}, 404, "not_found"),
        (
            admin,
            "PATCH",
            "/accounts/99999999999999999999",
            {"json": {"full_name": "X"}},
            404,
            "not_found",
        ),
        (admin, "DELETE", "/endpoints/4294967296/token", {}, 404, "not_found"),
        # ...yet who may ask is settled first
        (anonymous, "GET", "/meetings/99999999999", {}, 401, "unauthenticated"),
        (
            delegate_api,
            "PATCH",
            "/accounts/99999999999",
            {"json": {"full_name": "X"}},
            403,
            "forbidden",
        ),
        (delegate_api, "POST", "/units", {"data": b"{not json", "headers": JSON}, 403, "forbidden"),
        (anonymous, "POST", "/units", {"json": {"name": 5}}, 401, "unauthenticated"),
        (admin, "GET", "/no/such/route", {}, 404, "not_found"),
        (
            admin,
            "PUT",
            "/units",
            {"json": {"name": "X", "kind": "province"}},
            405,
            "method_not_allowed",
        ),
        # well-formed, but wrong for the domain (rolled back as a whole)
        (
            admin,
            "POST",
            "/units",
            {"json": {"name": "X", "kind": "commune", "parent_id": 999}},
            422,
            "invalid_input",
        ),
        (
            admin,
            "POST",
            "/units",
            {"json": {"name": "X", "kind": "district"}},
            422,
            "invalid_input",
        ),
        (
            admin,
            "POST",
            "/accounts",
            {
                "json": {
                    "username": "shorty",
                    "full_name": "X",
                    "unit_id": w.province,
                    "role": "delegate",
                    "password": "short",
                }
            },
            422,
            "invalid_input",
        ),
        (
            admin,
            "POST",
            "/accounts",
            {
                "json": {
                    "username": "chair1",
                    "full_name": "X",
                    "unit_id": w.province,
                    "role": "delegate",
                    "password": USER_PASSWORD,
                }
            },
            409,
            "conflict",
        ),
        (
            admin,
            "POST",
            "/endpoints",
            {"json": {"name": "X", "unit_id": 999}},
            422,
            "invalid_input",
        ),
        (
            chair,
            "POST",
            "/meetings",
            {"json": {**meeting, "chair_id": delegate}},
            422,
            "invalid_input",
        ),
        (
            chair,
            "POST",
            f"/meetings/{m}/invitations",
            {
                "json": {
                    "invitees": [
                        {"kind": "unit", "id": w.communes[0]},
                        {"kind": "account", "id": 999},
                    ]
                }
            },
            422,
            "invalid_input",
        ),
    ]
    before = await db_snapshot(server)
    for client, method, path, kwargs, want_status, want_code in cases:
        status, body = await client.request(method, path, **kwargs)
        what = f"{method} {path} {kwargs}"
        assert status == want_status, (what, status, body)
        assert_error(status, body, want_status, want_code)
        assert_same_db(before, await db_snapshot(server), what)


async def test_validation_errors_do_not_echo_secrets(server, http):
    api = Api(server.url + "/api/v1", http)
    secret = "hunter2-do-not-echo"
    status, body = await api.post("/auth/login", {"username": "", "password": secret, "x": 1})
    assert_error(status, body, 422, "validation_error")
    locations = {tuple(e["loc"]) for e in body["error"]["details"]["errors"]}
    assert ("username",) in locations and ("x",) in locations
    assert secret not in str(body)


@pytest.fixture
async def small_server(tmp_path, database_url) -> AsyncIterator[Server]:
    """A server accepting JSON bodies of at most 2 KiB."""
    srv = Server(make_settings(tmp_path / "small", database_url, max_body_bytes=2048))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_oversized_bodies_get_413(small_server, http):
    base = small_server.url + "/api/v1"
    token = await login_token(small_server, "admin", ADMIN_PASSWORD)
    admin = Api(base, http, token=token)
    status, me = await admin.get("/auth/me")
    assert status == 200
    _, province = await admin.post("/units", {"name": "Tỉnh", "kind": "province"})
    meeting = {"title": "Họp", "starts_at": "2026-12-01T08:00:00Z", "chair_id": me["id"]}

    before = await db_snapshot(small_server)
    # Within the field limit (4000 characters) but over the body limit.
    status, body = await admin.post("/meetings", {**meeting, "description": "d" * 3000})
    assert_error(status, body, 413, "payload_too_large")
    assert "2048" in body["error"]["message"]
    # The login route is public, but reads no oversized body either; no attempt is counted.
    status, body = await Api(base, http).post(
        "/auth/login", {"username": "admin", "password": "p" * 4000}
    )
    assert_error(status, body, 413, "payload_too_large")
    # Nobody unauthenticated gets the server to read a large body: it is refused first.
    status, body = await Api(base, http).post("/units", {"name": "x" * 4000, "kind": "province"})
    assert_error(status, body, 401, "unauthenticated")
    assert_same_db(before, await db_snapshot(small_server), "oversized bodies")

    # Just under the limit is fine.
    status, created = await admin.post("/meetings", {**meeting, "description": "d" * 1500})
    assert status == 201, created
    assert len(created["description"]) == 1500
    assert province["kind"] == "province"


async def test_socket_bad_input_is_refused_and_changes_nothing(server, http):
    w = await build_world(server, http)
    m = w.meeting_id
    delegate = await sio_client(server, w.tokens["delegate"])
    chair = await sio_client(server, w.tokens["chair"])
    recorder = Recorder()
    recorder.attach(chair)
    chair_key = f"account:{w.accounts['chair']}"
    offer = {"meeting_id": m, "to": chair_key, "type": "offer", "sdp": VALID_SDP}
    candidate = {"meeting_id": m, "to": chair_key, "candidate": VALID_CANDIDATE}
    before = await db_snapshot(server)
    try:
        assert (await call(chair, "join", {"meeting_id": m}))["ok"]
        # Before joining: the payload is checked first, then membership.
        cases: list[tuple[str, Any, str]] = [
            ("no.such.event", {"meeting_id": m}, "unknown_event"),
            ("x" * 500, None, "unknown_event"),
            ("join", None, "invalid_payload"),
            ("join", "hello", "invalid_payload"),
            ("join", 42, "invalid_payload"),
            ("join", [m], "invalid_payload"),
            ("join", {}, "invalid_payload"),
            ("join", {"meeting_id": str(m)}, "invalid_payload"),
            ("join", {"meeting_id": float(m)}, "invalid_payload"),
            ("join", {"meeting_id": True}, "invalid_payload"),
            ("join", {"meeting_id": 0}, "invalid_payload"),
            ("join", {"meeting_id": 2**31}, "invalid_payload"),
            ("join", {"meeting_id": m, "as": "chair"}, "invalid_payload"),
            ("join", {"meeting_id": 999_999}, "not_found"),
            ("rtc.offer", offer, "forbidden"),  # valid, but not joined yet
        ]
        for event, data, code in cases:
            assert_nack(await call(delegate, event, data), code)
        assert "x" * 100 not in (await call(delegate, "x" * 500))["error"]["message"]

        ack = await call(delegate, "join", {"meeting_id": m})
        assert ack["ok"], ack
        garbage_sdp = [
            "hello world, this is not SDP",
            "v=1\r\no=- 1 1 IN IP4 127.0.0.1\r\nm=audio 9 RTP/AVP 0\r\n",
            "v=0\r\ns=-\r\nt=0 0\r\n",  # no o= line, no m= section
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nm=audio 9 RTP/AVP 0\r\n<script>x</script>\r\n",
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nm=audio 9 RTP/AVP 0\r\n\r\n\r\nbogus\r\n",
            "v=0",
        ]
        joined_cases: list[tuple[str, Any, str]] = [
            *[("rtc.offer", {**offer, "sdp": sdp}, "invalid_payload") for sdp in garbage_sdp],
            ("rtc.offer", {**offer, "sdp": 12345}, "invalid_payload"),
            ("rtc.offer", {**offer, "type": "answer"}, "invalid_payload"),
            ("rtc.answer", {**offer}, "invalid_payload"),  # an offer sent as an answer
            ("rtc.offer", {k: v for k, v in offer.items() if k != "sdp"}, "invalid_payload"),
            ("rtc.offer", {**offer, "to": "chair"}, "invalid_payload"),
            ("rtc.offer", {**offer, "to": "room:meeting:1"}, "invalid_payload"),
            ("rtc.offer", {**offer, "to": "account:999999"}, "not_found"),
            ("rtc.offer", {**offer, "from": "account:1"}, "invalid_payload"),  # no spoofing
            ("rtc.offer", VALID_SDP, "invalid_payload"),
            ("rtc.candidate", {**candidate, "candidate": "hello"}, "invalid_payload"),
            ("rtc.candidate", {**candidate, "sdpMLineIndex": "0"}, "invalid_payload"),
            ("rtc.candidate", {**candidate, "sdpMLineIndex": -1}, "invalid_payload"),
            (
                "rtc.candidate",
                {k: v for k, v in candidate.items() if k != "to"},
                "not_found",
            ),  # for the SFU: no offer made yet
            ("leave", {"meeting_id": "all"}, "invalid_payload"),
        ]
        for event, data, code in joined_cases:
            assert_nack(await call(delegate, event, data), code)
        # Nothing malformed reached the chair; a valid offer still does, and the socket survived.
        assert recorder.named("rtc.offer") == [] and recorder.named("rtc.candidate") == []
        assert (await call(delegate, "rtc.offer", offer))["ok"]
        assert delegate.connected
    finally:
        await delegate.disconnect()
        await chair.disconnect()
    assert_same_db(before, await db_snapshot(server), "malformed socket.io events")


async def test_device_of_another_unit_cannot_join(server, http):
    w = await build_world(server, http)
    chair = Api(server.url + "/api/v1", http, token=w.tokens["chair"])
    status, meeting = await chair.post(
        "/meetings",
        {
            "title": "Họp riêng xã Đồn Đạc",
            "starts_at": "2026-12-01T08:00:00Z",
            "chair_id": w.accounts["chair"],
        },
    )
    assert status == 201
    status, _ = await chair.post(
        f"/meetings/{meeting['id']}/invitations",
        {"invitees": [{"kind": "unit", "id": w.communes[1]}]},
    )
    assert status == 201
    outsider = Api(server.url + "/api/v1", http, token=w.endpoint_tokens[0])  # other commune
    before = await db_snapshot(server)
    status, body = await outsider.get(f"/meetings/{meeting['id']}")
    assert_error(status, body, 403, "forbidden")
    status, mine = await outsider.get("/meetings")
    assert status == 200 and meeting["id"] not in {x["id"] for x in mine}

    client = await sio_client(server, w.endpoint_tokens[0])
    try:
        assert_nack(await call(client, "join", {"meeting_id": meeting["id"]}), "forbidden")
        offer = {
            "meeting_id": meeting["id"],
            "to": f"endpoint:{w.endpoints[1]}",
            "type": "offer",
            "sdp": VALID_SDP,
        }
        assert_nack(await call(client, "rtc.offer", offer), "forbidden")
        # The same device is welcome where its unit is invited.
        assert (await call(client, "join", {"meeting_id": w.meeting_id}))["ok"]
    finally:
        await client.disconnect()
    invited = await sio_client(server, w.endpoint_tokens[1])
    try:
        ack = await call(invited, "join", {"meeting_id": meeting["id"]})
        assert ack["ok"], ack
        assert ack["self"]["key"] == f"endpoint:{w.endpoints[1]}"
    finally:
        await invited.disconnect()
    assert_same_db(before, await db_snapshot(server), "an uninvited device")


async def test_bad_socket_credentials_are_refused(server, http):
    w = await build_world(server, http)
    before = await db_snapshot(server)
    for auth in (
        {"token": "garbage"},
        {"token": 12345},
        {"token": ""},
        {"token": "phd_" + "A" * 43},
        "just-a-string",
        None,
    ):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=5)
        await client.disconnect()
    for header in ("Basic YWRtaW46YWRtaW4=", "Bearer not-a-jwt"):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                server.url,
                headers={"Authorization": header},
                transports=["websocket"],
                wait_timeout=5,
            )
        await client.disconnect()
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            server.url,
            headers={"Cookie": 'phonghop_session="unterminated; x'},
            transports=["websocket"],
            wait_timeout=5,
        )
    await client.disconnect()
    # The Authorization header is an accepted alternative to the auth payload.
    ok = socketio.AsyncClient(reconnection=False)
    await ok.connect(
        server.url,
        headers={"Authorization": f"Bearer {w.tokens['delegate']}"},
        transports=["websocket"],
        wait_timeout=5,
    )
    try:
        assert (await call(ok, "join", {"meeting_id": w.meeting_id}))["ok"]
    finally:
        await ok.disconnect()
    assert_same_db(before, await db_snapshot(server), "refused socket.io connections")


async def test_socket_event_with_several_arguments_gets_an_error_ack(server, http):
    token = await login_token(server, "admin", ADMIN_PASSWORD)
    client = await sio_client(server, token)
    try:
        # Failed before the fix: the catch-all handler took one argument and never acked.
        ack = await client.call("join", (1, 2), timeout=5)
        assert_nack(ack, "invalid_payload")
        ack = await client.call("no.such.event", (1, 2, 3), timeout=5)
        assert_nack(ack, "unknown_event")
    finally:
        await client.disconnect()
