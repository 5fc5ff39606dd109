"""The store on both databases: the migrations build exactly the schema the code declares,
and the statements that are written differently for each database do the same."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, inspect, select

from infoline.core.messages import Inbound
from infoline.store import answers, conversations
from infoline.store import outbox as rows
from infoline.store import repository as repo
from infoline.store.db import Database, migrate, now, open_engine
from infoline.store.mail import advance_mailbox, mailbox_position
from infoline.store.schema import Base, Conversation, Message, Outbox
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


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_answer_is_written_whole_or_not_at_all(backend: str, tmp_path: Path) -> None:
    async with fresh_database(backend, tmp_path) as db:
        inbound = Inbound(channel="telegram", address="anna", external_id="1", text="hello")
        received, _ = await db.run(repo.record_inbound, inbound, 1000)
        seen = await db.run(conversations.read_situation, received.conversation_id)
        understood = conversations.Understood("greet", 0.9, "en", 0.95)
        draft = rows.Draft("Hello!", "en", {"reply_to": {"update_id": 7}})
        moment = now()
        lease = moment + dt.timedelta(seconds=60)

        async def answer(situation: conversations.Situation) -> rows.Queued | None:
            state = ("en", 0, "greet")
            return await db.run_single(
                answers.save_answer,
                situation,
                state,
                received.message_id,
                understood,
                draft,
                moment,
                lease,
            )

        queued = await answer(seen)
        assert queued is not None
        assert await answer(seen) is None  # the conversation has moved on: nothing written
        async with db.transaction() as session:
            conversation = await session.get(Conversation, received.conversation_id)
            message = await session.get(Message, received.message_id)
            reply = await session.get(Message, queued.message_id)
            row = await session.get(Outbox, queued.outbox_id)
            outgoing = await session.scalar(
                select(func.count()).select_from(Message).where(Message.direction == "out")
            )
        assert conversation is not None and message is not None and reply is not None
        assert (conversation.last_language, conversation.awaiting_feedback) == ("en", "greet")
        assert conversation.revision == seen.revision + 1
        assert message.processed_at is not None and message.topic == "greet"
        assert (reply.text, reply.details, reply.direction) == ("Hello!", draft.details, "out")
        assert row is not None and (row.status, row.attempts, row.address) == ("pending", 1, "anna")
        assert row.next_attempt_at == lease and outgoing == 1
