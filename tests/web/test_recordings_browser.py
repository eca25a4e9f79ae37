"""Recording in the web client, in real Chromium (fake camera and microphone) against a real
server: the room's indicator and the chair's record toggle, then the recordings page (list,
player, timeline, download with Range, the separate track files, deletion by an administrator,
refusal of an outsider).

The recording is real: the server's recorder writes what the SFU forwards from the pages'
fake devices; the page plays that file. Every step is checked against the API as well as on
screen. SQLite only (``media_server``): the recordings' storage is covered on both backends by
the API tests.
"""

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from playwright.async_api import Browser, Page, Response, expect

from meetings.recording_models import RecordingState
from signaling.realtime.recording_events import desk_of
from tests.chromium import needs_chromium
from tests.harness import ADMIN_PASSWORD, USER_PASSWORD, Api, Server, World
from tests.web.helpers_room import join_as_account, join_as_endpoint, media_browser, video_plays
from tests.web.test_shell_browser import Tab, log_in, open_tab
from tests.web.test_shell_i18n import catalogue

pytestmark = needs_chromium
__all__ = ["media_browser"]

ITEM_1 = "Báo cáo tình hình kinh tế – xã hội tháng 11"
ITEM_2 = "Công tác phòng chống thiên tai"
DELEGATE = "Người delegate"
SHA256 = re.compile(r"[0-9a-f]{64}")


async def api_call(
    server: Server, token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """A request under /api/v1 with a bearer token: (status, decoded body)."""
    async with aiohttp.ClientSession() as http:
        return await Api(server.url, http, token=token).request(method, "/api/v1" + path, body)


async def api_ok(server: Server, token: str, method: str, path: str, body: Any = None) -> Any:
    """A request that must succeed (2xx); its decoded body."""
    status, answer = await api_call(server, token, method, path, body)
    assert 200 <= status < 300, (method, path, status, answer)
    return answer


def assert_clean(*tabs: Tab) -> None:
    """Nothing loaded from elsewhere, no script errors or warnings on any page."""
    for tab in tabs:
        assert tab.foreign_requests() == []
        assert tab.problems == [], tab.problems


def file_statuses(page: Page, recording_path: str) -> list[int]:
    """From now on, the status of every answer the page gets for the recording's file."""
    statuses: list[int] = []

    def seen(response: Response) -> None:
        if urlsplit(response.url).path == recording_path:
            statuses.append(response.status)

    page.on("response", seen)
    return statuses


async def open_logged_out(
    tab: Tab, server: Server, path: str, username: str, password: str = USER_PASSWORD
) -> None:
    """Open ``path`` logged out: the login page brings the user back to it."""
    page = tab.page
    response = await page.goto(server.url + path)
    assert response is not None and response.status == 200
    await expect(page).to_have_url(f"{server.url}/?next={quote(path, safe='')}")
    await log_in(page, username, password)
    # Back where they asked to go (the recordings page names the one it shows after a #).
    await expect(page).to_have_url(re.compile(re.escape(server.url + path) + "(#.*)?$"))


VIDEO = "document.getElementById('player-video')"
SOURCES = {"camera": "Camera", "microphone": "Micrô", "screen": "Chia sẻ màn hình"}


def clock(seconds: float) -> str:
    """A position as the page writes it: mm:ss (h:mm:ss from an hour on)."""
    whole = int(seconds)
    hours, minutes, secs = whole // 3600, whole % 3600 // 60, whole % 60
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes:02}:{secs:02}"


async def check_tracks(page: Page, detail: dict[str, Any]) -> None:
    """The page lists the recording's track files as the API does: whose (named as the
    timeline names speakers, else the key), which source, from when, how long, size, hash."""
    names = {e["speaker"]: e["name"] for e in detail["timeline"] if e["kind"] == "speaker"}
    section = page.get_by_role("region", name="Tệp riêng từng nguồn")
    await expect(section).to_be_visible()
    rows = section.locator("li.track")
    await expect(rows).to_have_count(len(detail["tracks"]))
    for n, track in enumerate(detail["tracks"]):
        row = rows.nth(n)
        title = f"{names.get(track['participant'], track['participant'])} – "
        title += SOURCES[track["source"]]
        await expect(row).to_have_attribute("data-track-number", str(track["number"]))
        await expect(row.get_by_role("heading")).to_have_text(title)
        await expect(row.locator("code.sha256")).to_have_text(track["sha256"])
        await expect(row).to_contain_text(f"{track['size']:,}".replace(",", ".") + " byte")
        await expect(row.locator("dd time").first).to_have_text(clock(track["offset_s"]))
        await expect(row.locator("dd time").nth(1)).to_have_text(clock(track["duration_s"]))
        link = row.get_by_role("link", name=f"Tải xuống tệp riêng: {title}")
        await expect(link).to_have_text("Tải xuống")


async def saved_track(page: Page, detail: dict[str, Any], track: dict[str, Any]) -> None:
    """Its download link saves the track's file: the bytes the API describes, named for it."""
    row = page.locator(f'#track-list li.track[data-track-number="{track["number"]}"]')
    async with page.expect_download() as download_info:
        await row.get_by_role("link", name=re.compile("^Tải xuống tệp riêng: ")).click()
    download = await download_info.value
    name = f"phien-hop-{detail['meeting_id']}-ghi-hinh-{detail['id']}-{track['name']}"
    assert download.suggested_filename == name
    body = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert len(body) == track["size"]
    assert hashlib.sha256(body).hexdigest() == track["sha256"]


async def test_chair_records_and_the_recording_plays_back_with_its_timeline(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """The chair records a few seconds (an agenda item, a speaker, the next item meanwhile):
    both pages show the indicator, then not; the API has the file's size, duration and hash;
    the secretary opens the recordings page from the desk, plays it (duration as the API's),
    jumps with the timeline (marked as it plays) and gets the file with Range."""
    server, world = media_server, media_world
    mid = world.meeting_id
    base = f"/meetings/{mid}"
    chair_token, secretary_token = world.tokens["chair"], world.tokens["secretary"]
    # Each producer is also written to its own file (PHONGHOP_RECORDING_TRACKS, as if set).
    assert server.state.signaling is not None
    desk_of(server.state.signaling).tracks = True
    for title in (ITEM_1, ITEM_2):
        await api_ok(server, secretary_token, "POST", f"{base}/agenda", {"title": title})
    await api_ok(server, chair_token, "POST", f"{base}/agenda/next")  # item 1 is current

    chair = await join_as_account(media_browser, server, "chair1", mid)
    commune = await join_as_endpoint(media_browser, server, world.endpoint_tokens[0], mid)
    await video_plays(commune.page, f"account:{world.accounts['chair']}")
    for tab in (chair, commune):
        await expect(tab.page.locator("#recording-indicator")).to_be_hidden()
    await expect(commune.page.get_by_role("button", name="Ghi hình")).to_have_count(0)

    # The chair starts recording: everyone sees the indicator, announced as a status.
    record = chair.page.get_by_role("button", name="Ghi hình", exact=True)
    await expect(record).to_have_attribute("aria-pressed", "false")
    await record.click()
    stop = chair.page.get_by_role("button", name="Dừng ghi hình")
    await expect(stop).to_have_attribute("aria-pressed", "true")
    for tab in (chair, commune):
        indicator = tab.page.locator("#recording-indicator")
        await expect(indicator).to_be_visible()
        await expect(indicator).to_have_attribute("role", "status")
        await expect(indicator).to_contain_text("Đang ghi hình")
        await expect(indicator).to_contain_text("bắt đầu lúc")
        # The elapsed time counts up from the server's start.
        await expect(indicator.locator(".rec-elapsed")).to_have_text(
            re.compile(r"^0:(0[1-9]|[1-5]\d)$")
        )
    [running] = await api_ok(server, chair_token, "GET", f"{base}/recordings")
    assert running["state"] == "recording"
    assert running["started_by"] == f"account:{world.accounts['chair']}"
    link = chair.page.get_by_role("link", name="Bản ghi hình của cuộc họp")
    assert await link.get_attribute("href") == f"{base}/recordings"
    await chair.shoot(artifacts, "chair-recording")

    # Meanwhile: the delegate is given the floor, then the next item is taken up.
    await asyncio.sleep(0.8)
    asked = await api_ok(server, world.tokens["delegate"], "POST", f"{base}/speakers", {})
    await api_ok(server, chair_token, "POST", f"{base}/speakers/{asked['id']}/grant")
    await asyncio.sleep(1.0)
    await api_ok(server, chair_token, "POST", f"{base}/agenda/next")
    await asyncio.sleep(1.0)

    await stop.click()
    for tab in (chair, commune):
        await expect(tab.page.locator("#recording-indicator")).to_be_hidden()
    await expect(record).to_have_attribute("aria-pressed", "false")
    [done] = await api_ok(server, chair_token, "GET", f"{base}/recordings")
    assert done["id"] == running["id"] and done["state"] == "ready"
    assert done["size"] > 10_000 and SHA256.fullmatch(done["sha256"])
    assert 2.0 < done["duration_s"] < 15.0, done
    detail = await api_ok(server, chair_token, "GET", f"{base}/recordings/{done['id']}")
    events = [(e["kind"], e.get("title") or e.get("name")) for e in detail["timeline"]]
    assert events == [("agenda", ITEM_1), ("speaker", DELEGATE), ("agenda", ITEM_2)], events
    at = {e.get("title") or e.get("name"): e["at"] for e in detail["timeline"]}
    assert at[ITEM_1] == 0.0 and 0.8 < at[DELEGATE] < at[ITEM_2] < done["duration_s"]
    file_path = f"/api/v1{base}/recordings/{done['id']}/file"
    # The track files: at least the chair's camera and microphone, each with its figures.
    chair_key = f"account:{world.accounts['chair']}"
    tracks = {(t["participant"], t["source"]): t for t in detail["tracks"]}
    assert {(chair_key, "camera"), (chair_key, "microphone")} <= set(tracks), detail["tracks"]
    for track in detail["tracks"]:
        assert track["size"] > 0 and SHA256.fullmatch(track["sha256"]), track
        assert track["offset_s"] is not None and track["duration_s"] > 0, track

    # The commune's device opens the recordings from the room (a new tab that keeps the
    # device's login) and plays its own copy (a device's token cannot ride on a <video>).
    async with commune.page.expect_popup() as popup_info:
        await commune.page.get_by_role("link", name="Bản ghi hình của cuộc họp").click()
    device = await popup_info.value
    device_problems: list[str] = []
    device.on("pageerror", lambda error: device_problems.append(str(error)))
    await expect(device).to_have_url(f"{server.url}{base}/recordings#recording-{done['id']}")
    await expect(device.locator(f'li.recording[data-recording-id="{done["id"]}"]')).to_be_visible()
    await device.wait_for_function(f"() => {VIDEO}.readyState >= 2", timeout=15_000)
    assert (await device.evaluate(f"{VIDEO}.src")).startswith("blob:")
    # Its track files too, saved from a copy fetched with the device's token.
    await check_tracks(device, detail)
    await saved_track(device, detail, tracks[(chair_key, "camera")])
    await device.close()
    assert device_problems == []

    # The secretary: the desk links to the recordings page.
    secretary = await open_tab(media_browser, server)
    await open_logged_out(secretary, server, f"{base}/console", "secretary1")
    page = secretary.page
    statuses = file_statuses(page, file_path)
    await page.get_by_role("link", name="Bản ghi hình").click()
    await expect(page).to_have_url(f"{server.url}{base}/recordings#recording-{done['id']}")
    await expect(page.get_by_role("heading", name="Bản ghi hình", exact=True)).to_be_visible()
    item = page.locator(f'li.recording[data-recording-id="{done["id"]}"]')
    await expect(item).to_have_count(1)
    await expect(item).to_have_attribute("aria-current", "true")
    await expect(item.locator(".badge")).to_have_text("Hoàn tất")
    await expect(item.locator("code.sha256")).to_have_text(done["sha256"])
    await expect(item).to_contain_text(f"{done['size']:,}".replace(",", ".") + " byte")
    await expect(item.get_by_role("button", name=re.compile("^Xem bản ghi: "))).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(item.get_by_role("button", name=re.compile("^Xóa"))).to_have_count(0)
    download = item.get_by_role("link", name=re.compile("^Tải xuống bản ghi: "))
    assert await download.get_attribute("href") == file_path
    # The track files: plain links to the API with the session's cookie.
    await check_tracks(page, detail)
    microphone = tracks[(chair_key, "microphone")]
    track_link = page.locator(
        f'#track-list li.track[data-track-number="{microphone["number"]}"] a.download'
    )
    track_path = f"/api/v1{base}/recordings/{done['id']}/tracks/{microphone['number']}"
    assert await track_link.get_attribute("href") == track_path
    await saved_track(page, detail, microphone)

    # The player: the file plays, as long as the API says, from ranges the server answers.
    await page.wait_for_function(f"() => {VIDEO}.readyState >= 2", timeout=15_000)
    duration = await page.evaluate(f"{VIDEO}.duration")
    assert abs(duration - done["duration_s"]) <= 1.0, (duration, done["duration_s"])
    await page.evaluate(f"{VIDEO}.play()")
    started = await page.evaluate(f"{VIDEO}.currentTime")
    await page.wait_for_function(f"() => {VIDEO}.currentTime > {started} + 0.5", timeout=15_000)
    assert 206 in statuses, statuses

    # The timeline: one button per event, in order; the one playing is marked as it plays.
    buttons = page.locator("#timeline button")
    await expect(buttons).to_have_count(3)
    await expect(buttons.nth(0)).to_have_text(f"00:00 Mục 1: {ITEM_1}")
    await expect(buttons.nth(1)).to_contain_text(f"Phát biểu: {DELEGATE}")
    await expect(buttons.nth(2)).to_contain_text(f"Mục 2: {ITEM_2}")
    await page.evaluate(f"{VIDEO}.pause()")
    await expect(page.locator('#timeline [aria-current="true"]')).to_have_count(1)
    await buttons.nth(2).focus()
    await page.keyboard.press("Enter")  # keyboard: a timeline event is a button
    assert abs(await page.evaluate(f"{VIDEO}.currentTime") - at[ITEM_2]) < 0.05
    await expect(buttons.nth(2)).to_have_attribute("aria-current", "true")
    await expect(page.locator('#timeline [aria-current="true"]')).to_have_count(1)
    await buttons.nth(0).click()
    assert await page.evaluate(f"{VIDEO}.currentTime") == 0
    await expect(buttons.nth(0)).to_have_attribute("aria-current", "true")
    # Just before the speaker (as the seek bar would), then playing on: the mark follows.
    await page.evaluate(f"{VIDEO}.currentTime = {at[DELEGATE] - 0.6}")
    await expect(buttons.nth(0)).to_have_attribute("aria-current", "true")
    await page.evaluate(f"{VIDEO}.play()")
    await expect(buttons.nth(1)).to_have_attribute("aria-current", "true", timeout=15_000)
    await expect(page.locator('#timeline [aria-current="true"]')).to_have_count(1)
    await page.evaluate(f"{VIDEO}.pause()")
    await secretary.shoot(artifacts, "recordings-vi")

    # Download: the link's URL with the page's session, a range of it, and the whole of it
    # is the file the API describes.
    ranged = await page.evaluate(
        """async (href) => {
            const r = await fetch(href, { headers: { Range: "bytes=0-1023" } });
            const body = await r.arrayBuffer();
            return [r.status, body.byteLength, r.headers.get("content-range"),
                    r.headers.get("content-type")];
        }""",
        file_path,
    )
    assert ranged == [206, 1024, f"bytes 0-1023/{done['size']}", "video/webm"], ranged
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {secretary_token}"}
        async with http.get(server.url + file_path, headers=headers) as response:
            assert response.status == 200
            body = await response.read()
    assert len(body) == done["size"]
    assert hashlib.sha256(body).hexdigest() == done["sha256"]
    assert_clean(chair, commune, secretary)


async def test_a_delegate_sees_the_indicator_an_outsider_is_refused_an_admin_deletes(
    media_browser: Browser, media_server: Server, media_world: World, artifacts: Path
) -> None:
    """A delegate sees the indicator but no record button, and the page in English; someone
    not invited is refused the recordings page; an administrator deletes with a reason."""
    server, world = media_server, media_world
    mid = world.meeting_id
    base = f"/meetings/{mid}"
    chair_token, admin_token = world.tokens["chair"], world.tokens["admin"]
    # The chair is there too: the recorder has the chair's picture and voice to write.
    chair = await join_as_account(media_browser, server, "chair1", mid)
    delegate = await join_as_account(media_browser, server, "delegate1", mid)
    page = delegate.page
    await expect(page.locator("#record")).to_be_hidden()
    link = page.get_by_role("link", name="Bản ghi hình của cuộc họp")
    assert await link.get_attribute("href") == f"{base}/recordings"

    # Started and stopped over REST: the delegate's page follows the room's events.
    started = await api_ok(server, chair_token, "POST", f"{base}/recording")
    indicator = page.locator("#recording-indicator")
    await expect(indicator).to_contain_text("Đang ghi hình")
    await expect(page.get_by_role("button", name="Ghi hình")).to_have_count(0)
    await expect(page.get_by_role("button", name="Dừng ghi hình")).to_have_count(0)
    await page.get_by_role("combobox", name="Ngôn ngữ").select_option("en")
    await expect(indicator).to_contain_text("Recording")
    await expect(indicator).to_contain_text("started at")
    await expect(page.get_by_role("link", name="The meeting's recordings")).to_be_visible()
    await delegate.shoot(artifacts, "delegate-recording-en")
    # The chair's page follows too; then it misses the stop (its listener taken away, as a
    # lost event would), and its own "stop" is refused: the refusal is shown, the state read.
    stop = chair.page.get_by_role("button", name="Dừng ghi hình")
    await expect(stop).to_have_attribute("aria-pressed", "true")
    await chair.page.evaluate("window.phonghop.room.client.socket.off('recording.state')")
    await asyncio.sleep(1.5)
    stopped = await api_ok(server, chair_token, "DELETE", f"{base}/recording")
    assert stopped["id"] == started["id"] and stopped["state"] == "ready"
    await expect(indicator).to_be_hidden()
    await expect(page.locator("#toast")).to_have_text("Recording stopped.")
    await stop.click()
    await expect(chair.page.locator("#toast")).to_have_text("Cuộc họp hiện không được ghi hình.")
    record = chair.page.get_by_role("button", name="Ghi hình", exact=True)
    await expect(record).to_have_attribute("aria-pressed", "false")
    await expect(chair.page.locator("#recording-indicator")).to_be_hidden()

    # The meeting ends: the room offers its recordings, in English (the language is kept).
    await api_ok(server, chair_token, "POST", f"{base}/end")
    ended = page.get_by_role("link", name="Watch the meeting's recordings")
    await expect(ended).to_be_visible()
    await ended.click()
    await expect(page).to_have_url(f"{server.url}{base}/recordings#recording-{started['id']}")
    await expect(page.get_by_role("heading", name="Recordings", exact=True)).to_be_visible()
    await expect(page.locator("#meeting-state")).to_have_text("Ended")
    await expect(page.locator("#room-link")).to_be_hidden()
    item = page.locator(f'li.recording[data-recording-id="{started["id"]}"]')
    await expect(item.locator(".badge")).to_have_text("Ready")
    await expect(item).to_contain_text("SHA-256 hash")
    await expect(page.locator("#timeline-heading")).to_have_text("Meeting timeline")
    await expect(page.locator("#timeline-empty")).to_have_text(
        "Nothing was noted during this recording."
    )
    await expect(page.locator("#tracks")).to_be_hidden()  # this server writes none
    await page.wait_for_function(f"() => {VIDEO}.readyState >= 2", timeout=15_000)
    assert await page.title() == "Recordings – Giao ban tháng 11 – Online meeting room"
    await delegate.shoot(artifacts, "recordings-en")

    # Someone not invited: the login brings them back, to the refusal.
    _, outsider = await api_call(
        server,
        admin_token,
        "POST",
        "/accounts",
        {
            "username": "outsider1",
            "full_name": "Người ngoài",
            "unit_id": world.province,
            "role": "delegate",
            "password": USER_PASSWORD,
        },
    )
    assert outsider["id"]
    stranger = await open_tab(media_browser, server)
    await open_logged_out(stranger, server, f"{base}/recordings", "outsider1")
    refusal = stranger.page.get_by_role("alert")
    await expect(refusal).to_have_text("Bạn không có quyền xem bản ghi hình của cuộc họp này.")
    await expect(stranger.page.locator("#recordings-view")).to_be_hidden()
    await stranger.shoot(artifacts, "outsider-refused")
    status, _ = await api_call(
        server, await token_of(server, "outsider1"), "GET", f"{base}/recordings"
    )
    assert status == 403

    # An administrator deletes it: a reason is required, then it is gone (list and API).
    admin = await open_tab(media_browser, server)
    await open_logged_out(admin, server, f"{base}/recordings", "admin", ADMIN_PASSWORD)
    apage = admin.page
    row = apage.locator(f'li.recording[data-recording-id="{started["id"]}"]')
    await row.get_by_role("button", name=re.compile("^Xóa bản ghi: ")).click()
    dialog = apage.get_by_role("dialog", name="Xóa bản ghi hình")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label("Lý do xóa (được ghi vào nhật ký)")).to_be_focused()
    await dialog.get_by_role("button", name="Xóa bản ghi").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Hãy ghi lý do xóa bản ghi.")
    await admin.shoot(artifacts, "admin-delete-dialog")
    await dialog.get_by_label("Lý do xóa (được ghi vào nhật ký)").fill("Ghi thử, không dùng.")
    await dialog.get_by_role("button", name="Xóa bản ghi").click()
    await expect(dialog).to_be_hidden()
    await expect(row).to_have_count(0)
    await expect(apage.locator("#list-empty")).to_be_visible()
    await expect(apage.locator("#player")).to_be_hidden()
    assert await api_ok(server, admin_token, "GET", f"{base}/recordings") == []
    audit = await api_ok(server, admin_token, "GET", f"{base}/audit?limit=1")
    [entry] = audit["entries"]
    assert (entry["action"], entry["object_id"]) == ("recording.deleted", str(started["id"]))
    assert entry["after"]["reason"] == "Ghi thử, không dùng."
    assert entry["actor"] == f"account:{world.accounts['admin']}"
    assert_clean(chair, delegate, stranger, admin)


async def token_of(server: Server, username: str) -> str:
    """A bearer token for ``username``."""
    async with aiohttp.ClientSession() as http:
        status, body = await Api(server.url, http).post(
            "/api/v1/auth/login", {"username": username, "password": USER_PASSWORD}
        )
    assert status == 200, body
    return body["access_token"]


def test_every_recording_state_shown_is_translated() -> None:
    """The page names a recording's state as ``recordings.state.<state>`` (built at run time,
    so the catalogue test cannot see it): each state it can list exists in both languages."""
    shown = {state.value for state in RecordingState} - {"deleted"}
    for lang in ("vi", "en"):
        values = catalogue(lang)
        assert {s for s in shown if f"recordings.state.{s}" not in values} == set(), lang
