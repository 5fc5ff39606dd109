"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from infoline.store.db import Database, migrate, open_engine
from infoline.store.mail import advance_mailbox, mailbox_position
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


def _advance_and_fail(connection: Connection) -> None:
    advance_mailbox(connection, "INBOX", 12, 5)
    raise RuntimeError("the caller's transaction fails")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_mailbox_position_follows_uids_and_a_new_uidvalidity(
    backend: str, tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path) as db:

        async def position() -> tuple[int, int] | None:
            return await db.run(mailbox_position, "INBOX")

        async def advance(uidvalidity: int, uid: int) -> None:
            await db.run(advance_mailbox, "INBOX", uidvalidity, uid)

        assert await position() is None
        # UIDVALIDITY and UIDs are unsigned 32-bit: the largest must fit.
        await advance(4_294_967_295, 7)
        assert await position() == (4_294_967_295, 7)
        await advance(4_294_967_295, 4_294_967_295)
        await advance(4_294_967_295, 9)  # never backwards within one UIDVALIDITY
        assert await position() == (4_294_967_295, 4_294_967_295)
        await advance(12, 1)  # the folder was recreated
        assert await position() == (12, 1)
        with pytest.raises(RuntimeError):
            await db.run(_advance_and_fail)
        assert await position() == (12, 1)
        assert await db.run(mailbox_position, "Other") is None
