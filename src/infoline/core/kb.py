"""The knowledge base: one reviewed answer per topic, in every language, with its sources."""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

# Telegram's limit for one message; an answer must fit with the feedback question after it.
MAX_ANSWER_CHARS = 4096
URGENT_PREFIX = "112"
NUMBERS_FILE = "public-numbers.yml"
PLACEHOLDERS = frozenset({"infoline_phone", "infoline_email", "infoline_hours"})
# Six or more digits, possibly grouped, is read as a phone number.
_PHONE = re.compile(r"\+?\d(?:[ \-]?\d){5,}")


class KnowledgeBaseError(ValueError):
    """A knowledge-base file cannot be read."""


@dataclass(frozen=True, slots=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Entry:
    topic: str
    reviewed: dt.date
    sources: tuple[Source, ...]
    answers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Contacts:
    """The infoline's own contacts that answers refer to (from config.yml)."""

    phone: str
    email: str
    hours: Mapping[str, str]  # office hours described in each language

    def placeholders(self, language: str) -> dict[str, str]:
        # Until the organisation sets its phone number, answers show a dash, never a guess.
        return {
            "infoline_phone": self.phone or "—",
            "infoline_email": self.email,
            "infoline_hours": self.hours[language],
        }


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    entries: Mapping[str, Entry]
    public_numbers: frozenset[str]

    @classmethod
    def load(cls, folder: Path) -> KnowledgeBase:
        """Read every topic file in `folder` and the list of public numbers answers may cite."""
        entries = {}
        for path in sorted(folder.glob("*.yml")):
            if path.name != NUMBERS_FILE:
                entry = _read_entry(path)
                entries[entry.topic] = entry
        numbers_path = folder / NUMBERS_FILE
        numbers = (
            yaml.safe_load(numbers_path.read_text(encoding="utf-8"))
            if numbers_path.exists()
            else []
        )
        return cls(entries, frozenset(_digits(str(n["number"])) for n in numbers or []))

    def answer(self, topic: str, language: str, contacts: Contacts) -> str:
        """Return the answer for a topic in a language, with the infoline's contacts filled in."""
        return (
            self.entries[topic]
            .answers[language]
            .format_map(contacts.placeholders(language))
            .strip()
        )

    def problems(
        self, topics: Iterable[str], languages: Iterable[str], contacts: Contacts
    ) -> list[str]:
        """List every missing, overlong or unsafe answer; an empty list means the base is sound."""
        found: list[str] = []
        wanted = list(topics)
        for extra in sorted(set(self.entries) - set(wanted)):
            found.append(f"{extra}: not a topic that has answers")
        for topic in wanted:
            entry = self.entries.get(topic)
            if entry is None:
                found.append(f"{topic}: no knowledge-base file")
                continue
            if not entry.sources:
                found.append(f"{topic}: no official sources")
            found.extend(
                f"{topic}: source URL {s.url!r} is not https"
                for s in entry.sources
                if not s.url.startswith("https://")
            )
            for language in languages:
                found.extend(self._answer_problems(entry, language, contacts))
        return found

    def _answer_problems(self, entry: Entry, language: str, contacts: Contacts) -> list[str]:
        where = f"{entry.topic}/{language}"
        text = entry.answers.get(language, "")
        if not text.strip():
            return [f"{where}: no answer"]
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        if fields - PLACEHOLDERS:
            return [f"{where}: unknown placeholders {sorted(fields - PLACEHOLDERS)}"]
        found = []
        rendered = self.answer(entry.topic, language, contacts)
        if len(rendered) > MAX_ANSWER_CHARS:
            found.append(f"{where}: {len(rendered)} characters, over {MAX_ANSWER_CHARS}")
        if entry.topic == "emergency" and not rendered.startswith(URGENT_PREFIX):
            found.append(f"{where}: the emergency answer must start with {URGENT_PREFIX}")
        for number in _PHONE.findall(text):
            if _digits(number) not in self.public_numbers:
                found.append(f"{where}: phone number {number!r} is not in {NUMBERS_FILE}")
        return found

    def stale(self, max_age_days: int, today: dt.date) -> list[Entry]:
        """Return the entries reviewed more than `max_age_days` ago, oldest first."""
        limit = today - dt.timedelta(days=max_age_days)
        return sorted(
            (e for e in self.entries.values() if e.reviewed < limit), key=lambda e: e.reviewed
        )


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _read_entry(path: Path) -> Entry:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        reviewed = raw["reviewed"]
        if not isinstance(reviewed, dt.date):
            reviewed = dt.date.fromisoformat(str(reviewed))
        return Entry(
            topic=str(raw["topic"]),
            reviewed=reviewed,
            sources=tuple(Source(str(s["title"]), str(s["url"])) for s in raw.get("sources") or ()),
            answers={str(k): str(v) for k, v in (raw.get("answers") or {}).items()},
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as err:
        raise KnowledgeBaseError(f"{path}: cannot read the entry ({err!r})") from err
