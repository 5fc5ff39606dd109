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


def write_inbox(path: Path, users: int, per_user: int) -> int:
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
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return len(rows)


async def start(
    url: str, nlu: RasaServer, inbox: Path, deliveries: Path, *extra: str
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "INFOLINE_DATABASE_URL": url,
        "INFOLINE_NLU_URL": nlu.url,
        "INFOLINE_NLU_MANAGE": "false",
        "INFOLINE_APP_LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.engine_process",
        str(inbox),
        str(deliveries),
        *extra,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )


async def totals(url: str) -> tuple[int, int, int]:
    """Return (inbound handled, outbox rows, outbox rows sent)."""
    async with open_database(url) as db, db.transaction() as session:
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


def deliveries_of(path: Path) -> Counter[str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(line.split("\t")[0] for line in lines)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_kill_between_commit_and_send_delivers_every_reply_once(
    backend: str, nlu_server: RasaServer, tmp_path: Path
) -> None:
    inbox, deliveries = tmp_path / "inbox.jsonl", tmp_path / "deliveries.tsv"
    count = write_inbox(inbox, users=10, per_user=3)
    async with fresh_database_url(backend, tmp_path) as url:
        held = await start(url, nlu_server, inbox, deliveries, "--hold")
        assert held.stdout is not None
        assert await asyncio.wait_for(held.stdout.readline(), 120) == b"held\n"
        held.send_signal(signal.SIGKILL)
        await held.wait()
        handled, rows, sent = await totals(url)
        assert (handled, sent) == (count, 0) and rows >= count
        again = await start(url, nlu_server, inbox, deliveries)
        assert await asyncio.wait_for(again.wait(), 120) == 0
        delivered = deliveries_of(deliveries)
        assert len(delivered) == rows and set(delivered.values()) == {1}
        assert await totals(url) == (count, rows, rows)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_sigkill_at_random_moments_loses_nothing(
    backend: str, nlu_server: RasaServer, tmp_path: Path
) -> None:
    inbox, deliveries = tmp_path / "inbox.jsonl", tmp_path / "deliveries.tsv"
    count = write_inbox(inbox, users=20, per_user=10)
    kills = 2
    randomness = random.Random(backend)
    async with fresh_database_url(backend, tmp_path) as url:
        for _ in range(kills):
            process = await start(url, nlu_server, inbox, deliveries)
            await asyncio.sleep(randomness.uniform(2.0, 5.0))
            process.send_signal(signal.SIGKILL)
            await process.wait()
        final = await start(url, nlu_server, inbox, deliveries)
        assert await asyncio.wait_for(final.wait(), 300) == 0
        handled, rows, sent = await totals(url)
        delivered = deliveries_of(deliveries)
        duplicates = sum(n - 1 for n in delivered.values())
        print(
            f"{backend}: {count} messages, {rows} replies, {duplicates} duplicates, {kills} kills"
        )
        assert handled == count and sent == rows and len(delivered) == rows
        assert duplicates <= kills
