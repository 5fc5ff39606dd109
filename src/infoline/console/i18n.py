"""The console's words in the consultant's language, and dates in their locale.

Templates call `_("message_id", name=value)`, the project's style: the text is in the
gettext catalogs, with `{name}` placeholders filled by str.format. Jinja2 escapes the
result like any other value, so a placeholder holding user text stays text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta

from infoline.core.i18n import Catalogs
from infoline.core.messages import LANGUAGES
from infoline.core.strings import LANGUAGE_NAMES


@dataclass(frozen=True)
class Words:
    """Everything a template needs to speak one language."""

    catalogs: Catalogs
    language: str
    timezone: ZoneInfo

    def __call__(self, message_id: str, **params: object) -> str:
        return self.catalogs.text(
            self.language, message_id, **{k: str(v) for k, v in params.items()}
        )

    def when(self, moment: dt.datetime | None) -> str:
        """Format a moment as a date and time in the reader's locale and the office's zone."""
        if moment is None:
            return "–"
        return format_datetime(moment.astimezone(self.timezone), "short", locale=self.language)

    def duration(self, seconds: float | None) -> str:
        """Format a duration such as '3 minutes' in the reader's locale."""
        if seconds is None:
            return "–"
        return format_timedelta(dt.timedelta(seconds=seconds), locale=self.language)

    def ago(self, moment: dt.datetime, now: dt.datetime) -> str:
        """Say how long ago a moment was, e.g. '5 minutes'."""
        return self.duration((now - moment).total_seconds())


def language_name(code: str | None) -> str:
    """Name a conversation language in its own language; '?' when unknown."""
    if code is None:
        return "?"
    return LANGUAGE_NAMES.get(code, code)


def best_language(accept: str, default: str) -> str:
    """Pick the console language from an Accept-Language header, before anyone logs in."""
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default
