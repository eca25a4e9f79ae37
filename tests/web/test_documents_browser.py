"""The meeting room's agenda and documents panel, its PDF viewer and presenter mode, in real
Chromium (fake camera and microphone) against a real server, through the room page.

Documents are real PDFs made here (several pages of Vietnamese text in an embedded font, one
JPEG 2000 image, one large incompressible image) uploaded and published through the API.
Every UI action is checked against the server's state afterwards (comments, read receipts,
the meeting's presentation in a fresh join ack). SQLite only (``media_server``): the documents'
storage is covered on both backends by the API tests.
"""

import io
import random
import re
from pathlib import Path
from typing import Any

import aiohttp
from fpdf import FPDF
from PIL import Image
from playwright.async_api import Browser, Page, Response, expect
from pypdf import PdfReader, PdfWriter

from tests.chromium import needs_chromium
from tests.harness import Api, Server, World, sio_client
from tests.meetings.documents_samples import FONT, raw_pdf, text_pdf
from tests.web.helpers_room import join_as_account, join_as_endpoint, media_browser
from tests.web.test_shell_browser import Tab

pytestmark = needs_chromium
__all__ = ["media_browser"]

REPORT_PAGES = [
    "Trang 1. Báo cáo tình hình kinh tế - xã hội tháng 11 của huyện Ba Chẽ.",
    "Trang 2. Tình trạng khai thác khoáng sản trái phép tại xã Thanh Sơn đã giảm.",
    "Trang 3. Thu ngân sách đạt 92% dự toán; chi thường xuyên bảo đảm.",
    "Trang 4. Kiến nghị: bổ sung kinh phí sửa chữa trường học xã Đồn Đạc.",
    "Trang 5. Tổ chức thực hiện và phân công nhiệm vụ cho các phòng ban.",
]

# The canvas of a page, as {dark, red, width, height} pixel counts (read through a copy: a
# second readback of pdf.js's own canvas would make Chromium warn about willReadFrequently).
CANVAS_PIXELS = """(selector) => {
  const source = document.querySelector(selector);
  if (!source || !source.width) return null;
  const copy = document.createElement("canvas");
  copy.width = source.width;
  copy.height = source.height;
  const context = copy.getContext("2d", { willReadFrequently: true });
  context.drawImage(source, 0, 0);
  const data = context.getImageData(0, 0, copy.width, copy.height).data;
  let dark = 0, red = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] < 110 && data[i + 1] < 110 && data[i + 2] < 110) dark += 1;
    if (data[i] > 150 && data[i + 1] < 90 && data[i + 2] < 90) red += 1;
  }
  return { dark, red, width: source.width, height: source.height };
}"""

# Select the text layer of a page as a reader would (a range over its spans).
SELECT_TEXT = """(selector) => {
  const layer = document.querySelector(selector);
  const range = document.createRange();
  range.selectNodeContents(layer);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  return selection.toString();
}"""


def jpx_page_pdf() -> bytes:
    """One page showing a red JPEG 2000 image (decoded by pdf.js's OpenJPEG WebAssembly)."""
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (210, 20, 20)).save(picture, "JPEG2000")
    data = picture.getvalue()
    content = b"q 400 0 0 400 97 300 cm /Im1 Do Q"
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
            b" /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /XObject /Subtype /Image /Width 64 /Height 64 /Filter /JPXDecode"
            b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        ]
    )


def large_pdf(pages: int = 30) -> bytes:
    """A big agenda file: text pages, a JPEG 2000 page second, a page in fonts it does not
    embed third, and on the last page a large incompressible image (most of the bytes, which
    reading page 1 must not fetch)."""
    pdf = FPDF()
    pdf.add_font("dejavu", fname=str(FONT))
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("dejavu", size=12)
        text = f"Trang {number}. Hồ sơ kỳ họp: phụ lục số liệu chi tiết."
        pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        if number == 2:  # fonts the file does not embed: the viewer brings Symbol's
            pdf.set_font("helvetica", size=14)
            pdf.cell(0, 10, "Helvetica (not embedded)", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("symbol", size=14)
            pdf.cell(0, 10, "abgd")
    noise = random.Random(5).randbytes(900 * 900 * 3)
    pdf.image(Image.frombytes("RGB", (900, 900), noise), x=10, y=40, w=180)
    text = PdfReader(io.BytesIO(bytes(pdf.output())))
    writer = PdfWriter()
    writer.add_page(text.pages[0])
    writer.add_page(PdfReader(io.BytesIO(jpx_page_pdf())).pages[0])
    for page in text.pages[1:]:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class Secretary:
    """The secretary's API client: agenda, uploads, publication."""

    def __init__(self, server: Server, http: aiohttp.ClientSession, world: World) -> None:
        self.api = Api(server.url, http, token=world.tokens["secretary"])
        self.chair = Api(server.url, http, token=world.tokens["chair"])
        self.base = f"/api/v1/meetings/{world.meeting_id}"

    async def item(self, title: str, parent_id: int | None = None, presenter: str = "") -> int:
        """Add an agenda item; its id."""
        body = {"title": title, "parent_id": parent_id, "presenter_name": presenter}
        status, item = await self.api.post(f"{self.base}/agenda", body)
        assert status == 201, item
        return item["id"]

    async def upload(self, title: str, data: bytes, item_id: int | None = None) -> dict[str, Any]:
        """Upload a draft document."""
        form = aiohttp.FormData()
        form.add_field("title", title)
        if item_id is not None:
            form.add_field("agenda_item_id", str(item_id))
        form.add_field("file", data, filename="tai-lieu.pdf", content_type="application/pdf")
        status, document = await self.api.post(f"{self.base}/documents", data=form)
        assert status == 201, document
        return document

    async def publish(self, document_id: int) -> dict[str, Any]:
        """Publish a document now."""
        status, document = await self.api.post(f"{self.base}/documents/{document_id}/publish", {})
        assert status == 200 and document["state"] == "published", document
        return document

    async def new_version(self, document_id: int, data: bytes) -> dict[str, Any]:
        """Upload a new version of a document."""
        form = aiohttp.FormData()
        form.add_field("file", data, filename="tai-lieu-v2.pdf", content_type="application/pdf")
        status, document = await self.api.post(
            f"{self.base}/documents/{document_id}/versions", data=form
        )
        assert status == 201, document
        return document

    async def get(self, path: str) -> Any:
        """GET under the meeting; must be 200."""
        status, body = await self.api.get(self.base + path)
        assert status == 200, body
        return body


def panel(page: Page):  # -> Locator
    """The documents panel."""
    return page.locator("#panel-documents")


def entry(page: Page, document_id: int):  # -> Locator
    """A document's entry in the panel."""
    return panel(page).locator(f'li.docs-doc[data-document-id="{document_id}"]')


def viewer(page: Page):  # -> Locator
    """The viewer's root element."""
    return page.locator("#viewer-area section.pdfv")


async def wait_drawn(page: Page, number: int) -> dict[str, int]:
    """Wait until page ``number``'s canvas holds a drawing; its pixel counts."""
    selector = f'#viewer-area canvas.pdfv-canvas[data-page-number="{number}"]'
    await page.wait_for_function(
        f"() => {{ const c = document.querySelector('{selector}'); return c && c.width > 0; }}"
    )
    pixels = await page.evaluate(CANVAS_PIXELS, selector)
    assert pixels is not None
    return pixels


def pdf_warnings(tab: Tab) -> list[str]:
    """Collect pdf.js's own warnings (it logs them with console.log) from now on."""
    warnings: list[str] = []
    tab.page.on(
        "console",
        lambda message: warnings.append(message.text) if "Warning" in message.text else None,
    )
    return warnings


def assert_clean(*tabs: Tab) -> None:
    """Nothing from elsewhere, no script errors or warnings, no failed request."""
    for tab in tabs:
        assert tab.foreign_requests() == []
        assert tab.problems == [], tab.problems
        assert tab.failures == [], tab.failures


async def test_agenda_documents_viewer_search_zoom_thumbnails_comments_and_live_updates(
    media_browser: Browser,
    media_server: Server,
    media_world: World,
    artifacts: Path,
) -> None:
    """A delegate sees the agenda with its documents, reads one (pages drawn lazily from
    range requests, text layer, zoom, thumbnails, keyboard, search without diacritics),
    comments on a page, and sees new documents and versions arrive while the room is open."""
    server, world = media_server, media_world
    async with aiohttp.ClientSession() as http:
        secretary = Secretary(server, http, world)
        report_item = await secretary.item("Báo cáo kinh tế - xã hội", presenter="Phó Chủ tịch")
        budget_item = await secretary.item("Dự toán ngân sách năm 2027")
        review_item = await secretary.item("Ý kiến thẩm tra", parent_id=budget_item)
        status, _ = await secretary.chair.post(
            f"{secretary.base}/agenda/current", {"item_id": report_item}
        )
        assert status == 200
        report = await secretary.upload("Báo cáo tình hình", text_pdf(REPORT_PAGES), report_item)
        await secretary.publish(report["id"])
        review = await secretary.upload(
            "Báo cáo thẩm tra", text_pdf(["Thẩm tra dự toán"] * 2), review_item
        )
        await secretary.publish(review["id"])
        big_data = large_pdf()
        big = await secretary.upload("Phụ lục số liệu", big_data)
        await secretary.publish(big["id"])
        draft = await secretary.upload("Dự thảo chưa công bố", text_pdf(["Nháp"]), budget_item)

        tab = await join_as_account(media_browser, server, "delegate1", world.meeting_id)
        page = tab.page
        warnings = pdf_warnings(tab)
        ranges: list[tuple[str | None, int, int]] = []  # (Range header, status, body length)

        async def file_answer(response: Response) -> None:
            if re.search(rf"/documents/{big['id']}/versions/\d+/file$", response.url):
                body = await response.body()
                ranges.append((response.request.headers.get("range"), response.status, len(body)))

        page.on("response", file_answer)

        # The agenda in reading order, numbered, the current item marked, documents under
        # their items, general ones first; everything new to this delegate; no draft.
        docs = panel(page)
        await expect(docs.get_by_role("heading", name="Chương trình và tài liệu")).to_be_visible()
        await expect(docs.locator("li.docs-item")).to_have_count(4)
        titles = docs.locator("h3.docs-item-title")
        await expect(titles).to_have_text(
            [
                "Tài liệu chung",
                "1. Báo cáo kinh tế - xã hội",
                "2. Dự toán ngân sách năm 2027",
                "2.1. Ý kiến thẩm tra",
            ]
        )
        current = docs.locator(f'li.docs-item[data-agenda-item-id="{report_item}"]')
        await expect(current).to_have_attribute("aria-current", "step")
        await expect(current.locator(".docs-state-current")).to_have_text("Đang thảo luận")
        await expect(current).to_contain_text("Trình bày: Phó Chủ tịch")
        await expect(current.locator("li.docs-doc")).to_have_count(1)
        await expect(entry(page, report["id"])).to_contain_text("Báo cáo tình hình")
        await expect(entry(page, report["id"])).to_contain_text("5 trang · phiên bản 1")
        review_entry = docs.locator(
            f'li.docs-item[data-agenda-item-id="{review_item}"] li.docs-doc'
        )
        await expect(review_entry).to_have_attribute("data-document-id", str(review["id"]))
        await expect(docs.locator("li.docs-general li.docs-doc")).to_have_attribute(
            "data-document-id", str(big["id"])
        )
        for document in (report, review, big):
            await expect(entry(page, document["id"])).to_have_attribute("data-flag", "new")
            await expect(entry(page, document["id"]).locator(".docs-flag-new")).to_have_text("Mới")
        await expect(entry(page, draft["id"])).to_have_count(0)
        await tab.shoot(artifacts, "panel")

        # The large document: page 1 shows after a few range requests, not the whole file.
        await entry(page, big["id"]).get_by_role("button").click()
        await expect(page.locator("#viewer-area")).to_be_visible()
        await expect(viewer(page)).to_have_attribute("data-state", "ready")
        await expect(viewer(page)).to_have_attribute("data-page", "1")
        first = await wait_drawn(page, 1)
        assert first["dark"] > 50, first  # real glyphs, not a blank page
        fetched = sum(length for _, _, length in ranges)
        assert ranges and all(r is not None and r.startswith("bytes=") for r, _, _ in ranges)
        assert {status for _, status, _ in ranges} == {206}
        assert fetched < len(big_data) / 3, (fetched, len(big_data))
        workers = [worker.url for worker in page.workers]
        assert any(url.endswith("/static/vendor/pdf.worker.min.mjs") for url in workers), workers
        await expect(entry(page, big["id"])).to_have_attribute("data-flag", "")
        await expect(entry(page, big["id"]).get_by_role("button")).to_have_attribute(
            "aria-current", "true"
        )
        # Page 2's JPEG 2000 image, decoded by WebAssembly in the worker under the page's CSP.
        await page.locator("#viewer-area .pdfv-next").click()
        await expect(viewer(page)).to_have_attribute("data-page", "2")
        jpx = await wait_drawn(page, 2)
        assert jpx["red"] > jpx["width"] * jpx["height"] * 0.2, jpx
        assert f"{server.url}/static/vendor/openjpeg.wasm" in tab.requests
        # Page 3's fonts are not in the file: Helvetica from the system, Symbol from the server.
        await page.locator("#viewer-area .pdfv-next").click()
        await expect(viewer(page)).to_have_attribute("data-page", "3")
        assert (await wait_drawn(page, 3))["dark"] > 50
        await expect(
            page.locator('#viewer-area .pdfv-page[data-page-number="3"] .textLayer')
        ).to_contain_text("Helvetica (not embedded)")
        assert f"{server.url}/static/vendor/FoxitSymbol.pfb" in tab.requests
        # Far pages are not drawn: the large image's page stays undrawn.
        assert await page.locator("#viewer-area canvas.pdfv-canvas").count() < 10
        await expect(
            page.locator(f'#viewer-area canvas.pdfv-canvas[data-page-number="{31}"]')
        ).to_have_count(0)

        # The report: text layer, zoom, thumbnails, page box, keyboard.
        await entry(page, report["id"]).get_by_role("button").click()
        view = viewer(page)
        await expect(view).to_have_attribute("data-document-id", str(report["id"]))
        await expect(view).to_have_attribute("data-page", "1")
        await expect(view.get_by_role("heading", level=2)).to_contain_text("Báo cáo tình hình")
        pixels = await wait_drawn(page, 1)
        assert pixels["dark"] > 50, pixels
        layer = '#viewer-area .pdfv-page[data-page-number="1"] .textLayer'
        await expect(page.locator(layer)).to_contain_text("Báo cáo tình hình kinh tế")
        selected = await page.evaluate(SELECT_TEXT, layer)
        assert "huyện Ba Chẽ" in selected, selected

        canvas = page.locator('#viewer-area canvas.pdfv-canvas[data-page-number="1"]')
        before = (await canvas.bounding_box())["width"]
        zoom_value = view.locator(".pdfv-zoom-value")
        fitted = await zoom_value.text_content()
        await view.get_by_role("button", name="Phóng to").click()
        await expect(zoom_value).not_to_have_text(fitted)
        await expect(view.get_by_role("button", name="Vừa chiều rộng")).to_have_attribute(
            "aria-pressed", "false"
        )
        await page.wait_for_function(
            """([selector, before]) => {
              const c = document.querySelector(selector);
              return c && c.getBoundingClientRect().width > before * 1.2;
            }""",
            arg=['#viewer-area canvas.pdfv-canvas[data-page-number="1"]', before],
        )
        zoomed = await page.evaluate(CANVAS_PIXELS, '#viewer-area canvas[data-page-number="1"]')
        assert zoomed["width"] > pixels["width"] * 1.2  # drawn again at the new size
        await view.get_by_role("button", name="Vừa chiều rộng").click()
        await expect(zoom_value).to_have_text(fitted)

        thumbs = view.get_by_role("navigation", name="Trang thu nhỏ")
        await expect(thumbs.get_by_role("button")).to_have_count(5)
        await page.wait_for_function(
            "() => (document.querySelector('#viewer-area canvas[data-thumb-page=\"1\"]') || {})"
            ".width > 0"
        )
        thumb = await page.evaluate(CANVAS_PIXELS, '#viewer-area canvas[data-thumb-page="1"]')
        assert thumb["dark"] > 0, thumb
        await thumbs.get_by_role("button", name="Trang 3").click()
        await expect(view).to_have_attribute("data-page", "3")
        await expect(thumbs.get_by_role("button", name="Trang 3")).to_have_attribute(
            "aria-current", "page"
        )
        await wait_drawn(page, 3)
        pages = view.get_by_role("region", name="Nội dung tài liệu")
        await pages.focus()
        await page.keyboard.press("PageDown")
        await expect(view).to_have_attribute("data-page", "4")
        await page.keyboard.press("PageUp")
        await page.keyboard.press("PageUp")
        await expect(view).to_have_attribute("data-page", "2")
        await page.keyboard.press("=")
        await expect(zoom_value).not_to_have_text(fitted)
        await page.keyboard.press("-")
        await expect(zoom_value).to_have_text(fitted)
        box = view.get_by_label("Đến trang số")
        await box.fill("5")
        await box.press("Enter")
        await expect(view).to_have_attribute("data-page", "5")
        await expect(view.locator(".pdfv-page-count")).to_have_text("/ 5")

        # Search without diacritics finds page 2's words and goes there, highlighted.
        await box.fill("1")
        await box.press("Enter")
        await expect(view).to_have_attribute("data-page", "1")
        search = view.get_by_role("searchbox", name="Tìm trong tài liệu")
        await search.fill("khoang san trai phep")
        await search.press("Enter")
        await expect(view).to_have_attribute("data-page", "2")
        await expect(view.locator(".pdfv-search-status")).to_have_text("Kết quả 1/1")
        hit = view.locator('.pdfv-page[data-page-number="2"] mark.pdfv-hit.selected')
        await expect(hit).to_have_text("khoáng sản trái phép")
        await expect(hit).to_be_in_viewport()
        await search.fill("ngân sách")
        await search.press("Enter")
        await expect(view.locator(".pdfv-search-status")).to_have_text("Kết quả 1/1")
        await expect(view).to_have_attribute("data-page", "3")
        await search.fill("không có từ này")
        await search.press("Enter")
        await expect(view.locator(".pdfv-search-status")).to_have_text("Không tìm thấy")
        await expect(view).to_have_attribute("data-page", "3")
        await tab.shoot(artifacts, "viewer")

        # A comment on page 3, stored with its page.
        comments = view.locator("aside.pdfv-comments")
        await expect(comments.get_by_role("heading")).to_have_text("Ý kiến về trang 3 (0)")
        await comments.get_by_label("Ý kiến của bạn về trang này").fill(
            "Đề nghị làm rõ tỷ lệ chi thường xuyên."
        )
        await comments.get_by_role("button", name="Gửi ý kiến").click()
        await expect(comments.locator("li.pdfv-comment")).to_have_count(1)
        await expect(comments.locator("li.pdfv-comment")).to_contain_text("Người delegate")
        await expect(comments.get_by_role("heading")).to_have_text("Ý kiến về trang 3 (1)")
        stored = await secretary.get(f"/documents/{report['id']}/comments")
        assert [(c["page"], c["body"], c["version"]) for c in stored] == [
            (3, "Đề nghị làm rõ tỷ lệ chi thường xuyên.", 1)
        ]
        receipts = await secretary.get(f"/documents/{report['id']}/receipts")
        readers = {opened["reader"] for opened in receipts["opened"]}
        assert f"account:{world.accounts['delegate']}" in readers

        # Live: a new document appears flagged "Mới"; a new version flags "Cập nhật" and the
        # open viewer offers it; the chair moves the agenda on.
        late = await secretary.upload("Tờ trình bổ sung", text_pdf(["Bổ sung"]), budget_item)
        await secretary.publish(late["id"])
        late_entry = docs.locator(
            f'li.docs-item[data-agenda-item-id="{budget_item}"] > ul li.docs-doc'
        )
        await expect(late_entry).to_have_attribute("data-document-id", str(late["id"]))
        await expect(late_entry).to_have_attribute("data-flag", "new")
        await expect(late_entry.locator(".docs-flag-new")).to_have_text("Mới")
        await expect(page.locator("#toast")).to_have_text("Tài liệu mới: Tờ trình bổ sung")

        await secretary.new_version(report["id"], text_pdf([*REPORT_PAGES, "Trang 6. Phụ lục."]))
        await expect(entry(page, report["id"])).to_have_attribute("data-flag", "updated")
        await expect(entry(page, report["id"]).locator(".docs-flag-updated")).to_have_text(
            "Cập nhật"
        )
        notice = view.locator(".pdfv-notice")
        await expect(notice).to_contain_text("Đã có phiên bản 2 của tài liệu này.")
        await notice.get_by_role("button", name="Mở phiên bản mới").click()
        await expect(view).to_have_attribute("data-version", "2")
        await expect(view.locator(".pdfv-page-count")).to_have_text("/ 6")
        await expect(entry(page, report["id"])).to_have_attribute("data-flag", "")
        await expect(comments.locator("li.pdfv-comment")).to_have_count(0)  # page 1 of v2

        status, _ = await secretary.chair.post(f"{secretary.base}/agenda/next")
        assert status == 200
        await expect(
            docs.locator(f'li.docs-item[data-agenda-item-id="{budget_item}"]')
        ).to_have_attribute("aria-current", "step")
        await expect(current).to_have_attribute("data-state", "done")
        await expect(current).not_to_have_attribute("aria-current", "step")

        await view.get_by_role("button", name="Đóng").click()
        await expect(page.locator("#viewer-area")).to_be_hidden()
        await expect(entry(page, report["id"]).get_by_role("button")).to_be_focused()

        # What was looked at is remembered in this browser: after a reload only the documents
        # never opened are still new.
        await page.reload()
        await expect(page.locator("body[data-joined=true]")).to_be_attached(timeout=30_000)
        await expect(entry(page, review["id"])).to_have_attribute("data-flag", "new")
        await expect(entry(page, late["id"])).to_have_attribute("data-flag", "new")
        await expect(entry(page, report["id"])).to_have_attribute("data-flag", "")
        await expect(entry(page, big["id"])).to_have_attribute("data-flag", "")

        # In English: texts built by the panel and the viewer follow the switch.
        await page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
        await expect(docs.get_by_role("heading", name="Agenda and documents")).to_be_visible()
        await expect(entry(page, review["id"]).locator(".docs-flag-new")).to_have_text("New")
        await expect(entry(page, review["id"])).to_contain_text("2 pages · version 1")
        await entry(page, review["id"]).get_by_role("button").click()
        view = viewer(page)
        await expect(view).to_have_attribute("data-state", "ready")
        await expect(view.locator(".pdfv-title-meta")).to_have_text("(version 1, 2 pages)")
        await expect(view.get_by_role("button", name="Next page")).to_be_visible()
        await expect(view.locator("aside.pdfv-comments").get_by_role("heading")).to_have_text(
            "Comments on page 1 (0)"
        )
        await tab.shoot(artifacts, "viewer-en")

        assert warnings == []
        assert_clean(tab)


async def test_presenter_leads_followers_who_step_out_and_back_and_comments_arrive_live(
    media_browser: Browser,
    media_server: Server,
    media_world: World,
    artifacts: Path,
) -> None:
    """The secretary presents: the delegate's viewer follows page for page, steps out and
    back; an endpoint joining mid-presentation opens at the presenter's page; a comment posted
    on page 2 appears at once for the other; stopping ends it everywhere."""
    server, world = media_server, media_world
    async with aiohttp.ClientSession() as http:
        secretary_api = Secretary(server, http, world)
        document = await secretary_api.upload("Tờ trình dự toán", text_pdf(REPORT_PAGES))
        await secretary_api.publish(document["id"])
        document_id = document["id"]

        secretary = await join_as_account(media_browser, server, "secretary1", world.meeting_id)
        delegate = await join_as_account(media_browser, server, "delegate1", world.meeting_id)
        lead, follower = secretary.page, delegate.page
        lead_view, follow_view = viewer(lead), viewer(follower)

        # Only the hosts get the toggle.
        await entry(follower, document_id).get_by_role("button").click()
        await expect(follow_view).to_have_attribute("data-state", "ready")
        await expect(follow_view.get_by_role("button", name="Trình chiếu")).to_have_count(0)
        await follow_view.locator(".pdfv-next").click()
        await expect(follow_view).to_have_attribute("data-page", "2")

        await entry(lead, document_id).get_by_role("button").click()
        await expect(lead_view).to_have_attribute("data-state", "ready")
        present = lead_view.get_by_role("button", name="Trình chiếu")
        await expect(present).to_have_attribute("aria-pressed", "false")
        await present.click()
        await expect(present).to_have_attribute("aria-pressed", "true")
        await expect(lead_view.locator(".pdfv-banner")).to_contain_text("Bạn đang trình chiếu")
        await expect(follow_view).to_have_attribute("data-page", "1")
        banner = follow_view.locator(".pdfv-banner")
        await expect(banner).to_contain_text("Đang theo người trình chiếu: Người secretary")

        box = lead_view.get_by_label("Đến trang số")
        await box.fill("3")
        await box.press("Enter")
        await expect(lead_view).to_have_attribute("data-page", "3")
        await expect(follow_view).to_have_attribute("data-page", "3")
        await expect(follow_view).to_have_attribute("data-document-id", str(document_id))
        await wait_drawn(follower, 3)
        await delegate.shoot(artifacts, "following")

        # The server holds the presentation: a fresh join's ack carries it.
        client = await sio_client(server, world.tokens["observer"])
        try:
            ack = await client.call("join", {"meeting_id": world.meeting_id}, timeout=10)
        finally:
            await client.disconnect()
        presentation = ack["presentation"]
        assert (presentation["document_id"], presentation["page"]) == (document_id, 3)
        assert presentation["presenter"] == f"account:{world.accounts['secretary']}"

        # An endpoint arriving now opens at the presenter's page straight from its join.
        commune = await join_as_endpoint(
            media_browser, server, world.endpoint_tokens[0], world.meeting_id
        )
        await expect(viewer(commune.page)).to_have_attribute("data-page", "3")
        await expect(viewer(commune.page).locator(".pdfv-banner")).to_contain_text(
            "Người secretary"
        )
        await wait_drawn(commune.page, 3)

        # Stepping out: the delegate browses freely while the presenter moves on.
        await banner.get_by_role("button", name="Rời trình chiếu").click()
        await expect(banner).to_contain_text("Người secretary đang trình chiếu trang 3.")
        await follow_view.locator(".pdfv-prev").click()
        await expect(follow_view).to_have_attribute("data-page", "2")
        await lead_view.locator(".pdfv-next").click()
        await expect(lead_view).to_have_attribute("data-page", "4")
        await expect(banner).to_contain_text("Người secretary đang trình chiếu trang 4.")
        await expect(viewer(commune.page)).to_have_attribute("data-page", "4")
        await expect(follow_view).to_have_attribute("data-page", "2")
        await delegate.shoot(artifacts, "stepped-out")
        await banner.get_by_role("button", name="Theo lại").click()
        await expect(follow_view).to_have_attribute("data-page", "4")
        await expect(banner).to_contain_text("Đang theo người trình chiếu")

        # Both on page 2: the delegate's comment there appears at once for the secretary.
        await lead_view.locator(".pdfv-prev").click()
        await lead_view.locator(".pdfv-prev").click()
        await expect(follow_view).to_have_attribute("data-page", "2")
        await expect(lead_view).to_have_attribute("data-page", "2")
        body = "Trang 2 cần số liệu theo từng xã."
        comments = follow_view.locator("aside.pdfv-comments")
        await comments.get_by_label("Ý kiến của bạn về trang này").fill(body)
        await comments.get_by_role("button", name="Gửi ý kiến").click()
        await expect(comments.get_by_role("status")).to_have_text("Đã gửi ý kiến về trang 2.")
        lead_comments = lead_view.locator("aside.pdfv-comments li.pdfv-comment")
        await expect(lead_comments).to_have_count(1)
        await expect(lead_comments).to_contain_text(body)
        await expect(lead_comments).to_contain_text("Người delegate")
        stored = await secretary_api.get(f"/documents/{document_id}/comments")
        assert [(c["page"], c["body"]) for c in stored] == [(2, body)]
        await secretary.shoot(artifacts, "presenting")

        # Stopping ends it everywhere; the followers keep the document where it was.
        await present.click()
        await expect(present).to_have_attribute("aria-pressed", "false")
        await expect(banner).to_be_hidden()
        await expect(follower.locator("#toast")).to_have_text(
            "Người secretary đã kết thúc trình chiếu."
        )
        await expect(follow_view).to_have_attribute("data-page", "2")
        client = await sio_client(server, world.tokens["observer"])
        try:
            ack = await client.call("join", {"meeting_id": world.meeting_id}, timeout=10)
        finally:
            await client.disconnect()
        assert ack["presentation"] is None

        assert_clean(secretary, delegate, commune)
