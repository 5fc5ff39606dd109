"""Fresh databases for tests: an SQLite file, or a new database on the PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from infoline.store.db import Database, open_database
from tests.support.net import ROOT

BACKENDS = ("sqlite", "postgresql")


def postgres_server_url() -> str:
    """Return the test server's URL; start (and if need be install) PostgreSQL first."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        done = subprocess.run(
            [str(ROOT / "scripts" / "postgres")], capture_output=True, text=True, check=True
        )
        url = done.stdout.strip()
        os.environ["TEST_POSTGRES_URL"] = url
    return url


@asynccontextmanager
async def fresh_database_url(backend: str, folder: Path) -> AsyncIterator[str]:
    """Give the URL of an empty database for the block, and drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / f'infoline-{uuid.uuid4().hex[:8]}.db'}"
        return
    server = make_url(postgres_server_url())
    name = f"infoline_test_{uuid.uuid4().hex[:12]}"
    dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def fresh_database(backend: str, folder: Path) -> AsyncIterator[Database]:
    """Open and migrate an empty database of the given backend for the block."""
    async with fresh_database_url(backend, folder) as url, open_database(url) as db:
        yield db
