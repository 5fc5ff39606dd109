"""Twenty consultants, each in a process of their own (an engine and connection of their
own), claim the same cases at the same moment: every case gets exactly one owner."""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select

from infoline import app
from infoline.config import Settings
from infoline.handoff.records import Consultant
from infoline.store.db import Database, open_database
from infoline.store.schema import AuditEntry, Case
from tests.support.cases import make_case, make_consultant
from tests.support.databases import BACKENDS, fresh_database_url

CONSULTANTS = 20
CASES = 5


@pytest.mark.parametrize("backend", BACKENDS)
async def test_concurrent_claims_give_each_case_one_owner(
    backend: str, settings: Settings, tmp_path: Path
) -> None:
    async with fresh_database_url(backend, tmp_path) as url, AsyncExitStack() as stack:
        processes = [
            await stack.enter_async_context(open_database(url)) for _ in range(CONSULTANTS)
        ]
        db = processes[0]
        cases = [await make_case(db) for _ in range(CASES)]
        people = [await make_consultant(db, f"consultant{n}") for n in range(CONSULTANTS)]
        start = asyncio.Event()

        async def claim_all(database: Database, consultant: Consultant) -> list[int]:
            desk = app.case_desk(settings, database)
            order = random.sample(cases, len(cases))
            await start.wait()
            return [case for case in order if await desk.claim(case, consultant)]

        tasks = [
            asyncio.create_task(claim_all(database, person))
            for database, person in zip(processes, people, strict=True)
        ]
        await asyncio.sleep(0.1)
        start.set()
        won = await asyncio.gather(*tasks)
        owners = {
            case: [p.id for p, got in zip(people, won, strict=True) if case in got]
            for case in cases
        }
        assert all(len(found) == 1 for found in owners.values()), owners
        async with db.transaction() as session:
            stored = {
                row[0]: row[1] for row in await session.execute(select(Case.id, Case.assignee_id))
            }
            claims = await session.scalar(
                select(func.count()).where(AuditEntry.action == "case_claimed")
            )
            revisions = list(await session.scalars(select(Case.revision)))
        assert stored == {case: found[0] for case, found in owners.items()}
        assert claims == CASES
        assert len(set(revisions)) == CASES, "each claim took a revision of its own"
