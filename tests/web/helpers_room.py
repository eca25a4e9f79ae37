"""Shared by the meeting room's browser tests: Chromium with fake camera and microphone,
pages logged in as an account or as an endpoint device, and checks that video really plays."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.chromium import launched
from tests.harness import USER_PASSWORD, Server
from tests.web.conftest import CHROMIUM_ARGS
from tests.web.test_shell_browser import Tab, log_in, open_tab

MEDIA_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
async def media_browser() -> AsyncIterator[Browser]:
    """A headless Chromium whose camera and microphone are Chromium's test pattern and tone."""
    async with launched(MEDIA_ARGS) as chromium:
        yield chromium


async def join_as_account(browser: Browser, server: Server, username: str, meeting_id: int) -> Tab:
    """Log in with the password form, then open the room (the "next" link brings us back)."""
    tab = await open_tab(browser, server)
    await tab.page.goto(f"{server.url}/meetings/{meeting_id}")
    await tab.page.wait_for_url(f"{server.url}/?next=%2Fmeetings%2F{meeting_id}")
    await log_in(tab.page, username, USER_PASSWORD)
    await tab.page.wait_for_url(f"{server.url}/meetings/{meeting_id}")
    await expect(tab.page.locator("body[data-joined=true]")).to_be_attached(timeout=30_000)
    return tab


async def join_as_endpoint(browser: Browser, server: Server, token: str, meeting_id: int) -> Tab:
    """The device link, then the room (as a commune's meeting-room PC would)."""
    tab = await open_tab(browser, server)
    await tab.page.goto(f"{server.url}/device#token={token}")
    await tab.page.wait_for_url(f"{server.url}/?meeting={meeting_id}")
    await tab.page.get_by_role("link", name="Tham gia", exact=False).first.click()
    await tab.page.wait_for_url(f"{server.url}/meetings/{meeting_id}")
    await expect(tab.page.locator("body[data-joined=true]")).to_be_attached(timeout=30_000)
    return tab


VIDEO_STATE = """(selector) => {
  const video = document.querySelector(selector);
  return video ? { width: video.videoWidth, height: video.videoHeight } : null;
}"""

FRAMES_DECODED = """async (participant) => {
  const { room } = window.phonghop;
  const mid = room.client.showing(participant, "camera");
  if (mid === null) return null;
  const stats = await room.client.inboundStats(mid);
  return stats ? stats.framesDecoded : null;
}"""


async def video_plays(page: Page, participant: str, within_s: float = 30.0) -> None:
    """The tile of ``participant`` shows a picture and its decoder keeps producing frames."""
    selector = f'figure.tile[data-participant="{participant}"] video'
    await expect(page.locator(selector)).to_be_attached(timeout=within_s * 1000)
    await page.wait_for_function(
        f"() => (document.querySelector('{selector}') || {{}}).videoWidth > 0",
        timeout=within_s * 1000,
    )
    first = await page.evaluate(FRAMES_DECODED, participant)
    await page.wait_for_function(
        f"""async () => {{
          const decoded = await ({FRAMES_DECODED})({participant!r});
          return decoded !== null && decoded > {first or 0} + 10;
        }}""",
        timeout=within_s * 1000,
        polling=500,
    )


async def open_room_refused(browser: Browser, server: Server, token: str, meeting_id: int) -> Tab:
    """An endpoint whose device link works but whose join the server refuses: the room page
    stays on its error."""
    tab = await open_tab(browser, server)
    await tab.page.goto(f"{server.url}/device#token={token}")
    await tab.page.wait_for_url(f"{server.url}/?meeting={meeting_id}")
    # Through the meeting's link, as a device user would: the list rendered means the device's
    # credentials work, so what the room page then shows is the join's refusal.
    await tab.page.get_by_role("link", name="Tham gia", exact=False).first.click()
    await tab.page.wait_for_url(f"{server.url}/meetings/{meeting_id}")
    await expect(tab.page.locator("#boot-error")).to_be_visible(timeout=30_000)
    return tab
