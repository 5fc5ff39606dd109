"""HTML mail to plain text, the way a reader sees it, with quoted blocks marked '> '.

inscriptis lays the text out like a browser (block elements, tables, lists) and leaves
out what is never shown (scripts, styles, the head, images such as tracking pixels).
Blockquotes, which mail clients use for the quoted earlier message, become '> ' lines
so that the plain-text quote stripping in `quotes` treats both kinds of mail alike.
"""

from __future__ import annotations

import bisect
import logging
import re

from inscriptis import get_annotated_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

log = logging.getLogger(__name__)

_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], annotation_rules={"blockquote": ["quote"]})
# lxml refuses control characters other than tab and newlines.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG = re.compile(r"<[^>]*>")
_TRAILING_SPACE = re.compile(r"[ \t\xa0]+$", re.MULTILINE)


def html_to_text(html: str) -> str:
    """Return the visible text of an HTML body; lines inside blockquotes start with '> '."""
    html = _CONTROL.sub("", html)
    try:
        result = get_annotated_text(html, _CONFIG)
    except Exception:  # lxml's parser errors are many; never lose the mail for them
        log.warning("HTML could not be laid out; falling back to stripping tags", exc_info=True)
        return _TAG.sub(" ", html)
    if not result:
        return ""
    text: str = result["text"]
    quoted = [(start, end) for start, end, _ in result["label"] if end > start]
    return _TRAILING_SPACE.sub("", _mark_quoted(text, quoted))


def _mark_quoted(text: str, spans: list[tuple[int, int]]) -> str:
    """Prefix '> ' to every line that overlaps one of the character spans."""
    lines = text.split("\n")
    if not spans:
        return text
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    marked = [False] * len(lines)
    for start, end in spans:
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, end - 1) - 1
        for index in range(first, last + 1):
            marked[index] = True
    return "\n".join(
        "> " + line if flag else line for line, flag in zip(lines, marked, strict=True)
    )
