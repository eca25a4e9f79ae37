"""The secretary's console (/meetings/<id>/console) in real Chromium against a real server.

One long scenario walks what the secretary and the chair do around a briefing: agenda, a PDF
uploaded with its progress bar, a refused non-PDF, publication and read receipts, attendance,
a conclusion, a poll prepared by the secretary and conducted by the chair, the minutes written,
submitted, approved, then locked. A second test covers a delegate (read-only), an unknown
meeting, and the keyboard. Every step is checked against the API, not only on screen.
"""

from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from playwright.async_api import Browser, Page, expect

from tests.chromium import needs_chromium
from tests.harness import USER_PASSWORD, Api, Server, World
from tests.meetings.documents_samples import text_pdf
from tests.web.test_shell_browser import Tab, log_in, open_tab

pytestmark = needs_chromium

ITEM_1 = "Báo cáo tình hình kinh tế – xã hội tháng 11"
ITEM_2 = "Công tác phòng chống thiên tai"
DOC_TITLE = "Báo cáo kinh tế tháng 11"
CONCLUSION = "Giao UBND huyện Ba Chẽ hoàn thành phương án trước ngày 15/12."
POLL = "Thông qua kế hoạch phòng chống thiên tai năm 2027"


def api_of(server: Server, http: aiohttp.ClientSession, world: World, who: str) -> Api:
    """An API client with the bearer token of one of the world's accounts."""
    return Api(server.url, http, token=world.tokens[who])


async def get(api: Api, path: str) -> Any:
    """GET that must succeed."""
    status, body = await api.get(path)
    assert status == 200, (path, status, body)
    return body


async def open_console(tab: Tab, server: Server, meeting_id: int, username: str) -> Page:
    """Open the console logged out: it sends the user to the login page, which brings them
    back once logged in; wait for the console."""
    page = tab.page
    path = f"/meetings/{meeting_id}/console"
    response = await page.goto(server.url + path)
    assert response is not None and response.status == 200
    await expect(page).to_have_url(f"{server.url}/?next={quote(path, safe='')}")
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    await log_in(page, username, USER_PASSWORD)
    await expect(page).to_have_url(server.url + path)
    await expect(page.get_by_role("heading", name="Bàn thư ký", exact=True)).to_be_visible()
    await expect(page.locator("#meeting-title")).to_have_text("Giao ban tháng 11")
    return page


async def fetch_status(page: Page, href: str) -> tuple[int, str]:
    """Follow a link's URL with the page's own session: (status, content type)."""
    return tuple(
        await page.evaluate(
            """async (href) => {
                const r = await fetch(href);
                await r.arrayBuffer();
                return [r.status, r.headers.get("content-type")];
            }""",
            href,
        )
    )


async def test_secretary_and_chair_run_a_briefing_from_the_console(
    browser: Browser, server: Server, http: aiohttp.ClientSession, world: World, artifacts: Path
) -> None:
    """Agenda, upload with progress, refused non-PDF, publish, receipts, attendance, conclusion,
    poll, minutes draft → submitted → approved (PDF and ZIP links), then conclusions locked."""
    mid = world.meeting_id
    base = f"/api/v1/meetings/{mid}"
    chair_api = api_of(server, http, world, "chair")
    secretary_api = api_of(server, http, world, "secretary")
    status, _ = await chair_api.post(f"{base}/start")
    assert status == 200

    tab = await open_tab(browser, server)
    page = await open_console(tab, server, mid, "secretary1")
    await expect(page.locator("#console-readonly")).to_be_hidden()
    await expect(page.locator("#agenda-empty")).to_be_visible()
    await tab.shoot(artifacts, "console-empty-vi")

    # Agenda: two items, the second moved above the first, then back.
    await page.get_by_label("Tên mục").fill(ITEM_1)
    await page.get_by_label("Người trình bày").fill("Phó Chủ tịch UBND tỉnh")
    await page.get_by_label("Thời lượng (phút)").fill("20")
    await page.get_by_role("button", name="Thêm mục").click()
    await expect(page.locator("#agenda-list li")).to_have_count(1)
    await page.get_by_label("Tên mục").fill(ITEM_2)
    await page.get_by_role("button", name="Thêm mục").click()
    await expect(page.locator("#agenda-list li")).to_have_count(2)
    await page.get_by_role("button", name=f"Chuyển lên: {ITEM_2}").click()
    await expect(page.locator("#agenda-list li").first).to_contain_text(ITEM_2)
    agenda = await get(secretary_api, f"{base}/agenda")
    assert [i["title"] for i in agenda] == [ITEM_2, ITEM_1]
    assert agenda[1]["presenter_name"] == "Phó Chủ tịch UBND tỉnh"
    assert agenda[1]["minutes_budget"] == 20
    await page.get_by_role("button", name=f"Chuyển lên: {ITEM_1}").click()
    await expect(page.locator("#agenda-list li").first).to_contain_text(ITEM_1)
    item_1 = next(
        i["id"] for i in await get(secretary_api, f"{base}/agenda") if i["title"] == ITEM_1
    )
    assert [i["title"] for i in await get(secretary_api, f"{base}/agenda")] == [ITEM_1, ITEM_2]

    # Upload a real PDF to item 1: the progress bar reaches 100 % and the draft is listed.
    pdf = text_pdf(
        [f"Trang {n}: tình hình kinh tế – xã hội, thu ngân sách." * 20 for n in range(40)]
    )
    await page.get_by_label("Tệp PDF").set_input_files(
        {"name": "bao-cao-thang-11.pdf", "mimeType": "application/pdf", "buffer": pdf}
    )
    await page.get_by_label("Tên tài liệu (không bắt buộc)").fill(DOC_TITLE)
    await page.locator("#upload-agenda").select_option(str(item_1))
    await page.evaluate(
        """() => {
            window.progressSeen = [];
            const bar = document.getElementById("upload-bar");
            new MutationObserver(() => window.progressSeen.push(Number(bar.value)))
                .observe(bar, {attributes: true, attributeFilter: ["value"]});
        }"""
    )
    await page.get_by_role("button", name="Tải lên", exact=True).click()
    await expect(page.locator("#upload-status")).to_have_text(
        f"Đã tải lên tài liệu “{DOC_TITLE}” (bản nháp, chưa công bố)."
    )
    await expect(page.locator("#upload-percent")).to_have_text("100 %")
    await expect(page.locator("#upload-bar")).to_have_attribute("value", "100")
    seen = await page.evaluate("window.progressSeen")
    assert seen and seen[-1] == 100 and seen == sorted(seen), seen
    row = page.locator("#documents-list li.document")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(DOC_TITLE)
    await expect(row).to_contain_text("40 trang")
    await expect(row).to_contain_text(f"Mục: 1. {ITEM_1}")
    await expect(row.locator(".badge")).to_have_text("Bản nháp")
    documents = await get(secretary_api, f"{base}/documents")
    assert [(d["title"], d["state"], d["agenda_item_id"]) for d in documents] == [
        (DOC_TITLE, "draft", item_1)
    ]
    assert documents[0]["version"]["pages"] == 40

    # A file that only pretends to be a PDF: the server's refusal, translated; nothing stored.
    await page.get_by_label("Tệp PDF").set_input_files(
        {"name": "ghi-chu.pdf", "mimeType": "application/pdf", "buffer": b"Ghi chep cuoc hop"}
    )
    await page.get_by_role("button", name="Tải lên", exact=True).click()
    await expect(page.locator("#upload-error")).to_have_text(
        "Tệp này không phải là PDF. Chỉ tải lên được tài liệu PDF."
    )
    await expect(page.locator("#upload-progress")).to_be_hidden()
    assert await get(secretary_api, f"{base}/documents") == documents
    await tab.shoot(artifacts, "console-upload-error-vi")

    # Publish, then the delegate opens it and the receipts say so.
    await page.get_by_role("button", name=f"Công bố ngay: {DOC_TITLE}").click()
    await expect(row.locator(".badge")).to_have_text("Đã công bố")
    published = await get(secretary_api, f"{base}/documents")
    assert published[0]["state"] == "published"
    doc_id = published[0]["id"]
    async with http.get(
        f"{server.url}{base}/documents/{doc_id}/file",
        headers={"Authorization": f"Bearer {world.tokens['delegate']}"},
    ) as response:
        assert response.status == 200
    await page.get_by_role("button", name=f"Ai đã xem tài liệu: {DOC_TITLE}").click()
    receipts = page.locator(f"#receipts-{doc_id}")
    await expect(receipts.locator(".receipts-opened")).to_contain_text("Người delegate")
    await expect(receipts.locator(".receipts-missing")).to_contain_text("Người observer")
    await expect(
        page.get_by_role("button", name=f"Ai đã xem tài liệu: {DOC_TITLE}")
    ).to_have_attribute("aria-expanded", "true")

    # A corrected file as version 2, through the same progress bar.
    async with page.expect_file_chooser() as chooser:
        await page.get_by_role("button", name=f"Tải phiên bản mới: {DOC_TITLE}").click()
    await (await chooser.value).set_files(
        {"name": "bao-cao-sua.pdf", "mimeType": "application/pdf", "buffer": text_pdf(3)}
    )
    await expect(page.locator("#upload-status")).to_have_text(
        f"Đã tải lên phiên bản 2 của “{DOC_TITLE}”."
    )
    await expect(page.locator("#upload-percent")).to_have_text("100 %")
    await expect(row).to_contain_text("Phiên bản 2 · 3 trang")
    current = (await get(secretary_api, f"{base}/documents"))[0]
    assert (current["current_version"], current["version"]["filename"]) == (2, "bao-cao-sua.pdf")

    # Attendance of the members (the chair and the invited delegate): present online, excused.
    chair_key = f"account:{world.accounts['chair']}"
    delegate_key = f"account:{world.accounts['delegate']}"
    await page.get_by_label("Tình trạng của Người chair").select_option("present_online")
    await page.get_by_role("button", name="Ghi nhận điểm danh: Người chair").click()
    chair_row = page.locator(f'li.attendee[data-attendee="{chair_key}"]')
    await expect(chair_row.locator(".badge")).to_have_text("Có mặt trực tuyến")
    await page.get_by_label("Tình trạng của Người delegate").select_option("excused")
    await page.get_by_label("Lý do vắng").fill("Đi công tác tại Hà Nội")
    await page.get_by_role("button", name="Ghi nhận điểm danh: Người delegate").click()
    delegate_row = page.locator(f'li.attendee[data-attendee="{delegate_key}"]')
    await expect(delegate_row.locator(".badge")).to_have_text(
        "Vắng có lý do: Đi công tác tại Hà Nội"
    )
    sheet = await get(secretary_api, f"{base}/attendance")
    states = {r["attendee_key"]: (r["state"], r["mode"], r["reason"]) for r in sheet["attendees"]}
    assert states[chair_key] == ("present", "online", "")
    assert states[delegate_key] == ("excused", None, "Đi công tác tại Hà Nội")
    quorum = sheet["quorum"]
    assert (quorum["present"], quorum["excused"]) == (1, 1)
    await expect(page.locator("#quorum-line")).to_contain_text(
        f"Có mặt 1/{quorum['members']} thành viên, cần {quorum['required']}"
    )

    # A conclusion on item 1.
    await page.locator("#conclusion-agenda").select_option(str(item_1))
    await page.get_by_label("Nội dung kết luận").fill(CONCLUSION)
    await page.get_by_label("Thời hạn (không bắt buộc)").fill("2026-12-15")
    await page.get_by_role("button", name="Ghi kết luận", exact=True).click()
    await expect(page.locator("#conclusions-list li")).to_contain_text(CONCLUSION)
    conclusions = await get(secretary_api, f"{base}/conclusions")
    assert [(c["agenda_item_id"], c["content"], c["deadline"]) for c in conclusions] == [
        (item_1, CONCLUSION, "2026-12-15")
    ]

    # A draft poll; opening it is the chair's, so the secretary has no such button.
    await page.get_by_label("Nội dung xin ý kiến").fill(POLL)
    await page.locator("#poll-agenda").select_option(str(item_1))
    await page.locator("#section-polls").get_by_role("button", name="Lưu bản nháp").click()
    poll_row = page.locator("#polls-list li.poll")
    await expect(poll_row).to_contain_text(POLL)
    await expect(poll_row.locator(".badge")).to_have_text("Bản nháp")
    await expect(page.get_by_role("button", name=f"Mở biểu quyết: {POLL}")).to_have_count(0)
    polls = await get(secretary_api, f"{base}/polls")
    assert [(p["title"], p["state"], p["kind"], p["agenda_item_id"]) for p in polls] == [
        (POLL, "draft", "yes_no_abstain", item_1)
    ]

    # The minutes: heading fields and the account of the meeting, saved then submitted.
    minutes = page.locator("#section-minutes")
    await minutes.get_by_label("Địa điểm").fill("Hội trường Ủy ban nhân dân tỉnh")
    await minutes.get_by_label("Diễn biến và nội dung cuộc họp").fill(
        "Hội nghị thống nhất các nội dung theo chương trình."
    )
    await minutes.get_by_role("button", name="Lưu bản nháp").click()
    await expect(page.locator("#minutes-status")).to_have_text("Đã lưu bản nháp (phiên bản 1).")
    await minutes.get_by_role("button", name="Trình phê duyệt").click()
    await expect(page.locator("#minutes-state .badge")).to_have_text("Đã trình, chờ phê duyệt")
    await expect(page.locator("#minutes-approve-box")).to_be_hidden()  # the chair approves
    stored = await get(secretary_api, f"{base}/minutes")
    assert stored["state"] == "submitted"
    assert stored["free_text"] == "Hội nghị thống nhất các nội dung theo chương trình."
    assert stored["sections"]["meeting"]["location"] == "Hội trường Ủy ban nhân dân tỉnh"
    assert stored["sections"]["meeting"]["secretary"] == "Người secretary"
    # Pre-filled at the first save from the meeting as it was then, not at page load.
    sections = stored["sections"]
    assert [row["title"] for row in sections["agenda"]] == [ITEM_1, ITEM_2]
    assert sorted((row["title"], row["version"]) for row in sections["documents"]) == [
        (DOC_TITLE, 1),
        (DOC_TITLE, 2),
    ]
    assert [row["text"] for row in sections["conclusions"]] == [CONCLUSION]
    await expect(page.locator("#minutes-summary")).to_contain_text("Chương trình: 2 mục")
    await tab.shoot(artifacts, "console-secretary-vi")

    # The chair, in another browser context: conducts the poll and approves the minutes.
    chair_tab = await open_tab(browser, server)
    chair = await open_console(chair_tab, server, mid, "chair1")
    await chair.get_by_role("button", name=f"Mở biểu quyết: {POLL}").click()
    chair_poll = chair.locator("#polls-list li.poll")
    await expect(chair_poll.locator(".badge").last).to_have_text("Đang biểu quyết")
    await expect(chair_poll).to_contain_text("Đã biểu quyết: 0/")
    await chair.get_by_role("button", name=f"Kết thúc biểu quyết: {POLL}").click()
    await expect(chair_poll.locator(".badge").last).to_have_text("Đã kết thúc")
    closed = (await get(chair_api, f"{base}/polls"))[0]
    assert closed["state"] == "closed" and closed["outcome"] is not None
    await expect(chair_poll.locator(f".outcome-{closed['outcome']}")).to_be_visible()
    await expect(chair_poll.locator(".poll-options li")).to_have_count(3)
    await expect(chair_poll.locator(".poll-options")).to_contain_text("Tán thành")

    approve = chair.get_by_role("button", name="Phê duyệt", exact=True)
    await expect(approve).to_be_visible()
    await approve.click()
    await expect(chair.locator("#minutes-state .badge")).to_have_text("Đã phê duyệt")
    pdf_link = chair.get_by_role("link", name="Tải biên bản (PDF)")
    await expect(pdf_link).to_be_focused()
    href = await pdf_link.get_attribute("href")
    assert href == f"{base}/minutes/pdf"
    assert await fetch_status(chair, href) == (200, "application/pdf")
    zip_link = chair.get_by_role("link", name="Tải hồ sơ lưu trữ (ZIP)")
    assert await fetch_status(chair, await zip_link.get_attribute("href") or "") == (
        200,
        "application/zip",
    )
    approved = await get(chair_api, f"{base}/minutes")
    assert approved["state"] == "approved" and approved["pdf_sha256"]
    await expect(chair.locator("#minutes-hash")).to_contain_text(approved["pdf_sha256"])
    await expect(chair.locator("#minutes-form")).to_be_hidden()
    await chair_tab.shoot(artifacts, "console-chair-approved-vi")

    # English, once.
    await chair.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(chair.get_by_role("heading", name="Secretary's desk", exact=True)).to_be_visible()
    await expect(chair.locator("#minutes-state .badge")).to_have_text("Approved")
    await expect(chair.get_by_role("link", name="Download the minutes (PDF)")).to_be_visible()
    await expect(chair_poll.locator(".badge").last).to_have_text("Closed")
    await expect(chair.locator("#documents-list .badge")).to_have_text("Published")
    assert await chair.title() == "Secretary's desk – Online meeting room"
    await chair_tab.shoot(artifacts, "console-chair-approved-en")

    # Back at the secretary's desk: conclusions are locked, and the server's 409 says why.
    await page.get_by_role("button", name="Làm mới").click()
    await expect(page.locator("#conclusions-locked")).to_be_visible()
    await page.get_by_role("button", name=f"Sửa kết luận: {CONCLUSION[:40]}…").click()
    await page.locator("#section-conclusions textarea").first.fill("Sửa sau khi đã phê duyệt")
    await page.locator("#conclusions-list").get_by_role("button", name="Lưu", exact=True).click()
    await expect(page.locator("#conclusions-error")).to_have_text(
        "Biên bản đã được phê duyệt nên không thể thêm, sửa hay xóa kết luận."
    )
    assert await get(secretary_api, f"{base}/conclusions") == conclusions
    await tab.shoot(artifacts, "console-locked-vi")

    for one in (tab, chair_tab):
        assert one.foreign_requests() == []
        assert one.problems == []
    assert tab.failures == [
        (422, f"{base}/documents"),
        (409, f"{base}/conclusions/{conclusions[0]['id']}"),
    ]
    assert chair_tab.failures == []


async def test_delegate_reads_only_and_the_desk_works_by_keyboard(
    browser: Browser, server: Server, http: aiohttp.ClientSession, world: World, artifacts: Path
) -> None:
    """A delegate sees what members may read and no control; an unknown meeting is refused;
    the secretary adds, moves, deletes (and thinks better of it) and edits agenda items with
    the keyboard alone."""
    mid = world.meeting_id
    base = f"/api/v1/meetings/{mid}"
    secretary_api = api_of(server, http, world, "secretary")
    status, _ = await secretary_api.post(f"{base}/agenda", {"title": ITEM_1})
    assert status == 201

    tab = await open_tab(browser, server)
    page = await open_console(tab, server, mid, "delegate1")
    await expect(page.locator("#console-readonly")).to_be_visible()
    await expect(page.locator("#agenda-list li")).to_contain_text(ITEM_1)
    for form in ("#agenda-form", "#upload-form", "#conclusion-form", "#poll-form"):
        await expect(page.locator(form)).to_be_hidden()
    await expect(page.locator("#section-minutes")).to_be_hidden()  # minutes.edit: 403
    await expect(page.locator('[data-nav="minutes"]')).to_be_hidden()
    await expect(page.locator("#section-attendance")).to_be_visible()
    await expect(page.locator("#attendance-list select")).to_have_count(0)
    await expect(page.locator("main button.small")).to_have_count(0)
    await tab.shoot(artifacts, "console-delegate-vi")
    before = await get(secretary_api, f"{base}/agenda")

    await page.goto(f"{server.url}/meetings/999999/console")
    await expect(page.get_by_role("alert")).to_have_text(
        "Bạn không có quyền mở bàn thư ký của cuộc họp này, hoặc cuộc họp không tồn tại."
    )
    await expect(page.locator("#console-view")).to_be_hidden()
    assert tab.foreign_requests() == []
    assert tab.problems == []
    assert tab.failures == [(403, f"{base}/minutes"), (404, "/api/v1/meetings/999999")]

    # The secretary, keyboard only: the menu, then the add form in order, Enter to add.
    sec_tab = await open_tab(browser, server)
    sec = await open_console(sec_tab, server, mid, "secretary1")
    await expect(sec.locator("#agenda-list li")).to_have_count(1)
    await sec.locator("#console-heading").focus()
    head = [
        sec.get_by_role("link", name="Vào phòng họp", exact=True),
        sec.get_by_role("link", name="Bản ghi hình", exact=True),
        sec.get_by_role("link", name="Cuộc họp của tôi", exact=True),
        sec.get_by_role("button", name="Làm mới", exact=True),
        sec.get_by_role("link", name="Chương trình họp", exact=True),
        sec.get_by_role("link", name="Tài liệu", exact=True),
    ]
    for control in head:
        await sec.keyboard.press("Tab")
        await expect(control).to_be_focused()
    await sec.keyboard.press("Shift+Tab")
    await sec.keyboard.press("Enter")  # the menu link leads to the agenda
    await expect(sec).to_have_url(f"{server.url}/meetings/{mid}/console#section-agenda")
    # One item: it cannot move, so its controls start at "edit".
    await sec.get_by_role("button", name=f"Sửa mục: {ITEM_1}").focus()
    order = [
        sec.get_by_role("button", name=f"Xóa mục: {ITEM_1}"),
        sec.get_by_label("Tên mục"),
        sec.get_by_label("Người trình bày"),
        sec.get_by_label("Thời lượng (phút)"),
        sec.get_by_label("Thuộc mục"),
        sec.get_by_label("Mô tả"),
        sec.get_by_role("button", name="Thêm mục"),
    ]
    for control in order:
        await sec.keyboard.press("Tab")
        await expect(control).to_be_focused()
    await sec.get_by_label("Tên mục").focus()
    await sec.keyboard.type(ITEM_2)
    await sec.keyboard.press("Enter")
    await expect(sec.locator("#agenda-list li")).to_have_count(2)
    await expect(sec.get_by_label("Tên mục")).to_be_focused()  # ready for the next item
    up = sec.get_by_role("button", name=f"Chuyển lên: {ITEM_2}")
    await up.focus()
    await sec.keyboard.press("Enter")
    await expect(sec.locator("#agenda-list li").first).to_contain_text(ITEM_2)
    # Focus stays on the moved item, now at the top: its "up" is disabled, so on "down".
    await expect(sec.get_by_role("button", name=f"Chuyển xuống: {ITEM_2}")).to_be_focused()
    titles = [i["title"] for i in await get(secretary_api, f"{base}/agenda")]
    assert titles == [ITEM_2, ITEM_1] and before[0]["title"] == ITEM_1

    # Delete by keyboard through the confirmation step.
    await sec.get_by_role("button", name=f"Xóa mục: {ITEM_2}").first.focus()
    await sec.keyboard.press("Enter")
    confirm = sec.locator(".confirm").get_by_role("button", name=f"Xóa mục: {ITEM_2}")
    await expect(confirm).to_be_focused()
    await sec.keyboard.press("Enter")
    await expect(sec.locator("#agenda-list li")).to_have_count(1)
    assert [i["title"] for i in await get(secretary_api, f"{base}/agenda")] == [ITEM_1]

    # A second thought: "cancel" keeps the item, and the focus goes back to its delete button.
    delete = sec.get_by_role("button", name=f"Xóa mục: {ITEM_1}")
    await delete.focus()
    await sec.keyboard.press("Enter")
    await expect(sec.locator(".confirm").get_by_role("button", name="Hủy")).to_be_visible()
    await sec.keyboard.press("Tab")
    await sec.keyboard.press("Enter")  # on "cancel"
    await expect(sec.locator(".confirm")).to_have_count(0)
    await expect(delete).to_be_focused()
    # Edit in place: the title field takes the focus, Enter saves, the focus returns to "edit".
    renamed = f"{ITEM_1} (sửa đổi)"
    await sec.get_by_role("button", name=f"Sửa mục: {ITEM_1}").focus()
    await sec.keyboard.press("Enter")
    title = sec.locator("#agenda-list input[id$='-title']")
    await expect(title).to_be_focused()
    await sec.keyboard.press("End")
    await sec.keyboard.type(" (sửa đổi)")
    await sec.keyboard.press("Enter")
    await expect(sec.get_by_role("button", name=f"Sửa mục: {renamed}")).to_be_focused()
    assert [i["title"] for i in await get(secretary_api, f"{base}/agenda")] == [renamed]
    await sec_tab.shoot(artifacts, "console-keyboard-vi")
    assert sec_tab.foreign_requests() == []
    assert sec_tab.problems == []
    assert sec_tab.failures == []
