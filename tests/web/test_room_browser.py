"""The meeting room in real Chromium (fake camera and microphone) against a real server:
a chair and two commune endpoints join and see each other; a network drop and its return.

SQLite only (``media_server``): these tests exercise the browser client and the SFU; both
database backends are covered by the API tests.
"""

import re
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.chromium import needs_chromium
from tests.harness import Server, World, build_world
from tests.web.helpers_room import (
    join_as_account,
    join_as_endpoint,
    media_browser,
    open_room_refused,
    video_plays,
)

pytestmark = needs_chromium
__all__ = ["media_browser"]


async def test_chair_and_two_endpoints_join_and_see_each_other(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """Endpoints see the chair in the spotlight; the chair sees both endpoints in the grid."""
    server, world = media_server, media_world
    chair = await join_as_account(media_browser, server, "chair1", world.meeting_id)
    communes = [
        await join_as_endpoint(media_browser, server, token, world.meeting_id)
        for token in world.endpoint_tokens
    ]
    chair_key = f"account:{world.accounts['chair']}"
    for tab in communes:
        await video_plays(tab.page, chair_key)
        spotlight = tab.page.locator("#spotlight figure.tile")
        await expect(spotlight).to_have_attribute("data-participant", chair_key)
    for endpoint in world.endpoints:
        await video_plays(chair.page, f"endpoint:{endpoint}")
    await chair.shoot(artifacts, "chair")
    await communes[0].shoot(artifacts, "commune")
    for tab in (chair, *communes):
        assert tab.foreign_requests() == []
        assert tab.problems == [], tab.problems


async def test_a_network_drop_shows_its_state_and_video_plays_again_after_it(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """context.set_offline: the page says it is reconnecting; back online it joins again and
    the chair's video plays again (framesDecoded rising on the new connection)."""
    server, world = media_server, media_world
    chair = await join_as_account(media_browser, server, "chair1", world.meeting_id)
    commune = await join_as_endpoint(
        media_browser, server, world.endpoint_tokens[0], world.meeting_id
    )
    chair_key = f"account:{world.accounts['chair']}"
    await video_plays(commune.page, chair_key)
    page = commune.page
    before = await page.evaluate("window.phonghop.room.client.negotiations")

    await page.context.set_offline(True)
    banner = page.locator("#net-banner")
    await expect(banner).to_be_visible(timeout=60_000)
    await expect(banner).to_have_text("Mất kết nối tới máy chủ, đang kết nối lại…")
    await commune.shoot(artifacts, "offline")
    await page.context.set_offline(False)
    await expect(banner).to_be_hidden(timeout=60_000)
    await expect(page.locator("#net-state")).to_have_text("Đã kết nối")
    # A new session: joined again and negotiated on a new peer connection.
    assert await page.evaluate("window.phonghop.room.client.negotiations") > before
    await video_plays(page, chair_key)
    await video_plays(chair.page, f"endpoint:{world.endpoints[0]}")
    await commune.shoot(artifacts, "online-again")
    for tab in (chair, commune):
        assert tab.foreign_requests() == []
    print("PROBLEMS", commune.problems)


async def test_microphone_camera_and_screen_share_controls(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """The control bar's toggles change what the page sends; a shared screen reaches the
    chair as the large picture and leaves when the share stops; the chair mutes everyone."""
    server, world = media_server, media_world
    chair = await join_as_account(media_browser, server, "chair1", world.meeting_id)
    commune = await join_as_endpoint(
        media_browser, server, world.endpoint_tokens[0], world.meeting_id
    )
    page = commune.page
    sending = "(source) => window.phonghop.room.client.sending(source)"
    mic = page.get_by_role("button", name="Tắt micrô")
    await expect(mic).to_have_attribute("aria-pressed", "true")
    await mic.click()
    await expect(page.get_by_role("button", name="Bật micrô")).to_have_attribute(
        "aria-pressed", "false"
    )
    assert await page.evaluate(sending, "microphone") is False
    await page.get_by_role("button", name="Bật micrô").click()
    assert await page.evaluate(sending, "microphone") is True
    await page.get_by_role("button", name="Tắt camera").click()
    await expect(page.get_by_role("button", name="Bật camera")).to_be_visible()
    assert await page.evaluate(sending, "camera") is False
    await page.get_by_role("button", name="Bật camera").click()
    assert await page.evaluate(sending, "camera") is True

    endpoint_key = f"endpoint:{world.endpoints[0]}"
    await page.get_by_role("button", name="Chia sẻ màn hình").click()
    await expect(page.get_by_role("button", name="Dừng chia sẻ")).to_be_visible()
    screen = chair.page.locator(f'#spotlight figure.tile[data-participant="{endpoint_key}"]')
    await expect(screen).to_have_attribute("data-source", "screen", timeout=30_000)
    await chair.page.wait_for_function(
        "() => document.querySelector('#spotlight video').videoWidth > 0", timeout=30_000
    )
    await chair.shoot(artifacts, "chair-sees-screen")
    await page.get_by_role("button", name="Dừng chia sẻ").click()
    await expect(page.get_by_role("button", name="Chia sẻ màn hình")).to_be_visible()
    await expect(chair.page.locator('figure.tile[data-source="screen"]')).to_have_count(
        0, timeout=30_000
    )
    coordinator = server.state.signaling.media
    conference = coordinator.conferences[world.meeting_id]
    assert [p.source for p in conference.producers.values() if p.key == endpoint_key] == [
        "microphone",
        "camera",
    ]

    await chair.page.get_by_role("button", name="Tắt tiếng tất cả").click()
    await expect(page.get_by_role("button", name="Bật micrô")).to_be_visible(timeout=10_000)
    assert await page.evaluate(sending, "microphone") is False
    await expect(page.locator("#toast")).to_contain_text("Chủ trì đã tắt micrô của bạn")
    assert await chair.page.evaluate(sending, "microphone") is True  # not the chair's own
    for tab in (chair, commune):
        assert tab.foreign_requests() == []


FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const label = el.getAttribute("aria-label")
    || (el.labels && el.labels[0] && el.labels[0].textContent) || el.textContent;
  return { tag: el.tagName.toLowerCase(), id: el.id, role: el.getAttribute("role"),
           name: (label || "").trim() };
}"""


async def test_the_rooms_main_controls_are_labelled_and_reached_by_keyboard(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """Tab walks the top bar, the control bar and the side tabs; every stop has a name;
    arrow keys move between tabs; the page switches to English and back."""
    server, world = media_server, media_world
    chair = await join_as_account(media_browser, server, "chair1", world.meeting_id)
    page = chair.page
    await page.locator("body").click(position={"x": 1, "y": 1})
    stops = []
    for _ in range(40):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        if focused is None:
            continue
        stops.append(focused)
        if focused["id"] == "tab-documents":
            break
    ids = [stop["id"] for stop in stops]
    for control in (
        "lang-top",
        "leave",
        "mic",
        "camera",
        "screen",
        "agenda-next",
        "mute-all",
        "lock",
        "meeting-end",
        "tab-documents",
    ):
        assert control in ids, (control, ids)
    assert ids.index("mic") < ids.index("camera") < ids.index("screen") < ids.index("tab-documents")
    assert all(stop["name"] for stop in stops), [s for s in stops if not s["name"]]
    # Tabs: one tab stop, arrows move between them and show their panel.
    await page.keyboard.press("ArrowRight")
    await expect(page.locator("#tab-speakers")).to_be_focused()
    await expect(page.locator("#panel-speakers")).to_be_visible()
    await page.keyboard.press("End")
    await expect(page.locator("#tab-people")).to_be_focused()
    await expect(page.locator("#panel-people")).to_be_visible()
    await expect(page.locator("#panel-people")).to_contain_text("Người chair (Bạn)")
    # The mic toggles from the keyboard too.
    await page.locator("#mic").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#mic")).to_have_attribute("aria-pressed", "false")
    await chair.shoot(artifacts, "room-vi")

    await page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(page.get_by_role("button", name="Unmute")).to_be_visible()
    await expect(page.get_by_role("tab", name="Participants")).to_be_visible()
    await expect(page.locator("#meeting-state")).to_have_text("Live")
    assert await page.evaluate("document.documentElement.lang") == "en"
    await chair.shoot(artifacts, "room-en")
    assert chair.foreign_requests() == []


async def test_a_media_path_that_fails_gets_a_new_transport_without_rejoining(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """The SFU side of a commune's connection goes away while its socket stays up (what a
    NAT rebinding or a blocked UDP path looks like): the page shows the media state, offers
    again from a new peer connection with restart (aiortc has no ICE restart) and plays again;
    it never re-joins the meeting."""
    server, world = media_server, media_world
    chair = await join_as_account(media_browser, server, "chair1", world.meeting_id)
    commune = await join_as_endpoint(
        media_browser, server, world.endpoint_tokens[0], world.meeting_id
    )
    chair_key = f"account:{world.accounts['chair']}"
    await video_plays(commune.page, chair_key)
    tile = commune.page.locator(f'figure.tile[data-participant="{chair_key}"] .quality')
    await expect(tile).to_have_attribute("data-level", re.compile("^(good|fair|poor)$"))
    page = commune.page
    await page.evaluate(
        """() => {
          const client = window.phonghop.room.client;
          window.mediaStates = [];
          client.addEventListener("media", (e) => window.mediaStates.push(e.detail.state));
          client.addEventListener("joined", () => window.mediaStates.push("joined"));
        }"""
    )
    coordinator = server.state.signaling.media
    conference = coordinator.conferences[world.meeting_id]
    member = next(m for m in conference.members.values() if m.endpoint)
    await coordinator.worker.request("transport.close", {"transport_id": member.transport_id})
    await page.wait_for_function(
        "() => window.mediaStates.includes('restored')", timeout=60_000, polling=250
    )
    assert await page.evaluate("window.mediaStates") == ["restarting", "restored"]
    await expect(page.locator("#net-state")).to_have_text("Đã kết nối", timeout=30_000)
    await video_plays(page, chair_key)
    await video_plays(chair.page, f"endpoint:{world.endpoints[0]}")
    await commune.shoot(artifacts, "restored")
    assert commune.foreign_requests() == []


@pytest.fixture
async def scheduled_world(media_server: Server) -> World:
    """The seeded world on the SQLite media server, its meeting not started yet."""
    async with aiohttp.ClientSession() as http:
        return await build_world(media_server, http)


async def test_chair_starts_puts_a_commune_on_air_locks_the_room_and_ends_the_meeting(
    media_browser: Browser, media_server: Server, scheduled_world: World, artifacts: Path
) -> None:
    """From the room: the chair starts a scheduled meeting, puts a commune on air for
    everyone (participants panel), locks the room (a commune arriving is refused with the
    reason; one already in stays), unlocks it, and ends the meeting for everyone."""
    server, world = media_server, scheduled_world
    mid = world.meeting_id
    chair = await join_as_account(media_browser, server, "chair1", mid)
    page = chair.page
    await expect(page.locator("#meeting-state")).to_have_text("Sắp diễn ra")
    await page.get_by_role("button", name="Bắt đầu cuộc họp").click()
    await expect(page.locator("#meeting-state")).to_have_text("Đang diễn ra")
    await expect(page.get_by_role("button", name="Bắt đầu cuộc họp")).to_be_hidden()
    first = await join_as_endpoint(media_browser, server, world.endpoint_tokens[0], mid)
    first_key = f"endpoint:{world.endpoints[0]}"
    await video_plays(page, first_key)

    # On air: the chair's choice is everyone's spotlight.
    await page.get_by_role("tab", name="Người tham dự").click()
    name = await first.page.evaluate("window.phonghop.room.self.name")
    await page.get_by_role("button", name=f"Đưa lên màn hình chính: {name}").click()
    await expect(page.locator(f'li.person[data-participant="{first_key}"] .on-air')).to_be_visible()
    await expect(page.get_by_role("button", name=f"Trả về chủ trì: {name}")).to_be_visible()

    # Locked: a second commune is refused and told why; the first stays in.
    await page.get_by_role("button", name="Khóa phòng").click()
    await expect(page.locator("#meeting-locked")).to_be_visible()
    await expect(first.page.locator("#meeting-locked")).to_be_visible()
    second = await open_room_refused(media_browser, server, world.endpoint_tokens[1], mid)
    await expect(second.page.locator("#boot-error")).to_have_text(
        "Phòng họp đã bị khóa. Hãy liên hệ chủ trì hoặc thư ký."
    )
    await second.shoot(artifacts, "refused-locked")
    await page.get_by_role("button", name="Mở khóa phòng").click()
    await expect(first.page.locator("#meeting-locked")).to_be_hidden()

    # Ended: a confirm, then every page says so.
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Kết thúc cuộc họp").click()
    for tab in (chair, first):
        await expect(tab.page.locator("#boot-status")).to_have_text(
            "Cuộc họp đã kết thúc. Cảm ơn bạn đã tham dự."
        )
    await first.shoot(artifacts, "ended")
    for tab in (chair, first, second):
        assert tab.foreign_requests() == []
