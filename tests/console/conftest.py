"""Fixtures of the console tests: a fresh database, the console serving it, and Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from infoline.config import Settings
from infoline.store.db import Database
from tests.support.console import ConsoleRig, console_rig
from tests.support.databases import fresh_database

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """An empty, migrated SQLite database."""
    async with fresh_database("sqlite", tmp_path) as database:
        yield database


@pytest.fixture
async def console(settings: Settings, db: Database) -> AsyncIterator[ConsoleRig]:
    """The console on a free port, over that database."""
    async with console_rig(settings, db) as rig:
        yield rig


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; Playwright's own browser download is not possible here."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"No {CHROMIUM}: scripts/chromium installs Debian's package (make test runs it)."
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Chromium driven by Playwright, for the whole session."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser window (no cookies) that reads English."""
    context = await browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 800})
    yield await context.new_page()
    await context.close()
