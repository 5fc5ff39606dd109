"""Benchmark the NLU server: parse latency and throughput, training time, model size, memory.

Usage: .venv/bin/python -m bench.nlu [--train] [--requests N]
Starts its own Rasa server with the trained model on a free port and prints one JSON object.
With --train it also trains a fresh model into a temporary folder and times that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from infoline import app
from infoline.config import load_settings
from infoline.nlu.client import NluClient
from infoline.nlu.server import RasaEnvironment
from infoline.nlu.training import current_model, train
from tests.support.net import ROOT
from tests.support.rasa import private_server


def held_out_texts() -> list[str]:
    """Return the held-out texts: realistic messages of every length and language."""
    return [
        json.loads(line)["text"]
        for path in sorted((ROOT / "data" / "eval").glob("heldout-*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of values, in milliseconds rounded to 0.1."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))
    return round(ordered[index] * 1000, 1)


def resident_mb(pid: int) -> float:
    """Return the resident memory of a process and its children, in MB."""
    total_kb = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total_kb += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
        )
        pids.extend(int(c) for c in children)
    return round(total_kb / 1024, 1)


async def load(client: NluClient, texts: list[str], concurrency: int) -> dict[str, float]:
    """Parse every text with `concurrency` clients at once; return latency and throughput."""
    queue = list(reversed(texts))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            text = queue.pop()
            started = time.perf_counter()
            await client.parse(text)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "parses_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
    }


def timed_training(env: RasaEnvironment) -> dict[str, float]:
    """Train a fresh model into a temporary folder and time it."""
    settings = load_settings(ROOT / "config.yml", environ={})
    with tempfile.TemporaryDirectory() as folder:
        scratch = RasaEnvironment(env.venv, env.project, Path(folder))
        model, _ = train(scratch, app.training_inputs(settings), force=True)
        return {"seconds": model.seconds, "examples": model.examples}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", action="store_true", help="also time a fresh training")
    parser.add_argument("--requests", type=int, default=600, help="parses per load level")
    args = parser.parse_args()
    settings = load_settings(ROOT / "config.yml", environ={})
    env = app.rasa_environment(settings)
    record = current_model(env.models)
    if record is None:
        raise SystemExit("No trained model: run 'make train' first.")
    texts = held_out_texts()
    texts = (texts * (args.requests // len(texts) + 1))[: args.requests]
    started = time.perf_counter()
    async with private_server(settings) as server:
        startup_s = round(time.perf_counter() - started, 1)
        async with NluClient(server.url, timeout=30, max_chars=settings.nlu.max_chars) as client:
            await load(client, texts[:50], 4)  # warm-up
            levels = {f"concurrency_{c}": await load(client, texts, c) for c in (1, 8, 32)}
        memory = resident_mb(server.pid)
    result = {
        "model": {
            "examples": record.examples,
            "size_mb": round(record.path.stat().st_size / 2**20, 1),
            "training_s_recorded": record.seconds,
        },
        "server": {"startup_s": startup_s, "resident_mb": memory},
        **levels,
    }
    if args.train:
        result["training"] = timed_training(env)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
