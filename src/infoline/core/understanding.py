"""What the NLU makes of a message: the whole text, and each paragraph of a long one.

A long message, an e-mail above all, often asks several things, one per paragraph; the
whole text then reads as whichever topic has the most words. The policy answers each
paragraph's topic it can (`decide(..., parts=...)`), so the paragraphs are classified
too, concurrently with the whole text and outside any transaction.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from infoline.core.ports import Classifier
from infoline.nlu.client import NluResult
from infoline.nlu.errors import NluUnavailable

log = logging.getLogger(__name__)
# A paragraph of fewer words (a greeting, a signature) asks nothing of its own; more than
# this many paragraphs is a document, not a list of questions, and would cost the NLU a
# parse each.
MIN_PARAGRAPH_WORDS = 3
MAX_PARAGRAPHS = 6
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


@dataclass(frozen=True, slots=True)
class Understanding:
    """The NLU's answer for the whole text (None without one), and for its paragraphs."""

    whole: NluResult | None
    parts: tuple[NluResult, ...] = ()


def to_classify(kind: str, text: str, command: str | None, feedback: bool | None) -> str | None:
    """Return the text the NLU is asked about, or None when the message needs no NLU."""
    if kind != "text" or not text.strip() or command or feedback is not None:
        return None
    return text


def paragraphs(text: str) -> tuple[str, ...]:
    """Return the paragraphs (blank-line separated, each on one line) of at least
    MIN_PARAGRAPH_WORDS words when there are 2 to MAX_PARAGRAPHS of them; else none."""
    blocks = (" ".join(block.split()) for block in _BLANK_LINE.split(text))
    found = tuple(block for block in blocks if len(block.split()) >= MIN_PARAGRAPH_WORDS)
    return found if 2 <= len(found) <= MAX_PARAGRAPHS else ()


async def understand(nlu: Classifier, text: str) -> Understanding:
    """Ask the NLU about the text and, when it has several paragraphs, about each of them."""
    whole, *parts = await asyncio.gather(
        _parse(nlu, text), *(_parse(nlu, p) for p in paragraphs(text))
    )
    answered = tuple(part for part in parts if part is not None)
    # Paragraphs judged only in part would mislead the policy: all of them, or none.
    return Understanding(whole, answered if len(answered) == len(parts) else ())


async def _parse(nlu: Classifier, text: str) -> NluResult | None:
    try:
        return await nlu.parse(text)
    except NluUnavailable as err:
        log.warning("NLU unavailable: %s", err)
        return None
