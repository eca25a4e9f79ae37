"""Agenda, speakers, conclusions and the audit log over REST and socket.io, on a real server.

Real HTTP and socket.io clients against a server on a real port (SQLite and PostgreSQL);
the spotlight test runs real aiortc endpoints against the SFU (SQLite only, like the other
media tests).
"""

from typing import Any

from sqlalchemy import text

from tests.harness import Api, Server, World, sio_client, wait_for
from tests.media.peers import Endpoint
from tests.signaling.helpers_authz import (
    Recorder,
    assert_error,
    assert_nack,
    assert_same_db,
    call,
    db_snapshot,
)
from tests.signaling.test_media_signaling import SfuClient

JSON = {"Content-Type": "application/json"}


def _clients(server: Server, http, w: World) -> dict[str, Api]:
    base = server.url + "/api/v1"
    clients = {name: Api(base, http, token=token) for name, token in w.tokens.items()}
    clients["endpoint"] = Api(base, http, token=w.endpoint_tokens[0])
    return clients


async def _other_meeting(api: dict[str, Api], w: World) -> int:
    """A meeting of the same chair to which the delegate and the endpoints are not invited."""
    status, meeting = await api["chair"].post(
        "/meetings",
        {
            "title": "Họp chuyên đề đầu tư công",
            "starts_at": "2026-11-25T08:00:00+07:00",
            "chair_id": w.accounts["chair"],
            "secretary_id": w.accounts["secretary"],
        },
    )
    assert status == 201, meeting
    return meeting["id"]


async def _joined(server: Server, token: str, meeting_id: int) -> tuple[Any, Recorder]:
    client, rec = await sio_client(server, token), Recorder()
    rec.attach(client)
    ack = await call(client, "join", {"meeting_id": meeting_id})
    assert ack["ok"], ack
    return client, rec


async def test_agenda_over_rest_with_room_events(server, http, world):
    w, api = world, _clients(server, http, world)
    m = f"/meetings/{w.meeting_id}"
    listener, rec = await _joined(server, w.tokens["delegate"], w.meeting_id)
    try:
        status, one = await api["secretary"].post(
            f"{m}/agenda",
            {
                "title": "Báo cáo kinh tế - xã hội",
                "presenter_id": w.accounts["delegate"],
                "minutes_budget": 30,
            },
        )
        assert status == 201, one
        assert (one["position"], one["state"], one["minutes_budget"]) == (0, "pending", 30)
        status, two = await api["chair"].post(
            f"{m}/agenda", {"title": "Tờ trình ngân sách", "presenter_name": "Sở Tài chính"}
        )
        assert status == 201, two
        status, sub = await api["secretary"].post(
            f"{m}/agenda", {"title": "Thảo luận tổ", "parent_id": one["id"]}
        )
        assert status == 201, sub
        status, items = await api["chair"].post(
            f"{m}/agenda/reorder", {"parent_id": None, "item_ids": [two["id"], one["id"]]}
        )
        assert status == 200, items
        assert [i["id"] for i in items] == [two["id"], one["id"], sub["id"]]
        status, patched = await api["secretary"].patch(
            f"{m}/agenda/{one['id']}", {"minutes_budget": None, "title": "Báo cáo KT-XH"}
        )
        assert status == 200 and patched["minutes_budget"] is None, patched
        # Members read; the room saw each edit.
        for who in ("delegate", "observer", "endpoint", "admin"):
            status, items = await api[who].get(f"{m}/agenda")
            assert status == 200 and [i["title"] for i in items] == [
                "Tờ trình ngân sách",
                "Báo cáo KT-XH",
                "Thảo luận tổ",
            ], (who, items)
        await wait_for(lambda: len(rec.named("agenda.changed")) == 5)
        assert rec.named("agenda.changed")[-1]["items"][1]["title"] == "Báo cáo KT-XH"

        # Moving the current item needs a live meeting and the chair.
        status, body = await api["chair"].post(f"{m}/agenda/next")
        assert_error(status, body, 409, "conflict")
        assert (await api["chair"].post(f"{m}/start"))[0] == 200
        for who in ("secretary", "delegate", "endpoint", "admin"):
            status, body = await api[who].post(f"{m}/agenda/next")
            assert_error(status, body, 403, "forbidden")
        status, moved = await api["chair"].post(f"{m}/agenda/next")
        assert status == 200 and moved["previous"] is None, moved
        assert moved["current"]["id"] == two["id"] and moved["current"]["started_at"]
        status, moved = await api["chair"].post(f"{m}/agenda/current", {"item_id": sub["id"]})
        assert status == 200, moved
        assert moved["previous"]["state"] == "done" and moved["current"]["id"] == sub["id"]
        await wait_for(lambda: len(rec.named("agenda.current")) == 2)
        event = rec.named("agenda.current")[-1]
        assert event["meeting_id"] == w.meeting_id
        assert (event["previous"]["id"], event["current"]["id"]) == (two["id"], sub["id"])
    finally:
        await listener.disconnect()


async def test_agenda_refusals_change_nothing(server, http, world):
    w, api = world, _clients(server, http, world)
    m = f"/meetings/{w.meeting_id}"
    other = await _other_meeting(api, w)
    _, top = await api["chair"].post(f"{m}/agenda", {"title": "Mục 1"})
    _, sub = await api["chair"].post(f"{m}/agenda", {"title": "Mục 1.1", "parent_id": top["id"]})
    _, foreign = await api["chair"].post(f"/meetings/{other}/agenda", {"title": "Mục phiên khác"})
    assert (await api["chair"].post(f"{m}/start"))[0] == 200
    _, _ = await api["chair"].post(f"{m}/agenda/current", {"item_id": top["id"]})
    before = await db_snapshot(server)
    bad: list[tuple[str, str, Any, int, str]] = [
        ("POST", f"{m}/agenda", {"title": ""}, 422, "validation_error"),
        ("POST", f"{m}/agenda", {"title": "X", "minutes_budget": 0}, 422, "validation_error"),
        ("POST", f"{m}/agenda", {"title": "X", "colour": "đỏ"}, 422, "validation_error"),
        ("POST", f"{m}/agenda", {"title": "X", "parent_id": foreign["id"]}, 422, "invalid_input"),
        ("PATCH", f"{m}/agenda/{top['id']}", {"parent_id": sub["id"]}, 422, "invalid_input"),
        ("PATCH", f"{m}/agenda/{top['id']}", {"parent_id": top["id"]}, 422, "invalid_input"),
        ("PATCH", f"{m}/agenda/{top['id']}", {"title": None}, 422, "validation_error"),
        ("PATCH", f"{m}/agenda/{foreign['id']}", {"title": "Chiếm"}, 404, "not_found"),
        ("PATCH", f"{m}/agenda/999999", {"title": "Không có"}, 404, "not_found"),
        ("DELETE", f"{m}/agenda/{top['id']}", None, 409, "conflict"),  # started
        ("DELETE", f"{m}/agenda/{foreign['id']}", None, 404, "not_found"),
        ("POST", f"{m}/agenda/reorder", {"item_ids": [top["id"], top["id"]]}, 422, "invalid_input"),
        ("POST", f"{m}/agenda/reorder", {"item_ids": ["một"]}, 422, "validation_error"),
        ("POST", f"{m}/agenda/current", {"item_id": top["id"]}, 409, "conflict"),  # current
        ("POST", f"{m}/agenda/current", {"item_id": foreign["id"]}, 404, "not_found"),
        ("POST", f"{m}/agenda/current", {}, 422, "validation_error"),
    ]
    for method, path, body, status_wanted, code in bad:
        status, error = await api["chair"].request(method, path, json=body)
        assert_error(status, error, status_wanted, code)
    status, error = await api["chair"].request(
        "POST", f"{m}/agenda", data=b'{"title": ', headers=JSON
    )
    assert_error(status, error, 400, "malformed_json")
    # Delegates and endpoints cannot edit; members of other meetings see nothing.
    for who in ("delegate", "observer", "endpoint"):
        status, error = await api[who].post(f"{m}/agenda", {"title": "Của đại biểu"})
        assert_error(status, error, 403, "forbidden")
        status, error = await api[who].get(f"/meetings/{other}/agenda")
        assert_error(status, error, 403, "forbidden")
    status, error = await api["delegate"].delete(f"{m}/agenda/{sub['id']}")
    assert_error(status, error, 403, "forbidden")
    assert_same_db(before, await db_snapshot(server), "refused agenda requests")


async def test_speakers_over_socketio_and_rest(server, http, world):
    w, api = world, _clients(server, http, world)
    m = f"/meetings/{w.meeting_id}"
    assert (await api["chair"].post(f"{m}/start"))[0] == 200
    _, item = await api["chair"].post(
        f"{m}/agenda", {"title": "Nông thôn mới", "minutes_budget": 20}
    )
    await api["chair"].post(f"{m}/agenda/current", {"item_id": item["id"]})
    chair, chair_rec = await _joined(server, w.tokens["chair"], w.meeting_id)
    delegate, delegate_rec = await _joined(server, w.tokens["delegate"], w.meeting_id)
    commune, _ = await _joined(server, w.endpoint_tokens[0], w.meeting_id)
    try:
        ack = await call(
            delegate, "speaker.request", {"meeting_id": w.meeting_id, "topic": "Đường giao thông"}
        )
        assert ack["ok"], ack
        mine = ack["request"]
        assert mine["agenda_item_id"] == item["id"] and mine["item_minutes_budget"] == 20
        ack = await call(delegate, "speaker.request", {"meeting_id": w.meeting_id})
        assert_nack(ack, "conflict")  # one open request per person
        status, theirs = await api["endpoint"].post(f"{m}/speakers", {"topic": "Thủy lợi xã"})
        assert status == 201, theirs
        ack = await call(commune, "speaker.list", {"meeting_id": w.meeting_id})
        assert [r["id"] for r in ack["speakers"]["waiting"]] == [mine["id"], theirs["id"]]
        # The room hears of it (changes in a burst are coalesced: the last event is the list).
        await wait_for(
            lambda: (
                chair_rec.named("speakers.changed")
                and [r["id"] for r in chair_rec.named("speakers.changed")[-1]["waiting"]]
                == [mine["id"], theirs["id"]]
            )
        )

        # Delegates cannot order, grant or end; the chair can.
        for event, extra in (
            ("speaker.grant", {"request_id": mine["id"]}),
            ("speaker.end", {}),
            ("speaker.reorder", {"request_ids": [theirs["id"], mine["id"]]}),
        ):
            assert_nack(
                await call(delegate, event, {"meeting_id": w.meeting_id, **extra}), "forbidden"
            )
        status, error = await api["delegate"].post(f"{m}/speakers/{mine['id']}/grant")
        assert_error(status, error, 403, "forbidden")
        ack = await call(
            chair,
            "speaker.reorder",
            {"meeting_id": w.meeting_id, "request_ids": [theirs["id"], mine["id"]]},
        )
        assert ack["ok"] and [r["id"] for r in ack["speakers"]["waiting"]] == [
            theirs["id"],
            mine["id"],
        ]
        ack = await call(
            chair, "speaker.grant", {"meeting_id": w.meeting_id, "request_id": theirs["id"]}
        )
        assert ack["ok"], ack
        assert ack["speakers"]["speaking"]["id"] == theirs["id"]
        # Granting the next request ends the current speech.
        status, listing = await api["chair"].post(f"{m}/speakers/{mine['id']}/grant")
        assert status == 200, listing
        assert listing["speaking"]["id"] == mine["id"]
        assert [r["id"] for r in listing["finished"]] == [theirs["id"]]
        assert listing["finished"][0]["seconds_spoken"] >= 0
        await wait_for(lambda: len(delegate_rec.named("media.unmute")) == 1)
        assert delegate_rec.named("media.unmute")[0]["request_id"] == mine["id"]
        status, listing = await api["chair"].post(f"{m}/speakers/end")
        assert status == 200 and listing["speaking"] is None, listing
        await wait_for(
            lambda: (
                delegate_rec.named("speakers.changed")
                and delegate_rec.named("speakers.changed")[-1]["speaking"] is None
                and len(delegate_rec.named("speakers.changed")[-1]["finished"]) == 2
            )
        )
        # Ask again, then withdraw (socket.io) / the chair removes (REST).
        assert (await call(delegate, "speaker.request", {"meeting_id": w.meeting_id}))["ok"]
        ack = await call(delegate, "speaker.withdraw", {"meeting_id": w.meeting_id})
        assert ack["ok"] and ack["request"]["state"] == "withdrawn", ack
        status, again = await api["endpoint"].post(f"{m}/speakers", {})
        assert status == 201
        assert (await api["chair"].delete(f"{m}/speakers/{again['id']}"))[0] == 204
        status, listing = await api["observer"].get(f"{m}/speakers")
        assert (
            status == 200
            and listing["waiting"] == []
            and listing["current_item"]["id"] == item["id"]
        )
    finally:
        for client in (chair, delegate, commune):
            await client.disconnect()


async def test_speaker_refusals_change_nothing(server, http, world):
    w, api = world, _clients(server, http, world)
    m = f"/meetings/{w.meeting_id}"
    other = await _other_meeting(api, w)
    chair, _ = await _joined(server, w.tokens["chair"], w.meeting_id)
    delegate, _ = await _joined(server, w.tokens["delegate"], w.meeting_id)
    try:
        status, mine = await api["delegate"].post(f"{m}/speakers", {"topic": "Y tế"})
        assert status == 201
        status, elsewhere = await api["chair"].post(f"/meetings/{other}/speakers", {})
        assert status == 201
        assert (await api["chair"].post(f"{m}/start"))[0] == 200
        before = await db_snapshot(server)
        # The other meeting is not live: nobody can be given the floor there.
        status, error = await api["chair"].post(
            f"/meetings/{other}/speakers/{elsewhere['id']}/grant"
        )
        assert_error(status, error, 409, "conflict")
        bad_payloads = [
            ("speaker.grant", {"meeting_id": w.meeting_id}),
            ("speaker.grant", {"meeting_id": w.meeting_id, "request_id": "1"}),
            ("speaker.reorder", {"meeting_id": w.meeting_id, "request_ids": "tất cả"}),
            ("speaker.request", {"meeting_id": w.meeting_id, "topic": "x" * 501}),
            ("speaker.request", {"meeting_id": w.meeting_id, "extra": True}),
            ("speaker.request", ["không", "phải", "đối tượng"]),
        ]
        for event, payload in bad_payloads:
            assert_nack(await call(chair, event, payload), "invalid_payload")
        assert_nack(
            await call(
                chair, "speaker.grant", {"meeting_id": w.meeting_id, "request_id": elsewhere["id"]}
            ),
            "not_found",
        )
        assert_nack(
            await call(
                chair,
                "speaker.reorder",
                {"meeting_id": w.meeting_id, "request_ids": [mine["id"], elsewhere["id"]]},
            ),
            "invalid_input",
        )
        assert_nack(await call(delegate, "speaker.request", {"meeting_id": other}), "forbidden")
        assert_nack(
            await call(
                delegate, "speaker.request", {"meeting_id": w.meeting_id, "agenda_item_id": 999_999}
            ),
            "invalid_input",
        )
        assert_nack(
            await call(chair, "speaker.withdraw", {"meeting_id": w.meeting_id}), "not_found"
        )
        status, error = await api["delegate"].get(f"/meetings/{other}/speakers")
        assert_error(status, error, 403, "forbidden")
        status, error = await api["admin"].post(f"{m}/speakers", {})  # not a member
        assert_error(status, error, 403, "forbidden")
        status, error = await api["chair"].post(f"{m}/speakers/end")  # nobody speaks
        assert_error(status, error, 409, "conflict")
        status, error = await api["chair"].request(
            "POST", f"{m}/speakers/reorder", data=b"[", headers=JSON
        )
        assert_error(status, error, 400, "malformed_json")
        assert_same_db(before, await db_snapshot(server), "refused speaker requests")
    finally:
        await chair.disconnect()
        await delegate.disconnect()


async def test_conclusions_over_rest(server, http, world):
    w, api = world, _clients(server, http, world)
    m = f"/meetings/{w.meeting_id}"
    other = await _other_meeting(api, w)
    _, item = await api["chair"].post(f"{m}/agenda", {"title": "Phòng chống thiên tai"})
    _, foreign = await api["chair"].post(f"/meetings/{other}/agenda", {"title": "Khác"})
    listener, rec = await _joined(server, w.endpoint_tokens[0], w.meeting_id)
    try:
        body = {
            "agenda_item_id": item["id"],
            "content": "Giao UBND huyện Ba Chẽ hoàn thành phương án trước mùa mưa bão.",
            "assignee_unit_id": w.district,
            "deadline": "2027-03-31",
        }
        status, made = await api["secretary"].post(f"{m}/conclusions", body)
        assert status == 201, made
        assert made["deadline"] == "2027-03-31" and made["assignee_unit_id"] == w.district
        status, patched = await api["chair"].patch(
            f"{m}/conclusions/{made['id']}", {"deadline": None}
        )
        assert status == 200 and patched["deadline"] is None, patched
        for who in ("delegate", "endpoint", "observer", "admin"):
            status, found = await api[who].get(f"{m}/conclusions?agenda_item_id={item['id']}")
            assert status == 200 and [c["id"] for c in found] == [made["id"]], (who, found)
        await wait_for(lambda: len(rec.named("conclusions.changed")) == 2)
        assert [e["change"] for e in rec.named("conclusions.changed")] == ["created", "updated"]

        before = await db_snapshot(server)
        for who in ("delegate", "endpoint", "observer", "admin"):
            status, error = await api[who].post(f"{m}/conclusions", body)
            assert_error(status, error, 403, "forbidden")
        refused = [
            ("POST", f"{m}/conclusions", {**body, "agenda_item_id": foreign["id"]}, 422),
            ("POST", f"{m}/conclusions", {**body, "content": "  "}, 422),
            ("POST", f"{m}/conclusions", {**body, "deadline": "31/03/2027"}, 422),
            (
                "POST",
                f"{m}/conclusions",
                {**body, "assignee_account_id": w.accounts["delegate"]},
                422,
            ),
            ("PATCH", f"{m}/conclusions/{made['id']}", {"content": None}, 422),
            ("PATCH", f"{m}/conclusions/999999", {"content": "Sửa"}, 404),
            ("DELETE", f"/meetings/{other}/conclusions/{made['id']}", None, 404),
        ]
        for method, path, payload, wanted in refused:
            status, error = await api["secretary"].request(method, path, json=payload)
            assert_error(status, error, wanted)
        assert_same_db(before, await db_snapshot(server), "refused conclusions")
        assert (await api["secretary"].delete(f"{m}/conclusions/{made['id']}"))[0] == 204
        await wait_for(lambda: len(rec.named("conclusions.changed")) == 3)
        assert rec.named("conclusions.changed")[-1]["conclusion"]["id"] == made["id"]
    finally:
        await listener.disconnect()


async def test_audit_log_pages_and_verification(server, http, world):
    w, api = world, _clients(server, http, world)
    m = f"/meetings/{w.meeting_id}"
    for n in range(5):
        status, _ = await api["secretary"].post(f"{m}/agenda", {"title": f"Mục {n + 1}"})
        assert status == 201
    status, page = await api["secretary"].get(f"{m}/audit?limit=3")
    assert status == 200, page
    assert page["chain"] == f"meeting:{w.meeting_id}"
    seqs = [e["seq"] for e in page["entries"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 3
    newest = page["entries"][0]
    assert newest["action"] == "agenda_item.created" and newest["after"]["title"] == "Mục 5"
    assert newest["actor"] == f"account:{w.accounts['secretary']}"
    assert page["entries"][1]["hash"] == newest["prev_hash"]
    collected = list(page["entries"])
    while page["next_before"] is not None:
        status, page = await api["chair"].get(f"{m}/audit?limit=3&before={page['next_before']}")
        assert status == 200
        collected += page["entries"]
    assert [e["seq"] for e in collected] == list(range(len(collected), 0, -1))
    for who in ("delegate", "observer", "endpoint"):
        status, error = await api[who].get(f"{m}/audit")
        assert_error(status, error, 403, "forbidden")
    status, error = await api["chair"].get(f"{m}/audit?limit=0")
    assert_error(status, error, 422, "validation_error")

    for who in ("chair", "secretary", "delegate", "endpoint"):
        status, error = await api[who].get("/audit/verify")
        assert_error(status, error, 403, "forbidden")
    status, report = await api["admin"].get("/audit/verify")
    assert status == 200 and report["ok"], report
    # Rewrite history behind the application's back: verification must notice.
    async with server.state.transaction() as session:
        await session.exec(
            text("UPDATE audit_entry SET after_json = :v WHERE chain = :c AND seq = 2"),
            params={"v": '{"title":"Mục giả mạo"}', "c": f"meeting:{w.meeting_id}"},
        )
    status, report = await api["admin"].get(f"/audit/verify?meeting_id={w.meeting_id}")
    assert status == 200 and not report["ok"], report
    (chain,) = report["chains"]
    assert chain["chain"] == f"meeting:{w.meeting_id}"
    assert any("does not match its hash" in p for p in chain["problems"]), chain


async def test_granting_a_speaker_on_media_spotlights_and_unmutes_them(media_server, media_world):
    """The SFU side of a grant: everyone gets ``media.spotlight`` naming the speaker, the
    speaker's connection gets ``media.unmute``, and ending gives the spotlight back."""
    w = media_world
    chair = await SfuClient.join(
        media_server, w.tokens["chair"], w.meeting_id, Endpoint(tone=False)
    )
    speaker = await SfuClient.join(
        media_server, w.endpoint_tokens[0], w.meeting_id, Endpoint(tone=False)
    )
    viewer = await SfuClient.join(
        media_server, w.endpoint_tokens[1], w.meeting_id, Endpoint(tone=False)
    )
    recs = {}
    for name, client in (("chair", chair), ("speaker", speaker), ("viewer", viewer)):
        recs[name] = Recorder()
        recs[name].attach(client.sio)
    speaker_key = f"endpoint:{w.endpoints[0]}"
    try:
        ack = await speaker.sio.call(
            "speaker.request", {"meeting_id": w.meeting_id, "topic": "Ý kiến điểm cầu"}
        )
        assert ack["ok"], ack
        request_id = ack["request"]["id"]
        ack = await chair.sio.call(
            "speaker.grant", {"meeting_id": w.meeting_id, "request_id": request_id}
        )
        assert ack["ok"], ack
        for rec in recs.values():
            await wait_for(
                lambda r=rec: speaker_key in [e["participant"] for e in r.named("media.spotlight")]
            )
        await wait_for(lambda: len(recs["speaker"].named("media.unmute")) == 1)
        assert recs["speaker"].named("media.unmute")[0] == {
            "meeting_id": w.meeting_id,
            "request_id": request_id,
            "reason": "speaker.granted",
        }
        assert recs["viewer"].named("media.unmute") == []
        # The viewer's receive slots now carry the speaker's camera.
        await wait_for(lambda: viewer.showing(speaker_key) is not None, within=10)
        ack = await chair.sio.call("speaker.end", {"meeting_id": w.meeting_id})
        assert ack["ok"] and ack["ended"]["seconds_spoken"] >= 0, ack
        await wait_for(lambda: recs["viewer"].named("media.spotlight")[-1]["participant"] is None)
    finally:
        for client in (chair, speaker, viewer):
            await client.close()
