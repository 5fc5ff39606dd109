"""Evaluate the NLU server on a JSON Lines file: intents, languages, emergencies."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infoline.nlu.client import URGENT_TOPIC, NluClient

LANGUAGES = ("pl", "uk", "ru", "en")
NO_TOPIC = "none"


class EvaluationInputError(ValueError):
    """The evaluation file cannot be read; the message names the lines at fault."""


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    lang: str
    topic: str


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    topic: str
    language: str


def read_cases(path: Path, topics: Iterable[str]) -> tuple[list[Case], list[str]]:
    """Read {"text", "lang", "topic"} objects, one per line; other keys are ignored.

    Return the cases and a description of each line that had to be skipped, so that one
    bad line in a file written elsewhere does not cost the whole evaluation.
    """
    known = set(topics)
    cases: list[Case] = []
    skipped: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise EvaluationInputError(f"Cannot read {path}: {err}") from err
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            skipped.append(f"line {number}: not JSON ({err.msg})")
            continue
        if not isinstance(row, dict):
            skipped.append(f"line {number}: not a JSON object")
            continue
        text, lang, topic = row.get("text"), row.get("lang"), row.get("topic")
        topic = topic.strip().lower() if isinstance(topic, str) else None
        if not isinstance(text, str):
            skipped.append(f"line {number}: 'text' must be a string")
        elif not isinstance(lang, str) or not lang.strip():
            skipped.append(f"line {number}: 'lang' must be a language code such as 'uk'")
        elif topic not in known:
            skipped.append(f"line {number}: 'topic' {row.get('topic')!r} is not a topic id")
        else:
            cases.append(Case(text, lang.strip().lower(), topic))
    if not cases:
        reason = f" ({skipped[0]})" if skipped else ""
        raise EvaluationInputError(f"{path} holds no cases to evaluate{reason}.")
    return cases, skipped


async def run_cases(
    client: NluClient, cases: Sequence[Case], urgent_threshold: float, concurrency: int = 8
) -> list[Outcome]:
    """Parse every case on the server, a few at a time, keeping the input order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(case: Case) -> Outcome:
        async with gate:
            result = await client.parse(case.text)
        return Outcome(case, result.acted_topic(urgent_threshold) or NO_TOPIC, result.language)

    return list(await asyncio.gather(*(one(case) for case in cases)))


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _per_topic(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    gold = Counter(o.case.topic for o in outcomes)
    predicted = Counter(o.topic for o in outcomes)
    hits = Counter(o.topic for o in outcomes if o.topic == o.case.topic)
    scores = {}
    for topic in sorted(gold):
        precision = hits[topic] / predicted[topic] if predicted[topic] else 0.0
        recall = hits[topic] / gold[topic]
        scores[topic] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(_f1(precision, recall), 4),
        }
    return scores


def _summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    by_topic = _per_topic(outcomes)
    n = len(outcomes)
    return {
        "n": n,
        "intent_accuracy": round(sum(o.topic == o.case.topic for o in outcomes) / n, 4),
        "macro_f1": round(sum(s["f1"] for s in by_topic.values()) / len(by_topic), 4),
        "langid_accuracy": round(sum(o.language == o.case.lang for o in outcomes) / n, 4),
    }


def report(outcomes: Sequence[Outcome], skipped: int = 0) -> dict[str, Any]:
    """Compute the evaluation report printed by `infoline nlu eval`."""
    by_topic = _per_topic(outcomes)
    urgent = [o for o in outcomes if o.case.topic == URGENT_TOPIC]
    langs = sorted({o.case.lang for o in outcomes}, key=lambda c: (c not in LANGUAGES, c))
    confusions = Counter((o.case.topic, o.topic) for o in outcomes if o.topic != o.case.topic)
    return {
        **_summary(outcomes),
        "emergency_recall": (
            round(sum(o.topic == URGENT_TOPIC for o in urgent) / len(urgent), 4) if urgent else None
        ),
        "out_of_scope_f1": by_topic.get("out_of_scope", {}).get("f1"),
        "by_lang": {
            lang: _summary([o for o in outcomes if o.case.lang == lang]) for lang in langs
        },
        "by_topic": by_topic,
        "confusions": [
            [true, predicted, count] for (true, predicted), count in confusions.most_common()
        ],
        "skipped_lines": skipped,
    }
