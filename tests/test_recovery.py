"""Killing the engine process loses nothing: every message is answered after a restart."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from infoline.nlu.server import RasaServer
from infoline.store.db import open_database
from infoline.store.schema import Message, Outbox
from tests.support.databases import BACKENDS, fresh_database_url
from tests.support.faults import repeated_at_most
from tests.support.net import ROOT

pytestmark = pytest.mark.nlu
GREETINGS = [
    "Dzień dobry",
    "Привіт",
    "Здравствуйте",
    "Hello",
    "Gdzie znajdę pracę?",
    "Де отримати PESEL UKR?",
    "Где найти жильё?",
    "Where is a free doctor?",
]


class Engines:
    """Starts engine processes on one database and inbox; their stderr goes to one log."""

    def __init__(self, url: str, nlu: RasaServer, folder: Path) -> None:
        self.url, self.nlu = url, nlu
        self.inbox, self.deliveries = folder / "inbox.jsonl", folder / "deliveries.tsv"
        self.log = folder / "engine.log"

    def write_inbox(self, users: int, per_user: int) -> int:
        rows = [
            {
                "channel": "telegram",
                "address": f"user{u}",
                "external_id": f"{u}-{m}",
                "text": GREETINGS[(u + m) % len(GREETINGS)],
            }
            for u in range(users)
            for m in range(per_user)
        ]
        text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
        self.inbox.write_text(text, encoding="utf-8")
        return len(rows)

    async def start(self, *extra: str) -> asyncio.subprocess.Process:
        env = {
            **os.environ,
            "INFOLINE_DATABASE_URL": self.url,
            "INFOLINE_NLU_URL": self.nlu.url,
            "INFOLINE_NLU_MANAGE": "false",
            # Replies a killed process had leased are sent once the lease ends; its
            # sends take microseconds, so a short lease keeps the test short.
            "INFOLINE_OUTBOX_LEASE_SECONDS": "3",
        }
        with self.log.open("ab") as log:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.support.engine_process",
                str(self.inbox),
                str(self.deliveries),
                *extra,
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )

    async def finish(self, process: asyncio.subprocess.Process, seconds: float) -> None:
        """Wait for a process to end by itself, successfully."""
        try:
            code = await asyncio.wait_for(process.wait(), seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
            code = None
        assert code == 0, (
            f"engine process ended with {code}; its log:\n{self.log.read_text()[-3000:]}"
        )

    def delivered(self) -> Counter[str]:
        lines = self.deliveries.read_text().splitlines() if self.deliveries.exists() else []
        return Counter(line.split("\t")[0] for line in lines)

    async def totals(self) -> tuple[int, int, int]:
        """Return (inbound handled, outbox rows, outbox rows sent)."""
        async with open_database(self.url) as db, db.transaction() as session:
            handled = await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.direction == "in", Message.processed_at.is_not(None))
            )
            rows = await session.scalar(select(func.count()).select_from(Outbox))
            sent = await session.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.status == "sent")
            )
        return int(handled or 0), int(rows or 0), int(sent or 0)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_kill_between_commit_and_send_delivers_every_reply_once(
    backend: str, nlu_server: RasaServer, tmp_path: Path
) -> None:
    async with fresh_database_url(backend, tmp_path) as url:
        engines = Engines(url, nlu_server, tmp_path)
        count = engines.write_inbox(users=10, per_user=3)
        held = await engines.start("--hold")
        assert held.stdout is not None
        assert await asyncio.wait_for(held.stdout.readline(), 120) == b"held\n"
        held.send_signal(signal.SIGKILL)
        await held.wait()
        handled, rows, sent = await engines.totals()
        assert (handled, sent) == (count, 0) and rows >= count
        await engines.finish(await engines.start(), 180)
        delivered = engines.delivered()
        assert len(delivered) == rows and set(delivered.values()) == {1}
        assert await engines.totals() == (count, rows, rows)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_sigkill_at_random_moments_loses_nothing(
    backend: str, nlu_server: RasaServer, tmp_path: Path
) -> None:
    randomness = random.Random(backend)
    async with fresh_database_url(backend, tmp_path) as url:
        engines = Engines(url, nlu_server, tmp_path)
        count = engines.write_inbox(users=40, per_user=10)
        kills = 0
        for _ in range(2):
            process = await engines.start()
            await asyncio.sleep(randomness.uniform(1.5, 4.0))
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            await process.wait()
        await engines.finish(await engines.start(), 300)
        handled, rows, sent = await engines.totals()
        delivered = engines.delivered()
        duplicates = sum(n - 1 for n in delivered.values())
        print(
            f"{backend}: {count} messages, {rows} replies, {duplicates} duplicates, {kills} kills"
        )
        assert kills >= 1, "every process finished before it could be killed"
        assert handled == count and sent == rows and len(delivered) == rows
        assert repeated_at_most(delivered, kills)
