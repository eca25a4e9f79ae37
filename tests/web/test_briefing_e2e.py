"""The issue's end-to-end briefing in real Chromium against a real server, every part through
the pages a person uses: a chair and two commune endpoints join and see each other; the
secretary uploads a PDF at her desk (the console) and publishes it, and it appears on the
endpoints' pages; she presents it and the endpoints' viewers follow her to page 3; a delegate
asks to speak and the chair gives the floor; the chair opens a poll, two voters vote, every
page charts the stored result; one commune's network drops and comes back, and its video
plays again. Screenshots of each step under test-artifacts/web/.

SQLite only (``media_server``): the database backends are covered by the API tests.
"""

from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, expect

from tests.chromium import needs_chromium
from tests.harness import Api, Server, World
from tests.meetings.documents_samples import text_pdf
from tests.web.helpers_room import (
    join_as_account,
    join_as_endpoint,
    media_browser,
    video_plays,
)

pytestmark = needs_chromium
__all__ = ["media_browser"]

DOC_TITLE = "Báo cáo kinh tế – xã hội tháng 11"
QUESTION = "Thông qua báo cáo kinh tế – xã hội tháng 11"
PAGES = [f"Trang {n}: thu ngân sách, đầu tư công, an sinh xã hội. " * 12 for n in range(1, 7)]


async def api_get(server: Server, token: str, path: str) -> Any:
    """GET under /api/v1 with a bearer token; the decoded body of a 200."""
    async with aiohttp.ClientSession() as http:
        status, body = await Api(server.url, http, token=token).get(f"/api/v1{path}")
    assert status == 200, body
    return body


def panel(page: Page, name: str):  # -> Locator
    """A side panel of the room."""
    return page.locator(f"#panel-{name}")


async def show_tab(page: Page, label: str) -> None:
    """Select a side tab by its (Vietnamese) name."""
    await page.get_by_role("tab", name=label).click()


async def test_a_provincial_briefing_end_to_end(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """See the module docstring; each step checks the server's state as well as the pages."""
    server, world = media_server, media_world
    mid = world.meeting_id
    chair_key = f"account:{world.accounts['chair']}"

    # 1. The chair and two communes join; remote video plays on every page.
    chair = await join_as_account(media_browser, server, "chair1", mid)
    communes = [
        await join_as_endpoint(media_browser, server, t, mid) for t in world.endpoint_tokens
    ]
    for commune in communes:
        await video_plays(commune.page, chair_key)
    for endpoint in world.endpoints:
        await video_plays(chair.page, f"endpoint:{endpoint}")
    await chair.shoot(artifacts, "1-chair")
    await communes[0].shoot(artifacts, "1-commune")

    # 2. The secretary uploads a PDF at her desk and publishes it; it appears on the communes.
    secretary = await join_as_account(media_browser, server, "secretary1", mid)
    desk = await secretary.page.context.new_page()
    await desk.goto(f"{server.url}/meetings/{mid}/console")
    await desk.get_by_label("Tệp PDF").set_input_files(
        {"name": "bao-cao.pdf", "mimeType": "application/pdf", "buffer": text_pdf(PAGES)}
    )
    await desk.get_by_label("Tên tài liệu (không bắt buộc)").fill(DOC_TITLE)
    await desk.get_by_role("button", name="Tải lên", exact=True).click()
    await expect(desk.locator("#upload-percent")).to_have_text("100 %")
    await desk.get_by_role("button", name=f"Công bố ngay: {DOC_TITLE}").click()
    await expect(desk.locator("#documents-list li.document .badge")).to_have_text("Đã công bố")
    await desk.screenshot(path=str(artifacts / "2-desk.png"), full_page=True)
    await desk.close()
    listed = await api_get(server, world.tokens["secretary"], f"/meetings/{mid}/documents")
    assert [(d["title"], d["state"]) for d in listed] == [(DOC_TITLE, "published")]
    document_id = listed[0]["id"]
    for commune in communes:
        entry = panel(commune.page, "documents").locator(
            f'li.docs-doc[data-document-id="{document_id}"]'
        )
        await expect(entry).to_contain_text(DOC_TITLE)
    await communes[0].shoot(artifacts, "2-commune-sees-document")

    # 3. Presenter mode: the secretary presents and turns to page 3; the communes follow.
    lead = secretary.page.locator("#viewer-area section.pdfv")
    await (
        panel(secretary.page, "documents")
        .locator(f'li.docs-doc[data-document-id="{document_id}"]')
        .get_by_role("button")
        .first.click()
    )
    await expect(lead).to_have_attribute("data-state", "ready")
    await lead.get_by_role("button", name="Trình chiếu").click()
    box = lead.get_by_label("Đến trang số")
    await box.fill("3")
    await box.press("Enter")
    await expect(lead).to_have_attribute("data-page", "3")
    for commune in communes:
        follower = commune.page.locator("#viewer-area section.pdfv")
        await expect(follower).to_have_attribute("data-document-id", str(document_id))
        await expect(follower).to_have_attribute("data-page", "3")
        await commune.page.wait_for_function(
            """() => {
              const c = document.querySelector(
                '#viewer-area canvas.pdfv-canvas[data-page-number="3"]');
              return c && c.width > 0;
            }"""
        )
    await communes[1].shoot(artifacts, "3-commune-follows-page-3")
    await lead.get_by_role("button", name="Trình chiếu").click()  # presentation over

    # 4. A delegate asks to speak with a topic; the chair gives the floor.
    delegate = await join_as_account(media_browser, server, "delegate1", mid)
    await show_tab(delegate.page, "Phát biểu")
    mine = panel(delegate.page, "speakers")
    await mine.get_by_label("Nội dung phát biểu (không bắt buộc)").fill("Vốn đầu tư nông thôn mới")
    await mine.get_by_role("button", name="Đăng ký phát biểu").click()
    await show_tab(chair.page, "Phát biểu")
    await chair.page.get_by_role("button", name="Mời Người delegate phát biểu").click()
    await expect(mine.locator(".speakers-mine-status")).to_have_text("Bạn đang phát biểu.")
    delegate_key = f"account:{world.accounts['delegate']}"
    speakers = await api_get(server, world.tokens["chair"], f"/meetings/{mid}/speakers")
    assert speakers["speaking"]["speaker_key"] == delegate_key
    # On air: the delegate is in everyone's spotlight.
    await expect(communes[0].page.locator("#spotlight figure.tile")).to_have_attribute(
        "data-participant", delegate_key, timeout=30_000
    )
    await delegate.shoot(artifacts, "4-delegate-speaking")
    await panel(chair.page, "speakers").get_by_role("button", name="Kết thúc phát biểu").click()

    # 5. A poll: the chair drafts and opens it, two voters vote, the chart shows the result.
    # Those checked in when it opens are its voters: the chair and the delegate check in.
    for tab in (chair, delegate):
        await tab.page.get_by_role("button", name="Điểm danh").click()
        await expect(tab.page.locator("#check-in")).to_have_text("Đã điểm danh")
        await expect(tab.page.locator("#check-in")).to_be_disabled()
    await show_tab(chair.page, "Biểu quyết")
    chair_voting = panel(chair.page, "voting")
    await chair_voting.get_by_text("Tạo biểu quyết mới").click()
    await chair_voting.get_by_label("Nội dung biểu quyết").fill(QUESTION)
    await chair_voting.get_by_role("button", name="Tạo bản nháp").click()
    await (
        chair_voting.locator("article.poll-card")
        .get_by_role("button", name="Mở biểu quyết")
        .click()
    )
    for voter, choice in ((delegate.page, "Tán thành"), (chair.page, "Tán thành")):
        voting = panel(voter, "voting")
        await expect(voting.get_by_role("radio")).to_have_count(3)
        await voting.get_by_label(choice, exact=True).check()
        await voting.get_by_role("button", name="Biểu quyết", exact=True).click()
        await voting.get_by_role("button", name="Xác nhận", exact=True).click()
        await expect(voting.locator(".poll-receipt-text")).to_contain_text("Đã ghi nhận lúc")
    await expect(panel(communes[0].page, "voting").locator(".poll-progress-text")).to_have_text(
        "Đã biểu quyết: 2/2"
    )
    await chair_voting.get_by_role("button", name="Kết thúc biểu quyết").click()
    await chair_voting.get_by_role("button", name="Kết thúc và công bố").click()
    await expect(chair_voting.locator("article.poll-card")).to_have_attribute(
        "data-state", "closed"
    )
    polls = await api_get(server, world.tokens["chair"], f"/meetings/{mid}/polls")
    assert polls[0]["present_count"] == 2 and polls[0]["state"] == "closed"
    result = {str(o["id"]): str(o["votes"]) for o in polls[0]["result"]["options"]}
    assert sorted(result.values()) == ["0", "0", "2"]
    for tab in (chair, delegate, *communes):
        await show_tab(tab.page, "Biểu quyết")
        bars = panel(tab.page, "voting").locator(".poll-chart-row")
        await expect(bars).to_have_count(3)
        shown = {
            await bar.get_attribute("data-option-id"): await bar.get_attribute("data-count")
            for bar in await bars.all()
        }
        assert shown == result
    await communes[0].shoot(artifacts, "5-result-chart")

    # 6. One commune's network drops and returns: it says so, then its video plays again.
    page = communes[1].page
    await page.context.set_offline(True)
    await expect(page.locator("#net-banner")).to_be_visible(timeout=60_000)
    await communes[1].shoot(artifacts, "6-offline")
    await page.context.set_offline(False)
    await expect(page.locator("#net-banner")).to_be_hidden(timeout=60_000)
    await video_plays(page, chair_key)
    await video_plays(chair.page, f"endpoint:{world.endpoints[1]}")
    await communes[1].shoot(artifacts, "6-online-again")

    for tab in (chair, secretary, delegate, *communes):
        assert tab.foreign_requests() == []
