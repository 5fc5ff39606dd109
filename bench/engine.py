"""Benchmark the dialogue engine end to end: messages/s and the latency it adds to the NLU.

Usage: .venv/bin/python -m bench.engine [--messages N] [--rounds R]
Starts its own Rasa server; for 1, 8 and 64 users at once, measures the server's own
parses/s with that many clients, then lets that many users talk (each waits for the
reply before writing again) through the real engine, store, outbox and dispatcher on
SQLite and on PostgreSQL; --rounds times per level. Prints one JSON object: medians of
the rounds; share_of_nlu is messages/s over the NLU's parses/s in the same round.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from statistics import median
from typing import Any

from bench.nlu import held_out_texts, load, percentile
from infoline import app
from infoline.config import load_settings
from infoline.core.messages import Inbound, Outgoing
from infoline.nlu.client import NluClient, NluResult
from tests.support.databases import BACKENDS, fresh_database
from tests.support.net import ROOT
from tests.support.rasa import private_server

WARM_UP = 3  # messages per user before the measurement


class TimedClassifier:
    """The real NLU client, noting how long each parse took."""

    def __init__(self, client: NluClient) -> None:
        self._client = client
        self.seconds: dict[str, float] = {}

    async def parse(self, text: str) -> NluResult:
        started = time.perf_counter()
        result = await self._client.parse(text)
        self.seconds[text] = time.perf_counter() - started
        return result


class Inbox:
    """A channel that wakes the user waiting for a reply (the first reply counts)."""

    name = "telegram"

    def __init__(self) -> None:
        self.replied: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def send(self, message: Outgoing) -> None:
        self.replied[message.address].set()


async def conversation_load(
    backend: str, nlu: NluClient, texts: list[str], users: int, folder: Path
) -> tuple[float, list[float]]:
    """Let `users` talk through the engine on a fresh database; return messages/s and the
    seconds each reply took beyond its NLU call."""
    settings = load_settings(ROOT / "config.yml", environ={})
    timed = TimedClassifier(nlu)
    inbox = Inbox()
    latencies: list[float] = []
    async with fresh_database(backend, folder) as db:
        dispatcher = app.dispatcher(settings, db, {"telegram": inbox}, asyncio.Event())
        engine = app.engine(settings, db, timed, dispatcher.handoff)
        workers = [asyncio.create_task(engine.run()), asyncio.create_task(dispatcher.run())]
        counter = itertools.count()
        # Warm-up, not counted: every user writes a few times first, so that the database
        # connections are open and the statements prepared before the clock starts.
        queue = list(reversed(texts[: users * WARM_UP]))

        async def user(number: int) -> None:
            while queue:
                # A new conversation per message: a case opened by one message (asking for
                # a person, an emergency) would silence the assistant for the next ones.
                sequence = next(counter)
                address, text = f"user{number}-{sequence}", f"{queue.pop()} #{sequence}"
                started = time.perf_counter()
                await engine.receive(
                    Inbound(channel="telegram", address=address, external_id=address, text=text)
                )
                await inbox.replied[address].wait()
                latencies.append(time.perf_counter() - started - timed.seconds.get(text, 0.0))

        await asyncio.gather(*(user(n) for n in range(users)))
        latencies.clear()
        queue = list(reversed(texts))
        started = time.perf_counter()
        await asyncio.gather(*(user(n) for n in range(users)))
        elapsed = time.perf_counter() - started
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return len(latencies) / elapsed, latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=600, help="messages per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per level and backend")
    args = parser.parse_args()
    settings = load_settings(ROOT / "config.yml", environ={})
    texts = held_out_texts()
    texts = (texts * (args.messages // len(texts) + 1))[: args.messages]
    nlu_rates: dict[str, Any] = {}
    runs: dict[str, dict[str, dict[str, Any]]] = {backend: {} for backend in BACKENDS}
    async with (
        private_server(settings) as server,
        NluClient(server.url, timeout=30, max_chars=settings.nlu.max_chars) as client,
    ):
        await load(client, texts[:50], 4)  # warm-up
        with tempfile.TemporaryDirectory() as folder:
            for users in (1, 8, 64):
                alone: list[float] = []
                rates: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
                shares: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
                added: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
                # Round by round, the NLU alone just before the engine runs: on a shared
                # machine the load changes within minutes, so each share compares like
                # with like, and the median of the rounds is reported.
                for _ in range(args.rounds):
                    nlu_rate = (await load(client, texts, users))["parses_per_s"]
                    alone.append(nlu_rate)
                    for backend in BACKENDS:
                        rate, latencies = await conversation_load(
                            backend, client, texts, users, Path(folder)
                        )
                        rates[backend].append(round(rate, 1))
                        shares[backend].append(round(rate / nlu_rate, 2))
                        added[backend].extend(latencies)
                nlu_rates[f"concurrency_{users}"] = {"median": median(alone), "runs": alone}
                for backend in BACKENDS:
                    runs[backend][f"conversations_{users}"] = {
                        "messages_per_s": median(rates[backend]),
                        "share_of_nlu": median(shares[backend]),
                        "shares": shares[backend],
                        "added_p50_ms": percentile(added[backend], 50),
                        "added_p95_ms": percentile(added[backend], 95),
                    }
    result = {"nlu_parses_per_s": nlu_rates, **runs}
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
