"""Measure the dialogue engine's thresholds on our own evaluation sets; print JSON.

Usage: .venv/bin/python -m bench.thresholds
- urgent: the emergency probability from which a message counts as an emergency. A
  missed emergency costs far more than a false alarm, so we want recall 1.0 with as few
  false alarms as possible.
- low confidence: below it the assistant asks to rephrase (twice: a consultant). Too
  high and people are asked needlessly; too low and wrong answers go out.
"""

from __future__ import annotations

import asyncio
import json

from infoline import app
from infoline.config import load_settings
from infoline.nlu.client import URGENT_TOPIC, NluClient, NluResult
from infoline.nlu.evaluation import Case, read_cases
from tests.support.net import ROOT
from tests.support.rasa import private_server


async def parse_all(cases: list[Case]) -> list[NluResult]:
    settings = load_settings(ROOT / "config.yml", environ={})
    async with (
        private_server(settings) as server,
        NluClient(server.url, timeout=30, max_chars=settings.nlu.max_chars) as client,
    ):
        return [await client.parse(case.text) for case in cases]


def urgent_table(cases: list[Case], results: list[NluResult]) -> list[dict[str, float]]:
    pairs = list(zip(cases, results, strict=True))
    urgent = [r.score(URGENT_TOPIC) for c, r in pairs if c.topic == URGENT_TOPIC]
    other = [r.score(URGENT_TOPIC) for c, r in pairs if c.topic != URGENT_TOPIC]
    return [
        {
            "threshold": t,
            "emergency_recall": round(sum(s >= t for s in urgent) / len(urgent), 4),
            "false_alarm_rate": round(sum(s >= t for s in other) / len(other), 4),
        }
        for t in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
    ]


def low_confidence_table(cases: list[Case], results: list[NluResult]) -> list[dict[str, float]]:
    rows = []
    for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
        kept = [(c, r) for c, r in zip(cases, results, strict=True) if r.confidence >= t]
        rows.append(
            {
                "threshold": t,
                "asked_to_rephrase": round(1 - len(kept) / len(cases), 4),
                "accuracy_of_answered": round(
                    sum(c.topic == r.topic for c, r in kept) / len(kept), 4
                ),
            }
        )
    return rows


def main() -> None:
    settings = load_settings(ROOT / "config.yml", environ={})
    topics = app.topics(settings).ids()
    result = {}
    for name, pattern in (("dev", "heldout-*.jsonl"), ("test", "test-*.jsonl")):
        cases = [
            c
            for p in sorted((ROOT / "data" / "eval").glob(pattern))
            for c in read_cases(p, topics)[0]
        ]
        results = asyncio.run(parse_all(cases))
        result[name] = {
            "n": len(cases),
            "urgent": urgent_table(cases, results),
            "low_confidence": low_confidence_table(cases, results),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
