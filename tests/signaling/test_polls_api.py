"""Attendance and voting over REST and socket.io, with real clients on a real server."""

from typing import Any

from tests.harness import USER_PASSWORD, Api, build_world, login_token, sio_client, wait_for
from tests.signaling.helpers_authz import (
    Recorder,
    assert_error,
    assert_nack,
    assert_same_db,
    call,
    db_snapshot,
)


async def _setup(server, http):
    """The world's meeting, live; clients for every role and the first endpoint."""
    w = await build_world(server, http)
    base = server.url + "/api/v1"
    api = {name: Api(base, http, token=token) for name, token in w.tokens.items()}
    api["endpoint"] = Api(base, http, token=w.endpoint_tokens[0])
    status, body = await api["chair"].post(f"/meetings/{w.meeting_id}/start")
    assert status == 200, body
    return w, api


async def _joined(server, token: str, meeting_id: int):
    client = await sio_client(server, token)
    recorder = Recorder()
    recorder.attach(client)
    ack = await call(client, "join", {"meeting_id": meeting_id})
    assert ack["ok"], ack
    return client, recorder


async def test_attendance_check_in_and_live_quorum(server, http):
    w, api = await _setup(server, http)
    m = w.meeting_id
    watcher, seen = await _joined(server, w.tokens["observer"], m)
    delegate, _ = await _joined(server, w.tokens["delegate"], m)
    try:
        status, sheet = await api["observer"].get(f"/meetings/{m}/attendance")
        assert status == 200, sheet
        # Members: the chair and the delegate (the observer and secretary never count).
        assert sorted(a["account_id"] for a in sheet["attendees"] if a["member"]) == sorted(
            [w.accounts["chair"], w.accounts["delegate"]]
        )
        assert sheet["quorum"] == {
            "rule": "two_thirds",
            "members": 2,
            "present": 0,
            "excused": 0,
            "required": 2,
            "met": False,
        }
        status, body = await api["chair"].post(
            f"/meetings/{m}/attendance/check-in", {"mode": "in_person"}
        )
        assert status == 200, body
        assert body["records"][0]["mode"] == "in_person" and body["quorum"]["present"] == 1
        ack = await call(delegate, "attendance.check_in", {"meeting_id": m, "mode": "online"})
        assert ack["ok"], ack
        assert ack["quorum"]["met"] is True
        # The room hears about it (coalesced): the latest quorum is met.
        await wait_for(lambda: any(e["quorum"]["met"] for e in seen.named("attendance.changed")))
        keys = {r["attendee_key"] for e in seen.named("attendance.changed") for r in e["records"]}
        assert f"account:{w.accounts['delegate']}" in keys

        # The endpoint checks itself in; it cannot check in an account of another unit.
        status, body = await api["endpoint"].post(f"/meetings/{m}/attendance/check-in", {})
        assert status == 200, body
        before = await db_snapshot(server)
        status, body = await api["endpoint"].post(
            f"/meetings/{m}/attendance/check-in", {"account_ids": [w.accounts["delegate"]]}
        )
        assert_error(status, body, 422, "invalid_input")
        # Excused needs a reason; delegates record nobody; bad input is refused.
        path = f"/meetings/{m}/attendance/accounts/{w.accounts['delegate']}"
        status, body = await api["secretary"].request("PUT", path, json={"state": "excused"})
        assert_error(status, body, 422, "invalid_input")
        status, body = await api["delegate"].request("PUT", path, json={"state": "absent"})
        assert_error(status, body, 403, "forbidden")
        status, body = await api["secretary"].request("PUT", path, json={"state": "asleep"})
        assert_error(status, body, 422, "validation_error")
        status, body = await api["chair"].request(
            "PUT", f"/meetings/{m}/quorum", json={"rule": "everyone"}
        )
        assert_error(status, body, 422, "validation_error")
        ack = await call(delegate, "attendance.check_in", {"meeting_id": m, "mode": "flying"})
        assert_nack(ack, "invalid_payload")
        assert_same_db(before, await db_snapshot(server), "refused attendance changes")

        status, body = await api["secretary"].request(
            "PUT", path, json={"state": "excused", "reason": "Ốm, có giấy của bệnh viện"}
        )
        assert status == 200 and body["state"] == "excused", body
        status, body = await api["chair"].request(
            "PUT", f"/meetings/{m}/quorum", json={"rule": "majority"}
        )
        assert status == 200, body
        assert (body["rule"], body["present"], body["excused"], body["met"]) == (
            "majority",
            1,
            1,
            False,
        )
        status, body = await api["observer"].get(f"/meetings/{m}/quorum")
        assert status == 200 and body["rule"] == "majority"
    finally:
        await watcher.disconnect()
        await delegate.disconnect()


def _poll_body(**extra: Any) -> dict[str, Any]:
    return {"title": "Thông qua chương trình công tác năm 2027", "kind": "yes_no_abstain", **extra}


async def test_a_secret_poll_over_rest_and_socket(server, http):
    w, api = await _setup(server, http)
    m = w.meeting_id
    watcher, seen = await _joined(server, w.tokens["observer"], m)
    delegate, _ = await _joined(server, w.tokens["delegate"], m)
    device, _ = await _joined(server, w.endpoint_tokens[0], m)
    try:
        for who in ("chair", "delegate"):
            status, body = await api[who].post(f"/meetings/{m}/attendance/check-in", {})
            assert status == 200, body
        # Delegates neither prepare nor conduct polls; the secretary prepares, the chair opens.
        status, body = await api["delegate"].post(f"/meetings/{m}/polls", _poll_body(secret=True))
        assert_error(status, body, 403, "forbidden")
        status, poll = await api["secretary"].post(
            f"/meetings/{m}/polls", _poll_body(secret=True, majority="all_members")
        )
        assert status == 201, poll
        pid = poll["id"]
        status, listed = await api["delegate"].get(f"/meetings/{m}/polls")
        assert status == 200 and listed == []  # a draft is not shown to delegates
        status, body = await api["delegate"].get(f"/meetings/{m}/polls/{pid}")
        assert_error(status, body, 404, "not_found")
        for who in ("delegate", "secretary", "observer"):
            status, body = await api[who].post(f"/meetings/{m}/polls/{pid}/open")
            assert_error(status, body, 403, "forbidden")
        status, opened = await api["chair"].post(f"/meetings/{m}/polls/{pid}/open")
        assert status == 200, opened
        assert (opened["state"], opened["present_count"], opened["quorum_met"]) == ("open", 2, True)
        await wait_for(lambda: seen.named("poll.opened"))
        assert seen.named("poll.opened")[0]["poll"]["id"] == pid
        yes, no, _ = (o["id"] for o in opened["options"])

        ack = await call(delegate, "vote.cast", {"meeting_id": m, "poll_id": pid, "choices": [yes]})
        assert ack == {"ok": True, "poll_id": pid, "changed": False}
        before = await db_snapshot(server)
        ack = await call(delegate, "vote.cast", {"meeting_id": m, "poll_id": pid, "choices": [no]})
        assert_nack(ack, "already_voted")
        ack = await call(device, "vote.cast", {"meeting_id": m, "poll_id": pid, "choices": [no]})
        assert_nack(ack, "not_eligible")
        ack = await call(delegate, "vote.cast", {"meeting_id": m, "poll_id": pid, "choices": "yes"})
        assert_nack(ack, "invalid_payload")
        status, body = await api["observer"].post(
            f"/meetings/{m}/polls/{pid}/votes", {"choices": [no]}
        )
        assert_error(status, body, 409, "not_eligible")
        status, body = await api["secretary"].post(
            f"/meetings/{m}/polls/{pid}/votes", {"choices": [no]}
        )
        assert_error(status, body, 403, "forbidden")
        status, body = await api["chair"].post(
            f"/meetings/{m}/polls/{pid}/votes", {"choices": [yes, no]}
        )
        assert_error(status, body, 422, "invalid_input")
        status, body = await api["chair"].post(
            f"/meetings/{m}/polls/{pid}/votes",
            data=b"{",
            headers={"Content-Type": "application/json"},
        )
        assert_error(status, body, 400, "malformed_json")
        assert_same_db(before, await db_snapshot(server), "refused ballots")

        status, body = await api["chair"].post(
            f"/meetings/{m}/polls/{pid}/votes", {"choices": [no]}
        )
        assert status == 201 and body == {"poll_id": pid, "changed": False}, body

        # Live counts: the number of ballots only, never per option, while it is secret.
        await wait_for(lambda: any(e["ballots"] == 2 for e in seen.named("poll.counts")))
        assert all(
            set(e) == {"meeting_id", "poll_id", "ballots", "eligible"}
            for e in seen.named("poll.counts")
        )
        status, view = await api["delegate"].get(f"/meetings/{m}/polls/{pid}")
        assert status == 200 and view["has_voted"] is True and view["ballot_count"] == 2
        assert [o["votes"] for o in view["options"]] == [None, None, None]
        status, voters = await api["observer"].get(f"/meetings/{m}/polls/{pid}/voters")
        assert status == 200 and all(v["has_voted"] for v in voters) and len(voters) == 2
        status, body = await api["chair"].get(f"/meetings/{m}/polls/{pid}/ballots")
        assert_error(status, body, 409, "conflict")

        status, body = await api["delegate"].post(f"/meetings/{m}/polls/{pid}/close")
        assert_error(status, body, 403, "forbidden")
        status, closed = await api["chair"].post(f"/meetings/{m}/polls/{pid}/close")
        assert status == 200, closed
        # 1 yes of 2 members: "more than half of all members" needs 2.
        assert (closed["outcome"], closed["result"]["required"]) == ("failed", 2)
        assert [o["votes"] for o in closed["options"]] == [1, 1, 0]
        await wait_for(lambda: seen.named("poll.closed"))
        assert seen.named("poll.closed")[0]["poll"]["outcome"] == "failed"
        ack = await call(delegate, "vote.cast", {"meeting_id": m, "poll_id": pid, "choices": [yes]})
        assert_nack(ack, "poll_not_open")
        # Nothing in any answer or event tied a voter to a choice.
        for event, data in seen.events:
            if event.startswith("poll."):
                text = str(data)
                assert f"account:{w.accounts['delegate']}" not in text
    finally:
        for client in (watcher, delegate, device):
            await client.disconnect()


async def test_a_named_poll_with_change_and_ballots(server, http):
    w, api = await _setup(server, http)
    m = w.meeting_id
    for who in ("chair", "delegate"):
        await api[who].post(f"/meetings/{m}/attendance/check-in", {})
    status, poll = await api["chair"].post(
        f"/meetings/{m}/polls",
        {
            "title": "Chọn địa điểm tổ chức hội nghị",
            "kind": "multiple",
            "options": ["Hạ Long", "Cẩm Phả", "Uông Bí"],
            "min_choices": 1,
            "max_choices": 2,
            "allow_change": True,
        },
    )
    assert status == 201, poll
    pid = poll["id"]
    ids = [o["id"] for o in poll["options"]]
    status, _ = await api["chair"].post(f"/meetings/{m}/polls/{pid}/open")
    assert status == 200
    status, body = await api["delegate"].post(
        f"/meetings/{m}/polls/{pid}/votes", {"choices": ids[:2]}
    )
    assert status == 201 and body["changed"] is False
    status, body = await api["delegate"].post(
        f"/meetings/{m}/polls/{pid}/votes", {"choices": [ids[2]]}
    )
    assert status == 201 and body["changed"] is True
    status, view = await api["observer"].get(f"/meetings/{m}/polls/{pid}")
    assert [o["votes"] for o in view["options"]] == [0, 0, 1] and view["ballot_count"] == 1
    status, ballots = await api["observer"].get(f"/meetings/{m}/polls/{pid}/ballots")
    assert status == 200 and ballots == [
        {"account_id": w.accounts["delegate"], "choices": [ids[2]]}
    ]


async def test_members_of_another_meeting_see_nothing(server, http):
    w, api = await _setup(server, http)
    m = w.meeting_id
    await api["chair"].post(f"/meetings/{m}/attendance/check-in", {})
    status, poll = await api["chair"].post(f"/meetings/{m}/polls", _poll_body())
    status, _ = await api["chair"].post(f"/meetings/{m}/polls/{poll['id']}/open")
    assert status == 200
    # A chair of another province with a meeting of their own.
    status, stranger = await api["admin"].post(
        "/accounts",
        {
            "username": "chutich_ls",
            "full_name": "Chủ tịch Lạng Sơn",
            "unit_id": w.province,
            "role": "chair",
            "password": USER_PASSWORD,
        },
    )
    assert status == 201, stranger
    other = Api(
        api["admin"].base, http, token=await login_token(server, "chutich_ls", USER_PASSWORD)
    )
    status, mine = await other.post(
        "/meetings",
        {
            "title": "Họp riêng",
            "starts_at": "2026-11-25T08:00:00+07:00",
            "chair_id": stranger["id"],
        },
    )
    assert status == 201, mine
    pid = poll["id"]
    for path in (
        f"/meetings/{m}/polls",
        f"/meetings/{m}/polls/{pid}",
        f"/meetings/{m}/polls/{pid}/voters",
        f"/meetings/{m}/attendance",
        f"/meetings/{m}/quorum",
    ):
        status, body = await other.get(path)
        assert_error(status, body, 403, "forbidden")
    status, body = await other.post(f"/meetings/{m}/polls/{pid}/votes", {"choices": [1]})
    assert_error(status, body, 403, "forbidden")
    # Through their own meeting the poll does not exist.
    status, body = await other.get(f"/meetings/{mine['id']}/polls/{pid}")
    assert_error(status, body, 404, "not_found")
    client = await sio_client(server, other.token)
    try:
        ack = await call(client, "vote.cast", {"meeting_id": m, "poll_id": pid, "choices": [1]})
        assert_nack(ack, "forbidden")
        ack = await call(client, "join", {"meeting_id": m})
        assert_nack(ack, "forbidden")
    finally:
        await client.disconnect()
