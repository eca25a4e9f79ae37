"""The meeting room's speakers and voting panels in real Chromium against a real server.

Each participant is a real room page (/meetings/<id>, fake camera and microphone) with its own
socket.io session; every UI action is checked against the API's state afterwards. SQLite only
(``media_server``): the proceedings' storage is covered on both backends by the API tests.
"""

import re
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, expect

from tests.chromium import needs_chromium
from tests.harness import Api, Server, World
from tests.web.helpers_room import join_as_account, join_as_endpoint, media_browser

pytestmark = needs_chromium
__all__ = ["media_browser"]

TOPIC = "Ý kiến về dự toán ngân sách năm 2027"
QUESTION = "Thông qua dự toán ngân sách năm 2027"


async def api_get(server: Server, token: str, path: str) -> Any:
    """GET under /api/v1 with a bearer token; the answer must be 200."""
    async with aiohttp.ClientSession() as http:
        status, body = await Api(server.url, http, token=token).get("/api/v1" + path)
    assert status == 200, body
    return body


async def api_post(server: Server, token: str, path: str, body: Any = None) -> Any:
    """POST under /api/v1 with a bearer token; the answer must be 2xx."""
    async with aiohttp.ClientSession() as http:
        status, answer = await Api(server.url, http, token=token).post("/api/v1" + path, body)
    assert 200 <= status < 300, answer
    return answer


def panel(page: Page, name: str):  # -> Locator
    """A side panel of the room ("speakers", "voting")."""
    return page.locator(f"#panel-{name}")


async def open_tab(page: Page, label: str) -> None:
    """Select a side tab by its visible name."""
    await page.get_by_role("tab", name=label).click()
    await expect(page.get_by_role("tab", name=label)).to_have_attribute("aria-selected", "true")


def assert_clean(*tabs: Any) -> None:
    """Nothing loaded from elsewhere, no script errors or warnings on any page."""
    for tab in tabs:
        assert tab.foreign_requests() == []
        assert tab.problems == [], tab.problems


async def test_speakers_request_reorder_grant_timer_end_and_withdraw(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """A delegate asks with a topic and a commune without; the chair reorders the queue from
    the keyboard, gives the delegate the floor (who is told so; everyone sees the timer,
    counted from the server's grant time), ends the speech, removes a new request of the
    delegate's; the commune withdraws."""
    server, world = media_server, media_world
    mid = world.meeting_id
    chair_token = world.tokens["chair"]
    delegate_name, commune_name = "Người delegate", f"Điểm cầu {world.communes[0]}"
    chair = await join_as_account(media_browser, server, "chair1", mid)
    delegate = await join_as_account(media_browser, server, "delegate1", mid)
    commune = await join_as_endpoint(media_browser, server, world.endpoint_tokens[0], mid)
    for tab in (chair, delegate, commune):
        await open_tab(tab.page, "Phát biểu")
        await expect(panel(tab.page, "speakers")).to_contain_text("Chưa có ai phát biểu.")

    # The delegate asks to speak on a topic; the commune asks without one.
    mine = panel(delegate.page, "speakers")
    await mine.get_by_label("Nội dung phát biểu (không bắt buộc)").fill(TOPIC)
    await mine.get_by_role("button", name="Đăng ký phát biểu").click()
    await expect(mine.locator(".speakers-mine-status")).to_have_text(
        f"Bạn đã đăng ký phát biểu về “{TOPIC}”, đang ở vị trí thứ 1 trong danh sách chờ."
    )
    await expect(mine.get_by_role("button", name="Rút đăng ký")).to_be_focused()
    theirs = panel(commune.page, "speakers")
    await theirs.get_by_role("button", name="Đăng ký phát biểu").click()
    await expect(theirs.locator(".speakers-mine-status")).to_contain_text("vị trí thứ 2")
    listing = await api_get(server, chair_token, f"/meetings/{mid}/speakers")
    waiting = listing["waiting"]
    assert [(r["speaker_name"], r["topic"], r["state"]) for r in waiting] == [
        (delegate_name, TOPIC, "waiting"),
        (commune_name, "", "waiting"),
    ]
    delegate_request, commune_request = waiting[0]["id"], waiting[1]["id"]

    # The chair sees the queue in order and moves the commune up with the keyboard.
    queue = panel(chair.page, "speakers").locator(".speakers-queue li")
    await expect(queue).to_have_count(2)
    await expect(queue.nth(0)).to_contain_text(delegate_name)
    await expect(queue.nth(0)).to_contain_text(TOPIC)
    await expect(queue.nth(1)).to_contain_text(commune_name)
    await expect(panel(chair.page, "speakers").locator(".speakers-queue h3")).to_have_text(
        "Danh sách chờ (2)"
    )
    await chair.shoot(artifacts, "chair-queue")
    up = chair.page.get_by_role("button", name=f"Đưa {commune_name} lên trước")
    await up.focus()
    await chair.page.keyboard.press("Enter")
    await expect(queue.nth(0)).to_contain_text(commune_name)
    # At the top its "up" is disabled: focus stays on the same request, on its "down".
    down = chair.page.get_by_role("button", name=f"Đưa {commune_name} xuống sau")
    await expect(down).to_be_focused()
    listing = await api_get(server, chair_token, f"/meetings/{mid}/speakers")
    assert [r["id"] for r in listing["waiting"]] == [commune_request, delegate_request]
    await expect(mine.locator(".speakers-mine-status")).to_contain_text("vị trí thứ 2")
    await expect(theirs.locator(".speakers-mine-status")).to_contain_text("vị trí thứ 1")
    await chair.page.keyboard.press("Enter")  # and back down
    await expect(queue.nth(0)).to_contain_text(delegate_name)
    listing = await api_get(server, chair_token, f"/meetings/{mid}/speakers")
    assert [r["id"] for r in listing["waiting"]] == [delegate_request, commune_request]

    # The chair gives the delegate the floor.
    await chair.page.get_by_role("button", name=f"Mời {delegate_name} phát biểu").click()
    chair_now = panel(chair.page, "speakers").locator(".speakers-now-name")
    await expect(chair_now).to_have_text(delegate_name)  # the grant's ack has come back
    listing = await api_get(server, chair_token, f"/meetings/{mid}/speakers")
    speaking = listing["speaking"]
    assert speaking is not None and speaking["id"] == delegate_request
    assert speaking["state"] == "speaking" and speaking["granted_at"] is not None
    await expect(mine.locator(".speakers-mine-status")).to_have_text("Bạn đang phát biểu.")
    await expect(mine.get_by_role("button", name="Rút đăng ký")).to_be_hidden()
    for tab in (chair, delegate, commune):
        now = panel(tab.page, "speakers").locator(".speakers-now")
        await expect(now.locator(".speakers-now-name")).to_have_text(delegate_name)
        await expect(now).to_contain_text(TOPIC)
        timer = now.get_by_role("timer")
        await expect(timer).to_have_text(re.compile(r"^\d\d:\d\d$"))
        # Counted from the server's grant, not from anyone's click.
        assert await timer.get_attribute("data-granted-at") == speaking["granted_at"]
    # The timer runs: it leaves 00:00 on its own.
    await expect(panel(commune.page, "speakers").get_by_role("timer")).to_have_text(
        re.compile(r"^(?!00:00$)\d\d:\d\d$"), timeout=10_000
    )
    await expect(panel(chair.page, "speakers").locator(".speakers-queue li")).to_have_count(1)
    await delegate.shoot(artifacts, "delegate-speaking")
    await chair.shoot(artifacts, "chair-speaking")

    # The chair ends the speech: its time is recorded; the delegate may ask again.
    await panel(chair.page, "speakers").get_by_role("button", name="Kết thúc phát biểu").click()
    await expect(chair_now).to_have_count(0)
    listing = await api_get(server, chair_token, f"/meetings/{mid}/speakers")
    assert listing["speaking"] is None
    assert [(r["id"], r["state"]) for r in listing["finished"]] == [(delegate_request, "done")]
    assert listing["finished"][0]["seconds_spoken"] >= 1
    for tab in (chair, delegate, commune):
        await expect(panel(tab.page, "speakers").locator(".speakers-now")).to_contain_text(
            "Chưa có ai phát biểu."
        )
        await expect(
            panel(tab.page, "speakers").locator(".speakers-finished summary")
        ).to_have_text("Đã phát biểu (1)")
    await expect(mine.get_by_role("button", name="Đăng ký phát biểu")).to_be_visible()
    await expect(mine.locator(".speakers-mine-status")).to_have_text("")

    # The delegate asks again; the chair takes the request off the queue.
    await mine.get_by_role("button", name="Đăng ký phát biểu").click()
    await expect(mine.locator(".speakers-mine-status")).to_contain_text("vị trí thứ 2")
    await chair.page.get_by_role("button", name=f"Xóa đăng ký của {delegate_name}").click()
    await expect(mine.get_by_role("button", name="Đăng ký phát biểu")).to_be_visible()
    listing = await api_get(server, chair_token, f"/meetings/{mid}/speakers")
    assert [r["id"] for r in listing["waiting"]] == [commune_request]

    # The commune withdraws; in English the panel says the same.
    await commune.page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(theirs.locator(".speakers-mine-status")).to_have_text(
        "You have asked to speak and are number 1 in the queue."
    )
    await theirs.get_by_role("button", name="Withdraw my request").click()
    await expect(theirs.get_by_role("button", name="Ask to speak")).to_be_visible()
    await expect(theirs.locator(".speakers-queue")).to_contain_text("Nobody has asked to speak.")
    listing = await api_get(server, chair_token, f"/meetings/{mid}/speakers")
    assert listing["waiting"] == []
    await expect(panel(chair.page, "speakers").locator(".speakers-queue li")).to_have_count(0)
    await commune.shoot(artifacts, "commune-en")
    assert_clean(chair, delegate, commune)


async def vote(page: Page, choice: str) -> None:
    """Choose an option, press "Biểu quyết", check the confirm step names it, confirm."""
    voting = panel(page, "voting")
    await voting.get_by_label(choice, exact=True).check()
    await voting.get_by_role("button", name="Biểu quyết", exact=True).click()
    question = voting.locator(".poll-confirm-question")
    await expect(question).to_have_text(f"Xác nhận biểu quyết: {choice}?")
    await expect(question).to_be_focused()
    await voting.get_by_role("button", name="Xác nhận", exact=True).click()


async def test_chair_drafts_opens_and_closes_a_poll_two_voters_confirm_a_second_ballot_is_refused(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """The chair drafts and opens a poll; the delegate (on two devices) and the chair vote
    through the confirm step; a commune follows the count; the delegate's second device is
    refused; the chair closes it and every page charts the API's result."""
    server, world = media_server, media_world
    mid = world.meeting_id
    chair_token = world.tokens["chair"]
    for role in ("chair", "delegate"):  # the members present: the poll's voters
        await api_post(server, world.tokens[role], f"/meetings/{mid}/attendance/check-in", {})
    chair = await join_as_account(media_browser, server, "chair1", mid)
    delegate = await join_as_account(media_browser, server, "delegate1", mid)
    delegate_phone = await join_as_account(media_browser, server, "delegate1", mid)
    commune = await join_as_endpoint(media_browser, server, world.endpoint_tokens[0], mid)
    for tab in (delegate, delegate_phone, commune):
        await expect(panel(tab.page, "voting")).to_contain_text("Chưa có cuộc biểu quyết nào.")

    # The chair prepares a yes/no/abstain draft here and opens it.
    await open_tab(chair.page, "Biểu quyết")
    chair_voting = panel(chair.page, "voting")
    await chair_voting.get_by_text("Tạo biểu quyết mới").click()
    await chair_voting.get_by_role("button", name="Tạo bản nháp").click()
    await expect(chair_voting.get_by_role("alert")).to_have_text(
        "Vui lòng nhập nội dung biểu quyết."
    )
    await chair_voting.get_by_label("Nội dung biểu quyết").fill(QUESTION)
    await chair_voting.get_by_role("button", name="Tạo bản nháp").click()
    card = chair_voting.locator("article.poll-card")
    await expect(card).to_have_attribute("data-state", "draft")
    open_button = card.get_by_role("button", name="Mở biểu quyết")
    await expect(open_button).to_be_focused()
    polls = await api_get(server, chair_token, f"/meetings/{mid}/polls")
    assert [(p["title"], p["kind"], p["state"]) for p in polls] == [
        (QUESTION, "yes_no_abstain", "draft")
    ]
    poll_id = polls[0]["id"]
    await expect(panel(commune.page, "voting").locator("article")).to_have_count(0)  # a draft
    await open_button.click()
    await expect(card).to_have_attribute("data-state", "open")
    poll = await api_get(server, chair_token, f"/meetings/{mid}/polls/{poll_id}")
    assert poll["state"] == "open" and poll["present_count"] == 2

    # Voters are taken to the voting tab; the commune (not a voter) follows the progress.
    for tab in (delegate, delegate_phone):
        await expect(tab.page.get_by_role("tab", name="Biểu quyết")).to_have_attribute(
            "aria-selected", "true"
        )
        ballot = panel(tab.page, "voting").get_by_role("group", name="Chọn một phương án.")
        await expect(ballot.get_by_role("radio")).to_have_count(3)
    await open_tab(commune.page, "Biểu quyết")
    commune_voting = panel(commune.page, "voting")
    await expect(commune_voting.locator(".poll-progress-text")).to_have_text("Đã biểu quyết: 0/2")
    await expect(commune_voting.get_by_role("radio")).to_have_count(0)
    await expect(commune_voting).to_contain_text("Bạn không có trong danh sách biểu quyết")
    await delegate.shoot(artifacts, "delegate-ballot")

    # The delegate steps back once from the confirm step, then votes.
    voting = panel(delegate.page, "voting")
    await voting.get_by_label("Tán thành", exact=True).check()
    await voting.get_by_role("button", name="Biểu quyết", exact=True).click()
    await expect(voting.locator(".poll-confirm-question")).to_have_text(
        "Xác nhận biểu quyết: Tán thành?"
    )
    await delegate.shoot(artifacts, "delegate-confirm")
    await voting.get_by_role("button", name="Quay lại").click()
    await expect(voting.get_by_label("Tán thành", exact=True)).to_be_checked()
    await expect(voting.get_by_role("button", name="Biểu quyết", exact=True)).to_be_focused()
    await vote(delegate.page, "Tán thành")
    receipt = voting.locator(".poll-receipt-text")
    await expect(receipt).to_have_text(re.compile(r"^Đã ghi nhận lúc \d\d:\d\d:\d\d$"))
    await expect(receipt).to_be_focused()
    await expect(commune_voting.locator(".poll-progress-text")).to_have_text("Đã biểu quyết: 1/2")

    # The chair votes too; everyone's count reaches 2 of 2.
    await vote(chair.page, "Không tán thành")
    await expect(chair_voting.locator(".poll-receipt-text")).to_contain_text("Đã ghi nhận lúc")
    for tab in (chair, delegate, delegate_phone, commune):
        await expect(panel(tab.page, "voting").locator(".poll-progress-text")).to_have_text(
            "Đã biểu quyết: 2/2"
        )
    poll = await api_get(server, chair_token, f"/meetings/{mid}/polls/{poll_id}")
    assert poll["ballot_count"] == 2 and poll["has_voted"] is True

    # The delegate's phone still shows the ballot; a second ballot is refused, translated.
    await vote(delegate_phone.page, "Không biểu quyết")
    phone_voting = panel(delegate_phone.page, "voting")
    await expect(phone_voting.get_by_role("alert")).to_have_text(
        "Bạn đã biểu quyết rồi; mỗi người chỉ được biểu quyết một lần."
    )
    await expect(phone_voting.locator(".poll-receipt-text")).to_have_text("Bạn đã biểu quyết.")
    await expect(phone_voting.get_by_role("radio")).to_have_count(0)
    poll = await api_get(server, chair_token, f"/meetings/{mid}/polls/{poll_id}")
    assert poll["ballot_count"] == 2
    assert {o["label"]: o["votes"] for o in poll["options"]} == {"yes": 1, "no": 1, "abstain": 0}
    await delegate_phone.shoot(artifacts, "delegate-second-ballot-refused")

    # The chair closes it after a confirm step; every page charts the stored result.
    await chair_voting.get_by_role("button", name="Kết thúc biểu quyết").click()
    await chair_voting.get_by_role("button", name="Kết thúc và công bố").click()
    await expect(card).to_have_attribute("data-state", "closed")
    poll = await api_get(server, chair_token, f"/meetings/{mid}/polls/{poll_id}")
    assert poll["state"] == "closed" and poll["outcome"] == "failed"
    expected = {str(o["id"]): str(o["votes"]) for o in poll["result"]["options"]}
    assert sorted(expected.values()) == ["0", "1", "1"]
    for tab in (chair, delegate, delegate_phone, commune):
        voting = panel(tab.page, "voting")
        await expect(voting.locator(".poll-card")).to_have_attribute("data-state", "closed")
        bars = voting.locator(".poll-chart-row")
        await expect(bars).to_have_count(3)
        shown = {
            await bar.get_attribute("data-option-id"): await bar.get_attribute("data-count")
            for bar in await bars.all()
        }
        assert shown == expected
        await expect(voting.locator(".poll-outcome")).to_have_text("Kết quả: Không thông qua")
        await expect(voting.locator(".poll-chart-row").first).to_contain_text("1 phiếu (50%)")
        # Screen readers get the numbers from the table.
        table = voting.locator(".poll-chart .visually-hidden table")
        await expect(table.locator("caption")).to_have_text(f"Kết quả biểu quyết: {QUESTION}")
        await expect(table.get_by_role("row", name="Tán thành 1 50%", exact=True)).to_have_count(1)
    await chair.shoot(artifacts, "chair-result")
    await commune.page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(commune_voting.locator(".poll-outcome")).to_have_text("Result: Not passed")
    await expect(commune_voting.locator(".poll-chart-label").first).to_have_text("In favour")
    await commune.shoot(artifacts, "commune-result-en")
    assert_clean(chair, delegate, delegate_phone, commune)


async def test_secret_multiple_choice_poll_by_keyboard_with_limits_and_a_reload(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """A secret 1-to-2 choice poll the secretary prepared: the chair opens it and the delegate
    votes by keyboard only (three choices are refused before anything is sent, then two are
    confirmed); counts per option stay hidden until the close; after a reload the page knows
    the delegate has voted; the closed chart marks the options that passed."""
    server, world = media_server, media_world
    mid = world.meeting_id
    chair_token = world.tokens["chair"]
    for role in ("chair", "delegate"):
        await api_post(server, world.tokens[role], f"/meetings/{mid}/attendance/check-in", {})
    labels = ["Phương án A", "Phương án B", "Phương án C"]
    draft = await api_post(
        server,
        world.tokens["secretary"],
        f"/meetings/{mid}/polls",
        {
            "title": "Chọn hai công trình ưu tiên",
            "kind": "multiple",
            "options": labels,
            "min_choices": 1,
            "max_choices": 2,
            "secret": True,
        },
    )
    chair = await join_as_account(media_browser, server, "chair1", mid)
    delegate = await join_as_account(media_browser, server, "delegate1", mid)

    # The chair opens the secretary's draft from the keyboard.
    await open_tab(chair.page, "Biểu quyết")
    chair_voting = panel(chair.page, "voting")
    await expect(chair_voting.locator(".poll-card")).to_have_attribute("data-state", "draft")
    await chair_voting.get_by_role("button", name="Mở biểu quyết").focus()
    await chair.page.keyboard.press("Enter")
    await expect(chair_voting.get_by_role("button", name="Kết thúc biểu quyết")).to_be_focused()

    # The delegate, taken to the poll, votes with Tab, Space and Enter only.
    page = delegate.page
    voting = panel(page, "voting")
    ballot = voting.get_by_role("group", name="Chọn từ 1 đến 2 phương án.")
    await expect(ballot.get_by_role("checkbox")).to_have_count(3)
    await expect(voting.locator(".poll-meta")).to_contain_text("Bỏ phiếu kín")
    await ballot.get_by_role("checkbox").first.focus()
    for _ in range(3):
        await page.keyboard.press("Space")
        await page.keyboard.press("Tab")
    submit = voting.get_by_role("button", name="Biểu quyết", exact=True)
    await expect(submit).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(voting.get_by_role("alert")).to_have_text("Vui lòng chọn từ 1 đến 2 phương án.")
    await expect(submit).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Space")  # un-choose "Phương án C"
    await expect(ballot.get_by_label("Phương án C")).not_to_be_checked()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    question = voting.locator(".poll-confirm-question")
    await expect(question).to_have_text("Xác nhận biểu quyết: Phương án A, Phương án B?")
    await expect(question).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(voting.get_by_role("button", name="Xác nhận")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(voting.locator(".poll-receipt-text")).to_contain_text("Đã ghi nhận lúc")
    await expect(chair_voting.locator(".poll-progress-text")).to_have_text("Đã biểu quyết: 1/2")
    poll = await api_get(server, chair_token, f"/meetings/{mid}/polls/{draft['id']}")
    assert poll["ballot_count"] == 1
    assert [o["votes"] for o in poll["options"]] == [None, None, None]  # secret while open
    await expect(voting.locator(".poll-chart-row")).to_have_count(0)

    # A reload: the panel rebuilds from REST and knows the ballot was cast.
    await page.reload()
    await expect(page.locator("body[data-joined=true]")).to_be_attached(timeout=30_000)
    await open_tab(page, "Biểu quyết")
    await expect(voting.locator(".poll-receipt-text")).to_have_text("Bạn đã biểu quyết.")
    await expect(voting.get_by_role("checkbox")).to_have_count(0)
    await expect(voting.locator(".poll-progress-text")).to_have_text("Đã biểu quyết: 1/2")
    await delegate.shoot(artifacts, "delegate-after-reload")

    # The chair closes it (confirm step); both pages chart the stored result.
    await chair_voting.get_by_role("button", name="Kết thúc biểu quyết").click()
    await expect(chair_voting.locator(".poll-conduct .poll-confirm-question")).to_be_focused()
    await chair_voting.get_by_role("button", name="Kết thúc và công bố").click()
    await expect(chair_voting.locator(".poll-card")).to_have_attribute("data-state", "closed")
    poll = await api_get(server, chair_token, f"/meetings/{mid}/polls/{draft['id']}")
    result = {o["label"]: (o["votes"], o["passed"]) for o in poll["result"]["options"]}
    assert result == {"Phương án A": (1, True), "Phương án B": (1, True), "Phương án C": (0, False)}
    assert poll["outcome"] == "passed"
    for tab in (chair, delegate):
        rows = panel(tab.page, "voting").locator(".poll-chart-row")
        await expect(rows).to_have_count(3)
        await expect(panel(tab.page, "voting").locator(".poll-chart-row.passed")).to_have_count(2)
        for option in poll["result"]["options"]:
            row = rows.filter(has_text=option["label"])
            await expect(row).to_have_attribute("data-option-id", str(option["id"]))
            await expect(row).to_have_attribute("data-count", str(option["votes"]))
        await expect(panel(tab.page, "voting").locator(".poll-outcome")).to_have_text(
            "Kết quả: Thông qua"
        )
    await page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(voting.locator(".poll-outcome")).to_have_text("Result: Passed")
    await expect(voting.locator(".poll-meta")).to_have_text(
        "Secret ballot · Choose 1 to 2 options."
    )
    await delegate.shoot(artifacts, "delegate-result-en")
    assert_clean(chair, delegate)
