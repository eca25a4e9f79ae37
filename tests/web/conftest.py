"""Fixtures for the browser client's tests: Debian's Chromium driven by Playwright, artifacts.

Headless Chromium at /usr/bin/chromium (browser downloads do not work here; Playwright only
drives it). Screenshots go to ``test-artifacts/web/<test name>/`` at the repository root.
"""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.chromium import launched

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
DESKTOP = {"width": 1366, "height": 768}  # a commune meeting room's screen
PHONE = {"width": 390, "height": 844}  # a leader following on a phone


@pytest.fixture
def backend() -> str:
    """The browser tests run on SQLite only: they test the client, and every API route they
    drive runs on both SQLite and PostgreSQL in tests/signaling and tests/meetings."""
    return "sqlite"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium for one test."""
    async with launched(CHROMIUM_ARGS) as chromium:
        yield chromium


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """A fresh directory for this test's screenshots."""
    directory = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.png"):
        old.unlink()
    return directory
