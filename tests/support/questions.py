"""Questions the assistant answers from the knowledge base, for end-to-end channel tests."""

from __future__ import annotations

import json

from infoline.core.topics import Topics
from infoline.nlu.client import NluClient
from tests.support.net import ROOT

# One question per language, and a word its answer contains.
QUESTIONS = {
    "uk": ("Як продовжити статус PESEL UKR для дитини?", "PESEL"),
    "pl": ("czy potrzebuje zezwolenia na prace jak jestem z Indii", "prac"),
    "ru": ("как записаться к врачу по страховке NFZ", "NFZ"),
    "en": ("do I need a work permit to work in Poland as an Indian citizen?", "work"),
}


async def clear_questions(nlu: NluClient, language: str, count: int) -> list[str]:
    """Blind-test questions the assistant answers from the knowledge base without doubt.

    Each must get exactly one answer and open no case (a case silences the assistant), so
    only confident answer-topic texts qualify; the NLU decides which, not the test.
    """
    topics = Topics.load(ROOT / "data/topics.yml")
    path = ROOT / f"data/eval/test-{language}.jsonl"
    chosen: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"]
        if len(text.split()) < 4:
            continue
        result = await nlu.parse(text)
        if topics.kind(result.acted_topic(0.2)) == "answer" and result.confidence >= 0.6:
            chosen.append(text)
        if len(chosen) == count:
            return chosen
    raise AssertionError(f"not enough clear {language} questions")
