"""Benchmark the Telegram channel end to end: updates/s and the time from an update to the
bot's sendMessage, through the Bot API double, python-telegram-bot, the engine, the real
NLU server and the store (SQLite, the embedded default).

Usage: .venv/bin/python -m bench.telegram [--messages N]
At 10, 50 and 200 concurrent users, each user writes, waits for the answer, writes again
(a new chat per message, so that no case silences the assistant). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from pathlib import Path

from bench.nlu import held_out_texts, percentile
from infoline.config import load_settings
from infoline.nlu.client import NluClient
from tests.support.net import ROOT
from tests.support.rasa import private_server
from tests.support.telegram import telegram_rig


async def users_load(
    client: NluClient, texts: list[str], users: int, folder: Path
) -> dict[str, float]:
    settings = load_settings(ROOT / "config.yml", environ={})
    latencies: list[float] = []
    queue = list(reversed(texts))
    async with telegram_rig(settings, client, folder) as rig:
        api = rig.api
        warm = api.user()  # the first getUpdates and the bot's start-up are not measured
        api.send(warm, "Привіт")
        await api.wait_sent(warm, 1, timeout=60)
        counter = itertools.count()

        async def user() -> None:
            while queue:
                text = f"{queue.pop()} #{next(counter)}"
                chat = api.user(language_code="uk")
                started = time.perf_counter()
                api.send(chat, text)
                await api.wait_sent(chat, 1, timeout=60)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(users)))
        elapsed = time.perf_counter() - started
    return {
        "updates": len(latencies),
        "updates_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=600, help="messages per run")
    args = parser.parse_args()
    settings = load_settings(ROOT / "config.yml", environ={})
    texts = held_out_texts()
    texts = (texts * (args.messages // len(texts) + 1))[: args.messages]
    result: dict[str, object] = {}
    async with (
        private_server(settings) as server,
        NluClient(server.url, timeout=30, max_chars=settings.nlu.max_chars) as client,
    ):
        with tempfile.TemporaryDirectory() as folder:
            for users in (10, 50, 200):
                run = Path(folder) / f"users-{users}"
                run.mkdir()
                result[f"users_{users}"] = await users_load(client, texts, users, run)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
