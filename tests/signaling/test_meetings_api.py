"""Meetings over REST: create, invite, "my meetings", start/end/cancel; and the OpenAPI document."""

from typing import Any

from openapi_spec_validator import OpenAPIV31SpecValidator, validate

import signaling.app  # noqa: F401 (registers every route module on the table)
from meetings.permissions import PERMISSIONS
from signaling.api.table import API
from tests.harness import USER_PASSWORD, Api, build_world, sio_client, wait_for
from tests.signaling.helpers_authz import (
    Recorder,
    assert_error,
    assert_nack,
    assert_same_db,
    call,
    db_snapshot,
)

STARTS = "2026-11-24T08:00:00+07:00"


def meeting_body(chair_id: int, secretary_id: int | None = None, **extra: Any) -> dict[str, Any]:
    """A valid MeetingIn."""
    body: dict[str, Any] = {"title": "Giao ban", "starts_at": STARTS, "chair_id": chair_id}
    if secretary_id is not None:
        body["secretary_id"] = secretary_id
    return {**body, **extra}


async def test_create_meeting_checks_the_chair_and_secretary_roles(server, http):
    w = await build_world(server, http)
    base = server.url + "/api/v1"
    api = {name: Api(base, http, token=token) for name, token in w.tokens.items()}
    api["endpoint"] = Api(base, http, token=w.endpoint_tokens[0])
    acc = w.accounts
    status, off = await api["admin"].post(
        "/accounts",
        {
            "username": "chair_off",
            "full_name": "Nghỉ",
            "unit_id": w.province,
            "role": "chair",
            "password": USER_PASSWORD,
        },
    )
    assert status == 201
    status, _ = await api["admin"].patch(f"/accounts/{off['id']}", {"active": False})
    assert status == 200

    before = await db_snapshot(server)
    refused = [
        meeting_body(acc["delegate"]),  # the chair must be a chair or an admin
        meeting_body(acc["secretary"]),
        meeting_body(acc["observer"]),
        meeting_body(off["id"]),  # ...and active
        meeting_body(999_999),
        meeting_body(acc["chair"], acc["delegate"]),  # the secretary: secretary, chair or admin
        meeting_body(acc["chair"], acc["observer"]),
        meeting_body(acc["chair"], 999_999),
    ]
    for body in refused:
        status, error = await api["chair"].post("/meetings", body)
        assert_error(status, error, 422, "invalid_input")
    for who in ("delegate", "observer", "endpoint"):
        status, error = await api[who].post("/meetings", meeting_body(acc["chair"]))
        assert_error(status, error, 403, "forbidden")
    assert_same_db(before, await db_snapshot(server), "refused meetings")

    accepted = [
        ("chair", meeting_body(acc["chair"], acc["secretary"], description="Nội dung")),
        ("secretary", meeting_body(acc["chair"])),  # no secretary is fine
        ("admin", meeting_body(acc["admin"], acc["admin"])),
        ("chair", meeting_body(acc["chair"], acc["chair"])),  # a chair may take the minutes
    ]
    for who, body in accepted:
        status, meeting = await api[who].post("/meetings", body)
        assert status == 201, meeting
        assert meeting["state"] == "scheduled" and meeting["started_at"] is None
        assert meeting["chair_id"] == body["chair_id"]
        assert meeting["secretary_id"] == body.get("secretary_id")
        assert meeting["starts_at"] == "2026-11-24T01:00:00Z"  # stored and returned in UTC
        status, fetched = await api["chair" if who == "secretary" else who].get(
            f"/meetings/{meeting['id']}"
        )
        assert status == 200 and fetched == meeting

    # Changing hosts follows the same rules; the meeting's secretary may edit it.
    m = w.meeting_id
    status, error = await api["chair"].patch(f"/meetings/{m}", {"chair_id": acc["delegate"]})
    assert_error(status, error, 422, "invalid_input")
    status, error = await api["chair"].patch(f"/meetings/{m}", {"secretary_id": acc["observer"]})
    assert_error(status, error, 422, "invalid_input")
    status, patched = await api["secretary"].patch(f"/meetings/{m}", {"title": "Giao ban tháng 12"})
    assert status == 200 and patched["title"] == "Giao ban tháng 12"
    assert patched["chair_id"] == acc["chair"]


async def test_invitations_are_idempotent_and_atomic(server, http):
    w = await build_world(server, http)
    base = server.url + "/api/v1"
    chair = Api(base, http, token=w.tokens["chair"])
    secretary = Api(base, http, token=w.tokens["secretary"])
    delegate = Api(base, http, token=w.tokens["delegate"])
    m = w.meeting_id
    status, existing = await chair.get(f"/meetings/{m}/invitations")
    assert status == 200
    assert {
        (i["invitee_kind"], i["account_id"] or i["unit_id"] or i["endpoint_id"]) for i in existing
    } == {
        ("account", w.accounts["delegate"]),
        ("account", w.accounts["observer"]),
        ("unit", w.district),
    }

    # Inviting again returns the same invitations and adds none.
    same = [
        {"kind": "account", "id": w.accounts["delegate"]},
        {"kind": "account", "id": w.accounts["observer"]},
        {"kind": "unit", "id": w.district},
    ]
    before = await db_snapshot(server)
    status, again = await secretary.post(f"/meetings/{m}/invitations", {"invitees": same})
    assert status == 201
    assert [i["id"] for i in again] == [i["id"] for i in existing]
    assert_same_db(before, await db_snapshot(server), "inviting the same invitees again")

    # One new invitee named twice in one request: one invitation.
    twice = [{"kind": "endpoint", "id": w.endpoints[1]}, {"kind": "endpoint", "id": w.endpoints[1]}]
    status, added = await chair.post(f"/meetings/{m}/invitations", {"invitees": twice})
    assert status == 201 and added[0]["id"] == added[1]["id"]
    assert added[0]["endpoint_id"] == w.endpoints[1] and added[0]["meeting_id"] == m
    status, listed = await chair.get(f"/meetings/{m}/invitations")
    assert len(listed) == 4

    # A batch with one unknown invitee adds nothing at all.
    before = await db_snapshot(server)
    batch = [{"kind": "unit", "id": w.communes[0]}, {"kind": "endpoint", "id": 999_999}]
    status, error = await chair.post(f"/meetings/{m}/invitations", {"invitees": batch})
    assert_error(status, error, 422, "invalid_input")
    status, error = await delegate.post(f"/meetings/{m}/invitations", {"invitees": same[:1]})
    assert_error(status, error, 403, "forbidden")
    assert_same_db(before, await db_snapshot(server), "a refused invitation batch")

    # Withdrawing the delegate's invitation closes the meeting to the delegate.
    invitation = next(i for i in listed if i["account_id"] == w.accounts["delegate"])
    status, _ = await chair.delete(f"/meetings/{m}/invitations/{invitation['id']}")
    assert status == 204
    status, error = await chair.delete(f"/meetings/{m}/invitations/{invitation['id']}")
    assert_error(status, error, 404, "not_found")
    status, error = await delegate.get(f"/meetings/{m}")
    assert_error(status, error, 403, "forbidden")
    client = await sio_client(server, w.tokens["delegate"])
    try:
        assert_nack(await call(client, "join", {"meeting_id": m}), "forbidden")
    finally:
        await client.disconnect()
    # An invitation is removed only through its own meeting.
    status, other = await chair.post("/meetings", meeting_body(w.accounts["chair"]))
    assert status == 201
    observer_invitation = next(i for i in listed if i["account_id"] == w.accounts["observer"])
    status, error = await chair.delete(
        f"/meetings/{other['id']}/invitations/{observer_invitation['id']}"
    )
    assert_error(status, error, 404, "not_found")


async def test_my_meetings_follow_hosts_invitations_and_the_unit_tree(server, http):
    w = await build_world(server, http)
    base = server.url + "/api/v1"
    admin = Api(base, http, token=w.tokens["admin"])
    acc = w.accounts

    async def meeting(
        day: int, invitees: list[dict[str, Any]], secretary: int | None = None
    ) -> int:
        status, created = await admin.post(
            "/meetings",
            meeting_body(acc["admin"], secretary, starts_at=f"2026-12-{day:02d}T08:00:00Z"),
        )
        assert status == 201, created
        if invitees:
            status, _ = await admin.post(
                f"/meetings/{created['id']}/invitations", {"invitees": invitees}
            )
            assert status == 201
        return created["id"]

    a = w.meeting_id  # 2026-11-24; chair, secretary; delegate, observer and the district invited
    b = await meeting(2, [{"kind": "unit", "id": w.communes[1]}])
    c = await meeting(3, [{"kind": "endpoint", "id": w.endpoints[0]}])
    d = await meeting(4, [], secretary=acc["secretary"])
    e = await meeting(5, [{"kind": "unit", "id": w.province}])  # everything in the province
    f = await meeting(6, [])
    expected = {
        "admin": [f, e, d, c, b, a],  # all of them, newest first
        "chair": [e, a],
        "secretary": [e, d, a],
        "delegate": [e, a],
        "observer": [e, a],
        "endpoint0": [e, c, a],  # its commune is under the district and the province
        "endpoint1": [e, b, a],
    }
    status, exchanged = await Api(base, http).post("/auth/device", {"token": w.endpoint_tokens[1]})
    assert status == 200
    tokens = {**w.tokens, "endpoint0": w.endpoint_tokens[0], "endpoint1": exchanged["access_token"]}
    everything = [a, b, c, d, e, f]
    for who, want in expected.items():
        api = Api(base, http, token=tokens[who])
        status, mine = await api.get("/meetings")
        assert status == 200
        assert [x["id"] for x in mine] == want, who
        # "Mine" is exactly what one may open.
        for meeting_id in everything:
            status, _ = await api.get(f"/meetings/{meeting_id}")
            assert status == (200 if meeting_id in want else 403), (who, meeting_id)


async def test_start_and_end_follow_the_life_cycle_and_only_the_chair(server, http):
    w = await build_world(server, http)
    base = server.url + "/api/v1"
    api = {name: Api(base, http, token=token) for name, token in w.tokens.items()}
    api["endpoint"] = Api(base, http, token=w.endpoint_tokens[0])
    m = w.meeting_id
    listener = await sio_client(server, w.endpoint_tokens[1])
    events = Recorder()
    events.attach(listener)
    try:
        assert (await call(listener, "join", {"meeting_id": m}))["ok"]
        before = await db_snapshot(server)
        status, error = await api["chair"].post(f"/meetings/{m}/end")
        assert_error(status, error, 409, "conflict")
        for who in ("admin", "secretary", "delegate", "observer", "endpoint"):
            for step in ("start", "end"):
                status, error = await api[who].post(f"/meetings/{m}/{step}")
                assert_error(status, error, 403, "forbidden")
        assert_same_db(before, await db_snapshot(server), "refused starts and ends")

        status, _ = await api["chair"].patch(f"/meetings/{m}", {"description": "Chương trình"})
        assert status == 200
        await wait_for(lambda: events.named("meeting.updated"))
        assert events.named("meeting.updated")[0]["description"] == "Chương trình"

        status, live = await api["chair"].post(f"/meetings/{m}/start")
        assert status == 200 and live["state"] == "live" and live["started_at"]
        await wait_for(lambda: events.named("meeting.started"))
        assert events.named("meeting.started")[0]["state"] == "live"
        before = await db_snapshot(server)
        status, error = await api["chair"].post(f"/meetings/{m}/start")
        assert_error(status, error, 409, "conflict")
        assert_same_db(before, await db_snapshot(server), "starting a live meeting")

        status, ended = await api["chair"].post(f"/meetings/{m}/end")
        assert status == 200 and ended["state"] == "ended"
        assert ended["ended_at"] >= ended["started_at"] == live["started_at"]
        await wait_for(lambda: events.named("meeting.ended"))
        assert events.named("meeting.ended")[0]["state"] == "ended"

        before = await db_snapshot(server)
        for step in ("start", "end"):
            status, error = await api["chair"].post(f"/meetings/{m}/{step}")
            assert_error(status, error, 409, "conflict")
        status, error = await api["chair"].patch(f"/meetings/{m}", {"title": "Muộn"})
        assert_error(status, error, 409, "conflict")
        status, error = await api["chair"].post(
            f"/meetings/{m}/invitations", {"invitees": [{"kind": "unit", "id": w.communes[0]}]}
        )
        assert_error(status, error, 409, "conflict")
        assert_same_db(before, await db_snapshot(server), "changes to an ended meeting")
        assert_nack(await call(listener, "join", {"meeting_id": m}), "conflict")
        status, participants = await api["chair"].get(f"/meetings/{m}/participants")
        assert status == 200 and participants == []
        status, fetched = await api["delegate"].get(f"/meetings/{m}")
        assert status == 200 and fetched["state"] == "ended"  # still readable by its invitees
    finally:
        await listener.disconnect()


async def test_cancel_tells_the_room_and_closes_the_meeting(server, http):
    w = await build_world(server, http)
    base = server.url + "/api/v1"
    api = {name: Api(base, http, token=token) for name, token in w.tokens.items()}
    api["endpoint"] = Api(base, http, token=w.endpoint_tokens[0])
    m = w.meeting_id
    listener = await sio_client(server, w.endpoint_tokens[1])
    events = Recorder()
    events.attach(listener)
    try:
        assert (await call(listener, "join", {"meeting_id": m}))["ok"]
        before = await db_snapshot(server)
        for who in ("delegate", "observer", "endpoint"):  # invitees, not hosts
            status, error = await api[who].post(f"/meetings/{m}/cancel", {})
            assert_error(status, error, 403, "forbidden")
        status, error = await api["chair"].post(f"/meetings/{m}/cancel", {"reason": 7})
        assert status == 422
        assert_same_db(before, await db_snapshot(server), "refused cancellations")

        # The secretary hosts the meeting too and may cancel it.
        status, cancelled = await api["secretary"].post(
            f"/meetings/{m}/cancel", {"reason": "Hoãn vì bão số 9"}
        )
        assert status == 200, cancelled
        assert cancelled["state"] == "cancelled" and cancelled["cancelled_at"]
        assert cancelled["cancel_reason"] == "Hoãn vì bão số 9"
        assert cancelled["calendar_sequence"] == 1
        await wait_for(lambda: events.named("meeting.cancelled"))
        assert events.named("meeting.cancelled")[0]["state"] == "cancelled"

        before = await db_snapshot(server)
        for step in ("start", "end", "cancel"):
            status, error = await api["chair"].post(f"/meetings/{m}/{step}", {})
            assert_error(status, error, 409, "conflict")
        status, error = await api["chair"].patch(f"/meetings/{m}", {"title": "Họp lại"})
        assert_error(status, error, 409, "conflict")
        assert_same_db(before, await db_snapshot(server), "changes to a cancelled meeting")
        assert_nack(await call(listener, "join", {"meeting_id": m}), "conflict")
        status, participants = await api["chair"].get(f"/meetings/{m}/participants")
        assert status == 200 and participants == []  # the room was closed
        status, fetched = await api["delegate"].get(f"/meetings/{m}")
        assert status == 200 and fetched == cancelled  # still readable by its invitees
    finally:
        await listener.disconnect()


async def test_openapi_document_is_valid_and_lists_every_route_with_its_permission(server, http):
    status, doc = await Api(server.url, http).get("/api/v1/openapi.json")  # public
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    validate(doc, cls=OpenAPIV31SpecValidator)

    listed = {(path, method) for path, item in doc["paths"].items() for method in item}
    registered = {(API.prefix + s.path, s.method.lower()) for s in API.routes}
    assert listed == registered
    operation_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))

    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "phonghop_session"}
    for spec in API.routes:
        op = doc["paths"][API.prefix + spec.path][spec.method.lower()]
        where = f"{spec.method} {spec.path}"
        if spec.action is None:
            assert op["security"] == [] and "x-permission" not in op, where
        else:
            rule = PERMISSIONS[spec.action]
            assert op["x-permission"] == spec.action.value, where
            assert op["x-allowed"] == {
                "roles": sorted(r.value for r in rule.roles),
                "meeting_relations": sorted(r.value for r in rule.relations),
                "endpoints": rule.endpoints,
            }, where
            assert {"bearerAuth": []} in op["security"] and {"cookieAuth": []} in op["security"]
        params = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert params == set(spec.path_params), where
        assert ("requestBody" in op) == (spec.body is not None or spec.form is not None), where
        answers = spec.response is not None or spec.produces is not None  # see test_openapi.py
        assert str(spec.status if answers else 204) in op["responses"], where
        for code in ("401", "403", "422"):
            assert op["responses"][code]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }

    # Every reference resolves, and request bodies refuse unknown fields as the server does.
    schemas = doc["components"]["schemas"]

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref
    for spec in API.routes:
        if spec.body is not None:
            assert schemas[spec.body.__name__].get("additionalProperties") is False, spec.body
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    assert login["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LoginResponse"
    }
