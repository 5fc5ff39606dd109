"""Interface strings from the gettext catalogs, and dates and times formatted with Babel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_day_names
from babel.support import NullTranslations, Translations

from infoline.core.messages import LANGUAGES

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "infoline"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _(message_id: str) -> str:
    """Mark a message id for extraction; the text is looked up when it is rendered."""
    return message_id


class Catalogs:
    """The compiled catalogs of every language; a missing one is an error at start-up."""

    def __init__(self, locale_dir: Path = LOCALE_DIR) -> None:
        self._translations: dict[str, NullTranslations] = {}
        for language in LANGUAGES:
            path = locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
            if not path.exists():
                raise FileNotFoundError(
                    f"No compiled catalog {path}; run 'make messages' (the run and test "
                    "commands do it)."
                )
            with path.open("rb") as handle:
                self._translations[language] = Translations(handle, domain=DOMAIN)

    def text(self, language: str, message_id: str, **params: str) -> str:
        """Return the message in a language with its placeholders filled."""
        return self._translations[language].gettext(message_id).format(**params)


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """When consultants work, in the organisation's time zone."""

    timezone: ZoneInfo
    days: frozenset[int]  # 0 = Monday
    start: dt.time
    end: dt.time

    def is_open(self, moment: dt.datetime) -> bool:
        """Tell whether consultants are at work at `moment`."""
        local = moment.astimezone(self.timezone)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_opening(self, moment: dt.datetime) -> dt.datetime:
        """Return when consultants next start work after `moment` (local time)."""
        local = moment.astimezone(self.timezone)
        for offset in range(8):
            day = local.date() + dt.timedelta(days=offset)
            opening = dt.datetime.combine(day, self.start, self.timezone)
            if day.weekday() in self.days and opening > local:
                return opening
        raise ValueError("office hours have no working day")

    def describe(self, language: str) -> str:
        """Describe the hours for a reader, e.g. 'Mon–Fri 09:00–17:00' in their language."""
        names = get_day_names("abbreviated", locale=language)
        days = sorted(self.days)
        if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            span = f"{names[days[0]]}–{names[days[-1]]}"
        else:
            span = ", ".join(names[d] for d in days)
        start = format_time(self.start, "HH:mm", locale=language)
        end = format_time(self.end, "HH:mm", locale=language)
        return f"{span} {start}–{end}"


def when_answered(
    catalogs: Catalogs, hours: OfficeHours, language: str, moment: dt.datetime
) -> str:
    """Say, in the reader's language, when a consultant will answer."""
    if hours.is_open(moment):
        end = format_time(hours.end, "HH:mm", locale=language)
        return catalogs.text(language, _("when_today"), time=end)
    opening = hours.next_opening(moment)
    return catalogs.text(
        language,
        _("when_later"),
        day=format_date(opening.date(), "EEEE d MMMM", locale=language),
        time=format_time(opening.time(), "HH:mm", locale=language),
    )


def hours_by_language(hours: OfficeHours) -> Mapping[str, str]:
    """Describe the office hours in every language, for the knowledge base's placeholder."""
    return {language: hours.describe(language) for language in LANGUAGES}
