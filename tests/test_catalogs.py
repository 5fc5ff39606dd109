"""The interface catalogs are complete in every language and match the code."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from infoline.core.i18n import LOCALE_DIR, Catalogs, OfficeHours, when_answered
from infoline.core.messages import LANGUAGES
from tests.support.net import ROOT

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalog(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "infoline.po").open("rb") as handle:
        return read_po(handle, locale=language)


def extracted_ids(tmp_path: Path) -> set[str]:
    """Extract the message ids from the code now, as `make catalogs` does."""
    pot = tmp_path / "infoline.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [str(pybabel), "-q", "extract", "-F", "babel.cfg", "-o", str(pot), "src/infoline"],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as handle:
        return {str(m.id) for m in read_po(handle) if m.id}


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_complete_and_current(language: str, tmp_path: Path) -> None:
    messages = [m for m in catalog(language) if m.id]
    untranslated = [m.id for m in messages if not m.string]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not untranslated and not fuzzy, (untranslated, fuzzy)
    assert {m.id for m in messages} == extracted_ids(tmp_path), "run 'make catalogs'"


@pytest.mark.parametrize("language", ["pl", "uk", "ru"])
def test_translations_keep_the_placeholders(language: str) -> None:
    english = {str(m.id): str(m.string) for m in catalog("en") if m.id}
    for message in catalog(language):
        if message.id:
            translated = set(PLACEHOLDER.findall(str(message.string)))
            assert translated == set(PLACEHOLDER.findall(english[str(message.id)])), message.id


def test_when_a_consultant_answers_is_said_in_the_readers_language() -> None:
    warsaw = ZoneInfo("Europe/Warsaw")
    hours = OfficeHours(warsaw, frozenset(range(5)), dt.time(9), dt.time(17))
    catalogs = Catalogs()
    friday_evening = dt.datetime(2026, 11, 27, 18, 30, tzinfo=warsaw)
    assert "poniedziałek 30 listopada" in when_answered(catalogs, hours, "pl", friday_evening)
    assert "понеділок 30 листопада" in when_answered(catalogs, hours, "uk", friday_evening)
    assert "понедельник 30 ноября" in when_answered(catalogs, hours, "ru", friday_evening)
    monday_noon = dt.datetime(2026, 11, 30, 12, 0, tzinfo=warsaw)
    assert "17:00" in when_answered(catalogs, hours, "en", monday_noon)
    assert hours.describe("pl").startswith("pon.–pt.")
