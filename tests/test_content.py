"""The content is complete: training data, held-out data and answers, per topic and language."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from infoline import app
from infoline.config import Settings
from infoline.core.kb import Contacts, KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "spec" / "topics.yml"
MIN_EXAMPLES = 40


def training_examples(settings: Settings) -> dict[str, Counter[str]]:
    """Count training examples per language and topic, from the block metadata."""
    counts: dict[str, Counter[str]] = {}
    for path in sorted(settings.path(settings.nlu.data).glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            lang = block["metadata"]["lang"]
            lines = [x for x in block["examples"].splitlines() if x.strip()]
            assert all(x.startswith("- ") for x in lines), f"{path}: {block['intent']}"
            counts.setdefault(lang, Counter())[block["intent"]] += len(lines)
    return counts


@pytest.mark.skipif(not SPEC.exists(), reason="shared/spec is not beside this checkout")
def test_topic_contract_copy_is_current() -> None:
    assert (ROOT / "data" / "topics.yml").read_text() == SPEC.read_text()


def test_every_topic_has_training_data_in_every_language(settings: Settings) -> None:
    contract = app.topics(settings)
    counts = training_examples(settings)
    for lang in contract.languages:
        short = {t: counts[lang][t] for t in contract.ids() if counts[lang][t] < MIN_EXAMPLES}
        assert not short, f"{lang}: fewer than {MIN_EXAMPLES} examples: {short}"
    assert set(counts) <= {*contract.languages, "other"}
    unknown = {t for c in counts.values() for t in c} - set(contract.ids())
    assert not unknown


def test_held_out_data_is_not_trained_on(settings: Settings) -> None:
    trained = set()
    for path in settings.path(settings.nlu.data).glob("*.yml"):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            trained |= {x[2:].strip().lower() for x in block["examples"].splitlines() if x.strip()}
    held = [
        json.loads(line)
        for path in (ROOT / "data" / "eval").glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert len(held) > 1000
    leaked = [row["text"] for row in held if row["text"].strip().lower() in trained]
    assert not leaked


def test_knowledge_base_is_complete(settings: Settings) -> None:
    contract = app.topics(settings)
    kb = app.knowledge_base(settings)
    assert kb.problems(contract.with_answers(), contract.languages, app.contacts(settings)) == []


def test_emergency_answer_starts_with_112(settings: Settings) -> None:
    kb = app.knowledge_base(settings)
    for lang in ("pl", "uk", "ru", "en"):
        assert kb.answer("emergency", lang, app.contacts(settings)).startswith("112")


def test_contacts_come_from_config(settings: Settings) -> None:
    kb = app.knowledge_base(settings)
    text = kb.answer(
        "infoline_contact",
        "en",
        Contacts("+48 1", "help@org.example", dict.fromkeys(("pl", "uk", "ru", "en"), "daily")),
    )
    assert "help@org.example" in text and "{" not in text


@pytest.fixture
def kb_copy(settings: Settings, tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(settings.path(settings.kb.path), folder)
    return folder


def _edit_answer(folder: Path, topic: str, lang: str, text: str | None) -> None:
    path = folder / f"{topic}.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if text is None:
        del raw["answers"][lang]
    else:
        raw["answers"][lang] = text
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(
    ("topic", "lang", "text", "problem"),
    [
        ("work", "uk", None, "work/uk: no answer"),
        ("work", "pl", "x" * 5000, "work/pl: 5000 characters, over 4096"),
        ("work", "en", "Call our partner at +48 600 100 200.", "phone number '+48 600 100 200'"),
        ("work", "ru", "Write to {infoline_fax}.", "unknown placeholders ['infoline_fax']"),
        ("emergency", "en", "Stay calm. Call 112.", "must start with 112"),
    ],
)
def test_check_catches_broken_answers(
    settings: Settings, kb_copy: Path, topic: str, lang: str, text: str | None, problem: str
) -> None:
    _edit_answer(kb_copy, topic, lang, text)
    contract = app.topics(settings)
    problems = KnowledgeBase.load(kb_copy).problems(
        contract.with_answers(), contract.languages, app.contacts(settings)
    )
    assert any(problem in p for p in problems), problems


def test_missing_topic_file_is_reported(settings: Settings, kb_copy: Path) -> None:
    (kb_copy / "healthcare.yml").unlink()
    contract = app.topics(settings)
    problems = KnowledgeBase.load(kb_copy).problems(
        contract.with_answers(), contract.languages, app.contacts(settings)
    )
    assert problems == ["healthcare: no knowledge-base file"]


def test_stale_answers_are_listed_oldest_first(settings: Settings) -> None:
    kb = app.knowledge_base(settings)
    newest = max(e.reviewed for e in kb.entries.values())
    assert kb.stale(settings.kb.max_age_days, newest) == []
    later = newest + dt.timedelta(days=settings.kb.max_age_days + 1)
    stale = kb.stale(settings.kb.max_age_days, later)
    assert stale and [e.reviewed for e in stale] == sorted(e.reviewed for e in stale)
