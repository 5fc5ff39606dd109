"""Migration 0005 goes down and up again on both databases without losing which case a
message belongs to (on SQLite, copying `cases` would otherwise set them all to NULL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, select

from infoline import app
from infoline.config import Settings
from infoline.store.db import MIGRATIONS, migrate
from infoline.store.schema import Message
from tests.support.cases import make_case, make_consultant
from tests.support.databases import BACKENDS, fresh_database


def to(revision: str) -> Callable[[Connection], None]:
    """Migrate up to head or down to `revision`, on the connection given."""

    def run(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        if revision == "head":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)

    return run


@pytest.mark.parametrize("backend", BACKENDS)
async def test_down_to_0004_and_up_again_keeps_messages_in_their_cases(
    backend: str, settings: Settings, tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path) as db:
        case_id = await make_case(db)
        olena = await make_consultant(db, "olena")
        assert await app.case_desk(settings, db).claim(case_id, olena)
        await db.run(to("0004"))
        async with db.transaction() as session:
            assert list(await session.scalars(select(Message.case_id))) == [case_id]
        await db.run(migrate)
        async with db.transaction() as session:
            assert list(await session.scalars(select(Message.case_id))) == [case_id]
        assert await make_consultant(db, "olena") is not None, "the accounts start afresh"
