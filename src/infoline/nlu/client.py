"""HTTP client of the Rasa NLU server: text in, a typed result out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Self

import aiohttp

from infoline.nlu.errors import NluUnavailable

URGENT_TOPIC = "emergency"


@dataclass(frozen=True, slots=True)
class TopicScore:
    topic: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class NluResult:
    """What the NLU server made of one message."""

    topic: str | None
    confidence: float
    ranking: tuple[TopicScore, ...]
    entities: tuple[Entity, ...]
    language: str
    language_confidence: float

    def score(self, topic: str) -> float:
        """Return the confidence of one topic, 0 when it is not in the ranking."""
        return next((s.confidence for s in self.ranking if s.topic == topic), 0.0)

    def acted_topic(self, urgent_threshold: float) -> str | None:
        """Return the topic the assistant acts on.

        A missed emergency costs far more than a false alarm, so emergency wins whenever
        its confidence reaches the threshold, even when another topic ranks higher.
        """
        if self.score(URGENT_TOPIC) >= urgent_threshold:
            return URGENT_TOPIC
        return self.topic

    @classmethod
    def from_rasa(cls, body: dict[str, Any]) -> NluResult:
        """Build a result from the JSON of Rasa's POST /model/parse."""
        intent = body.get("intent") or {}
        language = body.get("language") or {}
        return cls(
            topic=intent.get("name"),
            confidence=float(intent.get("confidence") or 0.0),
            ranking=tuple(
                TopicScore(r["name"], float(r["confidence"]))
                for r in body.get("intent_ranking") or ()
            ),
            entities=tuple(
                Entity(e["entity"], str(e["value"]), int(e["start"]), int(e["end"]))
                for e in body.get("entities") or ()
            ),
            language=str(language.get("code") or "other"),
            language_confidence=float(language.get("confidence") or 0.0),
        )


class NluClient:
    """Asks the NLU server to classify texts; one aiohttp session for its lifetime."""

    def __init__(self, url: str, timeout: float, max_chars: int) -> None:
        self._url = url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_chars = max_chars
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        # Rasa answers slowly under load; a connection pool as large as our fan-out keeps
        # requests from queueing in the client instead of the server.
        connector = aiohttp.TCPConnector(limit=64)
        self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def parse(self, text: str) -> NluResult:
        """Classify one text; raise NluUnavailable when the server cannot answer in time."""
        if self._session is None:
            raise RuntimeError("NluClient is used outside 'async with'")
        # Long e-mails are classified on their beginning: it carries the question, and
        # Rasa's time grows with the text.
        payload = {"text": text[: self._max_chars]}
        try:
            async with self._session.post(f"{self._url}/model/parse", json=payload) as response:
                if response.status != 200:
                    raise NluUnavailable(
                        f"NLU server at {self._url} answered HTTP {response.status}"
                    )
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError, ValueError) as err:
            raise NluUnavailable(f"NLU server at {self._url} did not answer: {err!r}") from err
        try:
            return NluResult.from_rasa(body)
        except (KeyError, TypeError, ValueError) as err:
            raise NluUnavailable(f"NLU server at {self._url} sent an unexpected answer") from err

    async def ready(self) -> bool:
        """Tell whether the server is up with a model loaded."""
        if self._session is None:
            raise RuntimeError("NluClient is used outside 'async with'")
        try:
            async with self._session.get(f"{self._url}/status") as response:
                if response.status != 200:
                    return False
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False
        return bool(isinstance(body, dict) and body.get("model_file"))
