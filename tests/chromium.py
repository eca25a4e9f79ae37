"""Debian's Chromium driven by Playwright, shared by the media interop and web client tests.

Browser downloads do not work in closed networks (nor here): Playwright only drives the
``chromium`` package installed with apt-get.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = Path("/usr/bin/chromium")

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)


@asynccontextmanager
async def launched(args: list[str]) -> AsyncIterator[Browser]:
    """A headless Chromium started with ``args``, closed on exit."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )
        try:
            yield chromium
        finally:
            await chromium.close()
