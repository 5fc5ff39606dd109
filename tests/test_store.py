"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from infoline.store.db import Database, migrate, open_engine
from infoline.store.schema import Base
from tests.support.databases import BACKENDS, fresh_database, fresh_database_url


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migrations_match_the_models(backend: str, tmp_path: Path) -> None:
    async with fresh_database(backend, tmp_path) as db, db.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


def _migrate_and_crash(connection: Connection) -> None:
    migrate(connection)
    raise RuntimeError("killed before the commit")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_migration_cut_short_leaves_no_table(backend: str, tmp_path: Path) -> None:
    # sqlite3 would run CREATE TABLE outside any transaction: a process killed during its
    # first migration left half a schema that the next start could not migrate.
    async with fresh_database_url(backend, tmp_path) as url:
        db = Database(open_engine(url))
        try:
            with pytest.raises(RuntimeError):
                await db.run(_migrate_and_crash)
            async with db.engine.connect() as connection:
                assert await connection.run_sync(lambda c: inspect(c).get_table_names()) == []
        finally:
            await db.close()
