"""The topic contract (data/topics.yml, a copy of shared/spec/topics.yml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

Kind = Literal["answer", "urgent", "chat", "handoff", "fallback"]


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    kind: Kind
    about: str


@dataclass(frozen=True, slots=True)
class Topics:
    topics: dict[str, Topic]
    languages: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> Topics:
        """Read the contract file."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        topics = {
            name: Topic(name, spec["kind"], spec["about"]) for name, spec in raw["topics"].items()
        }
        return cls(topics, tuple(raw["languages"]))

    def ids(self) -> list[str]:
        """Return every topic id, in the contract's order."""
        return list(self.topics)

    def kind(self, topic_id: str | None) -> Kind | None:
        """Return a topic's kind, or None for an id outside the contract."""
        topic = self.topics.get(topic_id or "")
        return topic.kind if topic is not None else None

    def with_answers(self) -> list[str]:
        """Return the topics the knowledge base must answer (kinds answer and urgent)."""
        return [t.id for t in self.topics.values() if t.kind in ("answer", "urgent")]
