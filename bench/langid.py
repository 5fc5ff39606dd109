"""Compare language identification methods on the held-out messages; print JSON.

Usage: .venv/bin/pip install -e '.[bench]' && .venv/bin/python -m bench.langid
Methods: lingua and py3langid limited to pl/uk/ru/en, lingua with all its languages
(anything else counted as "other"), and the infoline's own component in the Rasa server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import py3langid
from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from infoline.config import load_settings
from infoline.nlu.client import NluClient
from tests.support.net import ROOT
from tests.support.rasa import private_server

FOUR = ("pl", "uk", "ru", "en")


def held_out() -> list[tuple[str, str]]:
    """Return (text, language) pairs of every held-out file, "other" languages included."""
    return [
        (row["text"], row["lang"])
        for path in sorted((ROOT / "data" / "eval").glob("*.jsonl"))
        for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())
    ]


def groups(text: str, lang: str) -> list[str]:
    """Name the slices a message belongs to."""
    names = ["all"]
    if len(text.split()) <= 3:
        names.append("short_1_3_words")
    if lang in ("uk", "ru") and not any("\u0400" <= c <= "\u04ff" for c in text):
        names.append("uk_ru_latin_letters")
    if lang == "pl" and not any(c in "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ" for c in text):
        names.append("pl_without_diacritics")
    if lang in ("uk", "ru"):
        names.append("uk_vs_ru")
    if lang == "other":
        names.append("other_languages")
    return names


def score(predict: Callable[[str], str], rows: list[tuple[str, str]]) -> dict[str, object]:
    """Accuracy overall and per slice."""
    hits: dict[str, list[bool]] = {}
    for text, lang in rows:
        correct = predict(text) == lang
        for name in groups(text, lang):
            hits.setdefault(name, []).append(correct)
    return {name: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)} for name, v in hits.items()}


def lingua_method(only_four: bool) -> Callable[[str], str]:
    codes = {Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())): c for c in FOUR}
    builder = (
        LanguageDetectorBuilder.from_languages(*codes)
        if only_four
        else LanguageDetectorBuilder.from_all_languages()
    )
    detector = builder.build()

    def predict(text: str) -> str:
        found = detector.detect_language_of(text)
        return codes.get(found, "other") if found is not None else "other"

    return predict


def py3langid_method() -> Callable[[str], str]:
    identifier = py3langid.langid.LanguageIdentifier.from_modelpath(
        py3langid.langid.MODEL_DIR / py3langid.langid.MODEL_FILE, norm_probs=True
    )
    identifier.set_languages(list(FOUR))
    return lambda text: str(identifier.classify(text)[0])


async def ours(rows: list[tuple[str, str]]) -> dict[str, object]:
    settings = load_settings(ROOT / "config.yml", environ={})
    async with (
        private_server(settings) as server,
        NluClient(server.url, timeout=30, max_chars=settings.nlu.max_chars) as client,
    ):
        found = {text: (await client.parse(text)).language for text, _ in rows}
    return score(found.__getitem__, rows)


def main() -> None:
    rows = held_out()
    result = {
        "lingua_4_languages": score(lingua_method(only_four=True), rows),
        "lingua_all_languages": score(lingua_method(only_four=False), rows),
        "py3langid_4_languages": score(py3langid_method(), rows),
        "infoline_component": asyncio.run(ours(rows)),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
