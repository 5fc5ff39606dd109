"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from infoline.store.repository import advance_mailbox, mailbox_position
from infoline.store.schema import Base
from tests.support.databases import BACKENDS, fresh_database


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migrations_match_the_models(backend: str, tmp_path: Path) -> None:
    async with fresh_database(backend, tmp_path) as db, db.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_mailbox_position_follows_uids_and_a_new_uidvalidity(
    backend: str, tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path) as db:

        async def position() -> tuple[int, int] | None:
            async with db.transaction() as session:
                found = await mailbox_position(session, "INBOX")
                return None if found is None else (found.uidvalidity, found.last_uid)

        async def advance(uidvalidity: int, uid: int) -> None:
            async with db.transaction() as session:
                await advance_mailbox(session, "INBOX", uidvalidity, uid)

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
            async with db.transaction() as session:
                await advance_mailbox(session, "INBOX", 12, 5)
                raise RuntimeError("the caller's transaction fails")
        assert await position() == (12, 1)
        async with db.transaction() as session:
            assert await mailbox_position(session, "Other") is None
