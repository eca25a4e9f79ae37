"""Capture the Chromium simulcast offer that tests/media/test_sdp.py parses.

Run from the repository root: ``.venv/bin/python tests/media/data/capture_chromium_offer.py``.
The offer is kept as a file (not generated per test run) so the SDP tests pin one browser's
exact output; re-capture it when a Chromium upgrade changes what the interop tests see.
"""

import asyncio
import shutil
from pathlib import Path

from playwright.async_api import async_playwright

OUT = Path(__file__).parent / "chromium_simulcast_offer.sdp"

SCRIPT = """
async () => {
  const stream = await navigator.mediaDevices.getUserMedia(
    {audio: true, video: {width: 1280, height: 720}});
  const pc = new RTCPeerConnection({bundlePolicy: "max-bundle"});
  pc.addTransceiver(stream.getAudioTracks()[0], {direction: "sendonly"});
  pc.addTransceiver(stream.getVideoTracks()[0], {
    direction: "sendonly",
    sendEncodings: [
      {rid: "q", scaleResolutionDownBy: 4},
      {rid: "h", scaleResolutionDownBy: 2},
      {rid: "f"},
    ],
  });
  const offer = await pc.createOffer();
  pc.close();
  return offer.sdp;
}
"""


async def main() -> None:
    """Launch Debian's chromium headless with fake devices and write its offer."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
        )
        page = await browser.new_page()
        # getUserMedia needs a secure context; http://localhost is one, served by the route.
        await page.route("http://localhost/", lambda route: route.fulfill(body="<html></html>"))
        await page.goto("http://localhost/")
        sdp = await page.evaluate(SCRIPT)
        await browser.close()
    OUT.write_bytes(sdp.encode())
    print(f"wrote {OUT} ({len(sdp)} bytes)")


if __name__ == "__main__":
    asyncio.run(main())
