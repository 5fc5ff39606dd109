"""Benchmark the consultants' console: queue page and case page latency over a PostgreSQL
database holding 10,000 and 100,000 cases.

Usage: TEST_POSTGRES_URL=... .venv/bin/python -m bench.console [--sizes 10000,100000]
Rows are made with bulk inserts: per case a contact, a conversation, two messages from the
user and two answers (each with its outbox row). One case in a hundred is open (queued,
assigned or waiting, a tenth of those urgent); the rest are resolved, as in a line that has
run for a while. A logged-in supervisor (who sees every open case) opens the queue page and
case pages over HTTP, one request at a time. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update

from bench.nlu import percentile
from infoline.config import load_settings
from infoline.store.db import Database, now
from infoline.store.schema import Base, Case, CaseClock, Contact, Conversation, Message, Outbox
from tests.support.console import console_rig, log_in
from tests.support.databases import fresh_database
from tests.support.net import ROOT

BATCH = 5_000
LANGUAGES = ("pl", "uk", "ru", "en")
TOPICS = ("work", "residence_permit", "healthcare", "accommodation", "emergency", "documents")
REQUESTS = 200


def _rows(size: int, start: dt.datetime) -> Iterator[tuple[type[Base], dict[str, Any]]]:
    """Every row of `size` cases, parents first, ids given so children can point at them."""
    picker = random.Random(size)
    message_id = 0
    for n in range(1, size + 1):
        opened = start + dt.timedelta(minutes=n * 525_600 / size)  # a year of cases
        language, topic = picker.choice(LANGUAGES), picker.choice(TOPICS)
        channel = "telegram" if n % 3 else "email"
        address = f"user-{n}@example.org" if channel == "email" else str(500_000_000 + n)
        yield Contact, dict(id=n, channel=channel, address=address, created_at=opened)
        yield (
            Conversation,
            dict(id=n, contact_id=n, created_at=opened, last_activity_at=opened),
        )
        status = "resolved" if n % 100 else ("queued", "assigned", "waiting")[n // 100 % 3]
        answered = opened + dt.timedelta(minutes=picker.randint(1, 240))
        yield (
            Case,
            dict(
                id=n,
                conversation_id=n,
                status=status,
                priority=0 if n % 1000 == 0 else 1,
                reason="request_human",
                channel=channel,
                language=language,
                topic=topic,
                confidence=0.8,
                created_at=opened,
                first_response_at=None if status == "queued" else answered,
                resolved_at=answered + dt.timedelta(hours=1) if status == "resolved" else None,
                resolution=topic if status == "resolved" else None,
                waiting_since=opened if status == "queued" else None,
                revision=n,
            ),
        )
        for turn in range(2):
            for direction in ("in", "out"):
                message_id += 1
                moment = opened + dt.timedelta(minutes=turn * 10 + (direction == "out"))
                text = f"Питання {n}.{turn}: " + "де зробити песель і як знайти роботу? " * 3
                yield (
                    Message,
                    dict(
                        id=message_id,
                        conversation_id=n,
                        case_id=n,
                        direction=direction,
                        channel=channel,
                        external_id=f"{channel}-{message_id}" if direction == "in" else None,
                        text=text if direction == "in" else f"Відповідь {n}.{turn}",
                        topic=topic if direction == "in" else None,
                        language=language,
                        created_at=moment,
                        processed_at=moment,
                    ),
                )
                if direction == "out":
                    yield (
                        Outbox,
                        dict(
                            message_id=message_id,
                            channel=channel,
                            address=address,
                            status="sent",
                            attempts=1,
                            next_attempt_at=moment,
                            created_at=moment,
                            sent_at=moment,
                        ),
                    )


async def fill(db: Database, size: int) -> float:
    """Insert `size` cases with their conversations in batches; return the seconds taken."""
    started = time.perf_counter()
    pending: dict[type[Base], list[dict[str, Any]]] = {}
    order = (Contact, Conversation, Case, Message, Outbox)

    async def flush() -> None:
        async with db.transaction() as session:
            for model in order:
                if pending.get(model):
                    await session.execute(insert(model), pending.pop(model))

    for count, (model, row) in enumerate(_rows(size, now() - dt.timedelta(days=366)), 1):
        pending.setdefault(model, []).append(row)
        if count % BATCH == 0:
            await flush()
    await flush()
    async with db.transaction() as session:
        await session.execute(update(CaseClock).values(revision=size))
    return round(time.perf_counter() - started, 1)


async def timed(call: Callable[[], Awaitable[None]]) -> list[float]:
    latencies = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - started)
    return latencies


async def measure(size: int, folder: Path) -> dict[str, Any]:
    settings = load_settings(ROOT / "config.yml", environ={})
    async with fresh_database("postgresql", folder) as db:
        seconds = await fill(db, size)
        async with console_rig(settings, db) as console:
            boss = await console.consultant(languages=LANGUAGES, role="supervisor")
            open_ids = [n for n in range(100, size + 1, 100)]
            picker = random.Random(1)
            async with console.client() as client:
                await log_in(client, boss.username)

                async def get(path: str) -> None:
                    async with client.get(path) as page:
                        assert page.status == 200, (path, page.status)
                        await page.read()

                await get("/queue")  # warm the connection pool and the templates
                queue = await timed(lambda: get("/queue"))
                cases = await timed(lambda: get(f"/cases/{picker.randint(1, size)}"))
                open_cases = await timed(lambda: get(f"/cases/{picker.choice(open_ids)}"))
    return {
        "insert_s": seconds,
        "open_cases": len(open_ids),
        "queue_p50_ms": percentile(queue, 50),
        "queue_p95_ms": percentile(queue, 95),
        "case_p50_ms": percentile(cases, 50),
        "case_p95_ms": percentile(cases, 95),
        "open_case_p50_ms": percentile(open_cases, 50),
        "open_case_p95_ms": percentile(open_cases, 95),
    }


async def main(sizes: list[int]) -> None:
    results: dict[str, Any] = {"requests_each": REQUESTS}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            results[str(size)] = await measure(size, Path(folder))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="cases per run, comma-separated")
    args = parser.parse_args()
    asyncio.run(main([int(size) for size in args.sizes.split(",")]))
