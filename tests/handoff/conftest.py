"""A fresh database of each kind and a case desk on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infoline import app
from infoline.config import Settings
from infoline.handoff.cases import CaseDesk
from infoline.store.db import Database
from tests.support.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def desk(settings: Settings, db: Database) -> CaseDesk:
    return app.case_desk(settings, db)
