"""Fixtures of the console tests: a fresh database and the console serving it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infoline.config import Settings
from infoline.store.db import Database
from tests.support.console import ConsoleRig, console_rig
from tests.support.databases import fresh_database


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
