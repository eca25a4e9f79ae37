"""The shell in real Chromium against a real server: login, "my meetings", languages, device
link, keyboard, layout.

Every page records each request it makes; none may leave the server's origin. Screenshots of
each page at 1366×768 and 390×844 are saved under test-artifacts/web/.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Response, expect

from tests.chromium import needs_chromium
from tests.harness import USER_PASSWORD, Api, Server, World
from tests.web.conftest import DESKTOP, PHONE

pytestmark = needs_chromium

UPCOMING_TITLE = "Họp chuẩn bị kỳ họp HĐND"


@dataclass
class Tab:
    """One browser page and what it did."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # script errors and console warnings
    failures: list[tuple[int, str]] = field(default_factory=list)  # HTTP answers >= 400

    def foreign_requests(self) -> list[str]:
        """Requests to anywhere but the server (data: and blob: never leave the browser)."""
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in {"data", "blob"}
            and f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" != self.origin
        ]

    def console(self, message: ConsoleMessage) -> None:
        """Keep errors and warnings; failed loads are kept (with their URL) by answered()."""
        if message.type in {"error", "warning"} and not message.text.startswith(
            "Failed to load resource"
        ):
            self.problems.append(f"console {message.type}: {message.text}")

    def answered(self, response: Response) -> None:
        """Keep every HTTP failure as (status, path)."""
        if response.status >= 400:
            self.failures.append((response.status, urlsplit(response.url).path))

    async def shoot(self, directory: Path, name: str) -> None:
        """Screenshots at the meeting-room screen size and the phone size."""
        for label, size in (("1366x768", DESKTOP), ("390x844", PHONE)):
            await self.page.set_viewport_size(size)
            await self.page.screenshot(path=str(directory / f"{name}-{label}.png"), full_page=True)
            # Nothing wider than the screen: no sideways scrolling on a phone.
            overflow = await self.page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways at {label}"
        await self.page.set_viewport_size(DESKTOP)


async def open_tab(browser: Browser, server: Server) -> Tab:
    """A fresh context (no cookies, no storage) at the meeting-room screen size."""
    context = await browser.new_context(
        viewport=DESKTOP, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh"
    )
    tab = Tab(await context.new_page(), server.url)
    tab.page.on("request", lambda request: tab.requests.append(request.url))
    tab.page.on("pageerror", lambda error: tab.problems.append(f"pageerror: {error}"))
    tab.page.on("console", tab.console)
    tab.page.on("response", tab.answered)
    return tab


async def start_meeting(server: Server, http: aiohttp.ClientSession, world: World) -> None:
    """The chair starts the seeded meeting and schedules another one for later."""
    chair = Api(server.url, http, token=world.tokens["chair"])
    status, body = await chair.post(f"/api/v1/meetings/{world.meeting_id}/start")
    assert status == 200, body
    starts = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    status, body = await chair.post(
        "/api/v1/meetings",
        {
            "title": UPCOMING_TITLE,
            "starts_at": starts.isoformat(),
            "chair_id": world.accounts["chair"],
            "secretary_id": world.accounts["secretary"],
        },
    )
    assert status == 201, body


def meeting_item(page: Page, meeting_id: int):  # -> Locator
    """The list item of one meeting."""
    return page.locator(f'li.meeting[data-meeting-id="{meeting_id}"]')


async def log_in(page: Page, username: str, password: str) -> None:
    """Fill the login form and submit it with the button."""
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu").fill(password)
    await page.get_by_role("button", name="Đăng nhập").click()


async def test_chair_logs_in_sees_live_meeting_switches_language_and_logs_out(
    browser: Browser, server: Server, http: aiohttp.ClientSession, world: World, artifacts: Path
) -> None:
    """Vietnamese by default; English on request, kept across a reload; logout ends it."""
    await start_meeting(server, http, world)
    tab = await open_tab(browser, server)
    page = tab.page
    response = await page.goto(server.url + "/")
    assert response is not None and response.status == 200
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "vi"
    await tab.shoot(artifacts, "login-vi")

    await log_in(page, "chair1", USER_PASSWORD)
    await expect(page.get_by_role("heading", name="Cuộc họp của tôi")).to_be_visible()
    live = meeting_item(page, world.meeting_id)
    await expect(live).to_contain_text("Giao ban tháng 11")
    await expect(live.locator(".badge")).to_have_text("Đang diễn ra")
    join = live.get_by_role("link", name="Tham gia cuộc họp: Giao ban tháng 11")
    await expect(join).to_have_text("Tham gia")
    assert await join.get_attribute("href") == f"/meetings/{world.meeting_id}"
    await expect(page.locator("#live-list li")).to_have_count(1)
    upcoming = page.locator("#upcoming-list li.meeting")
    await expect(upcoming).to_have_count(1)
    await expect(upcoming.locator(".badge")).to_have_text("Sắp diễn ra")
    await expect(upcoming).to_contain_text(UPCOMING_TITLE)
    await expect(upcoming.locator("a.join")).to_have_count(0)  # not live: nothing to join
    # The chair hosts it: the secretary's console is offered before the meeting too.
    desk = upcoming.get_by_role("link", name=f"Bàn thư ký của cuộc họp: {UPCOMING_TITLE}")
    href = await desk.get_attribute("href") or ""
    assert href.startswith("/meetings/") and href.endswith("/console"), href
    await expect(page.locator("#who")).to_have_text("Người chair (Chủ trì)")
    await tab.shoot(artifacts, "meetings-vi")

    await page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(live.locator(".badge")).to_have_text("Live")
    await expect(page.get_by_role("heading", name="My meetings")).to_be_visible()
    await expect(upcoming.locator(".badge")).to_have_text("Upcoming")
    join_en = live.get_by_role("link", name="Join the meeting: Giao ban tháng 11")
    await expect(join_en).to_have_text("Join")
    assert await page.evaluate("document.documentElement.lang") == "en"
    assert await page.title() == "Online meeting room"

    await page.reload()
    await expect(live.locator(".badge")).to_have_text("Live")  # the cookie session survives
    assert await page.evaluate("document.documentElement.lang") == "en"
    await expect(page.locator("#who")).to_have_text("Người chair (Chair)")
    await tab.shoot(artifacts, "meetings-en")

    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.locator("#meetings-view")).to_be_hidden()
    status = await page.evaluate("fetch('/api/v1/auth/me').then(r => r.status)")
    assert status == 401  # the session is gone on the server, not only hidden
    await page.reload()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    assert tab.foreign_requests() == []
    assert tab.problems == []
    assert tab.failures == [(401, "/api/v1/auth/me")]  # only the check made on purpose


async def test_wrong_password_shows_the_translated_error_only(
    browser: Browser, server: Server, world: World, artifacts: Path
) -> None:
    """A failed login says so in the current language and nothing else changes."""
    tab = await open_tab(browser, server)
    page = tab.page
    await page.goto(server.url + "/")
    await log_in(page, "chair1", "not-the-password")
    error = page.get_by_role("alert")
    await expect(error).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")
    await expect(page.locator("#meetings-view")).to_be_hidden()
    await expect(page.locator("#account-bar")).to_be_hidden()
    await expect(page.get_by_label("Mật khẩu")).to_be_focused()
    await expect(page.get_by_label("Mật khẩu")).to_have_value("")
    cookies = await page.context.cookies()
    assert [c["name"] for c in cookies] == []  # no session was opened
    await tab.shoot(artifacts, "login-error-vi")

    await page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(error).to_have_text("Wrong username or password.")
    assert tab.foreign_requests() == []
    assert tab.problems == []
    assert tab.failures == [(401, "/api/v1/auth/login")]  # the refused login, nothing else


async def test_device_link_opens_the_endpoints_live_meeting(
    browser: Browser, server: Server, http: aiohttp.ClientSession, world: World, artifacts: Path
) -> None:
    """/device#token=... logs the endpoint in and lands on its live meeting.

    The room page is not served yet, so the device lands on "my meetings" showing only its
    live meeting (/?meeting=<id>), with the join link. The token never appears in a URL the
    browser requests, nor in the address bar afterwards.
    """
    await start_meeting(server, http, world)
    token = world.endpoint_tokens[0]
    tab = await open_tab(browser, server)
    page = tab.page
    answers: list[int] = []
    page.on(
        "response",
        lambda r: answers.append(r.status) if r.request.is_navigation_request() else None,
    )
    await page.goto(f"{server.url}/device#token={token}")
    await page.wait_for_url(f"{server.url}/?meeting={world.meeting_id}")
    assert answers == [200, 200]  # /device, then /?meeting=<id>
    live = meeting_item(page, world.meeting_id)
    await expect(live.locator(".badge")).to_have_text("Đang diễn ra")
    assert await live.get_by_role("link").get_attribute("href") == f"/meetings/{world.meeting_id}"
    await expect(page.locator("li.meeting")).to_have_count(1)  # filtered to that meeting
    await expect(page.locator("#meetings-filter")).to_be_visible()
    await expect(page.locator("#who")).to_have_text(f"Điểm cầu {world.communes[0]} (Điểm cầu)")
    assert token not in page.url
    assert not any(token in url for url in tab.requests)
    await tab.shoot(artifacts, "device-meeting-vi")

    await page.get_by_role("link", name="Xem tất cả cuộc họp").click()
    await page.wait_for_url(f"{server.url}/")
    await expect(meeting_item(page, world.meeting_id)).to_be_visible()
    await expect(page.locator("#meetings-filter")).to_be_hidden()
    assert tab.foreign_requests() == []
    assert tab.problems == []
    assert tab.failures == []


async def test_device_link_with_a_revoked_or_missing_token(
    browser: Browser, server: Server, artifacts: Path
) -> None:
    """A bad token is refused with a translated message; a link without one says so."""
    tab = await open_tab(browser, server)
    page = tab.page
    await page.goto(f"{server.url}/device#token=phd_not-a-real-token")
    await expect(page.get_by_role("alert")).to_have_text(
        "Mã thiết bị không hợp lệ hoặc đã bị thu hồi. "
        "Hãy liên hệ quản trị viên để được cấp liên kết mới."
    )
    assert page.url == f"{server.url}/device"  # the fragment is gone from the address bar
    await tab.shoot(artifacts, "device-error-vi")
    await page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(page.get_by_role("alert")).to_contain_text("The device token is unknown")

    await page.goto(f"{server.url}/device")
    await expect(page.get_by_role("alert")).to_contain_text("The sign-in link has no device token")
    await expect(page.get_by_role("link", name="Go to the home page")).to_be_visible()
    assert tab.foreign_requests() == []
    assert tab.problems == []
    assert tab.failures == [(401, "/api/v1/auth/device")]


async def test_login_form_is_keyboard_operable(
    browser: Browser, server: Server, http: aiohttp.ClientSession, world: World
) -> None:
    """Tab walks username, password, language, submit (each named); Enter submits."""
    await start_meeting(server, http, world)
    tab = await open_tab(browser, server)
    page = tab.page
    await page.goto(server.url + "/")
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    order = [
        page.get_by_role("textbox", name="Tên đăng nhập"),
        page.get_by_label("Mật khẩu"),
        page.get_by_role("combobox", name="Ngôn ngữ"),
        page.get_by_role("button", name="Đăng nhập"),
    ]
    for control in order:
        await page.keyboard.press("Tab")
        await expect(control).to_be_focused()
    names = await page.evaluate(
        """() => [...document.querySelectorAll("#login-form :is(input, select, button)")]
            .map(e => (e.labels && e.labels.length ? e.labels[0] : e).textContent.trim())"""
    )
    assert names == ["Tên đăng nhập", "Mật khẩu", "Ngôn ngữ", "Đăng nhập"]

    # The language switch works from the keyboard too.
    await order[2].focus()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await page.keyboard.press("ArrowUp")
    await expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()

    await order[0].focus()
    await page.keyboard.type("chair1")
    await page.keyboard.press("Tab")
    await page.keyboard.type(USER_PASSWORD)
    await page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Cuộc họp của tôi")
    await expect(heading).to_be_focused()  # focus follows the user to the new view

    # The meetings view's controls are reachable in order, and the join link is named. The
    # heading takes focus at once and the list arrives after it: tab once it is there (a
    # slow server left the test tabbing through an empty list).
    join = page.get_by_role("link", name="Tham gia cuộc họp: Giao ban tháng 11")
    await expect(join).to_be_visible()
    await expect(heading).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Làm mới")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(join).to_be_focused()
    logout = page.get_by_role("button", name="Đăng xuất")
    await logout.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    await expect(order[0]).to_be_focused()
    assert tab.problems == []
    assert tab.failures == []


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_every_translated_element_is_filled(
    browser: Browser, server: Server, lang: str
) -> None:
    """After load, each data-i18n element shows the catalogue's text for its key."""
    tab = await open_tab(browser, server)
    page = tab.page
    await page.goto(server.url + "/")
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    if lang == "en":
        await page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
        await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    mismatches = await page.evaluate(
        """async (lang) => {
            const catalogue = await (await fetch(`/static/i18n/${lang}.json`)).json();
            return [...document.querySelectorAll('[data-i18n]')]
                .filter(e => e.textContent !== catalogue[e.dataset.i18n])
                .map(e => e.dataset.i18n);
        }""",
        lang,
    )
    assert mismatches == []


async def test_session_ended_elsewhere_returns_to_login_with_a_message(
    browser: Browser, server: Server, world: World
) -> None:
    """When the server no longer knows the session, the page says so and shows the login."""
    tab = await open_tab(browser, server)
    page = tab.page
    await page.goto(server.url + "/")
    await log_in(page, "chair1", USER_PASSWORD)
    await expect(meeting_item(page, world.meeting_id)).to_be_visible()
    # End the session behind the page's back (as another tab's logout would).
    status = await page.evaluate(
        """() => fetch('/api/v1/auth/logout', {method: 'POST', headers: {'X-CSRF-Token':
            document.cookie.match(/phonghop_csrf=([^;]+)/)[1]}}).then(r => r.status)"""
    )
    assert status == 204
    await page.get_by_role("button", name="Làm mới").click()
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    await expect(page.locator("#boot-status")).to_have_text(
        "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại."
    )
    await page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(page.locator("#boot-status")).to_have_text(
        "Your session has expired. Please log in again."
    )
    await page.get_by_label("Username").fill("chair1")
    await page.get_by_label("Password").fill(USER_PASSWORD)
    await page.get_by_label("Password").press("Enter")
    await expect(page.get_by_role("heading", name="My meetings")).to_be_visible()
    await expect(page.locator("#boot-status")).to_be_hidden()
    assert tab.failures == [(401, "/api/v1/meetings")]
