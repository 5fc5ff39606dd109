"""Supervisor statistics: charts drawn on the server, and the same figures as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from infoline.console.app import context_of, require_supervisor, words_for
from infoline.console.charts import Chart, bar_chart, column_chart
from infoline.console.i18n import Words
from infoline.core.i18n import _
from infoline.handoff.stats import Breakdown, Statistics, statistics_for
from infoline.store.db import now

PERIODS = (7, 30, 90, 365)  # days a supervisor can look back
DEFAULT_PERIOD = 30


async def _statistics(request: web.Request) -> tuple[int, Statistics]:
    require_supervisor(request)
    try:
        days = int(request.query.get("days", DEFAULT_PERIOD))
    except ValueError:
        days = DEFAULT_PERIOD
    days = days if days in PERIODS else DEFAULT_PERIOD
    context = context_of(request)
    end = now()
    start = end - dt.timedelta(days=days)
    return days, await statistics_for(context.db, start, end, context.timezone)


def _ranked(counts: Mapping[str, int]) -> list[tuple[str, float]]:
    """Largest first, then by name."""
    return sorted(((k, float(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0]))


def _every_day(stats: Statistics, zone: ZoneInfo) -> list[dt.date]:
    """Every local day of the period, so that quiet days show as gaps in the chart."""
    first, last = stats.start.astimezone(zone).date(), stats.end.astimezone(zone).date()
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _breakdown_charts(
    words: Words, title: str, breakdown: Breakdown, days: list[dt.date]
) -> list[Chart]:
    by_day = [(day.strftime("%d.%m"), float(breakdown.by_day.get(day, 0))) for day in days]
    return [
        column_chart(words(_("console_chart_by_day"), what=title), by_day),
        bar_chart(words(_("console_chart_by_topic"), what=title), _ranked(breakdown.by_topic)),
        bar_chart(
            words(_("console_chart_by_language"), what=title), _ranked(breakdown.by_language)
        ),
        bar_chart(words(_("console_chart_by_channel"), what=title), _ranked(breakdown.by_channel)),
    ]


async def stats_page(request: web.Request) -> web.Response:
    """Show cases and messages by topic, language, channel and day, the handoff rate and
    the times to first response and to resolution."""
    days, stats = await _statistics(request)
    words = words_for(request)
    every_day = _every_day(stats, context_of(request).timezone)
    charts = [
        *_breakdown_charts(words, words("console_cases"), stats.cases, every_day),
        *_breakdown_charts(words, words("console_messages"), stats.messages, every_day),
        bar_chart(words(_("console_chart_resolutions")), _ranked(stats.by_resolution)),
    ]
    return aiohttp_jinja2.render_template(
        "stats.html",
        request,
        {"stats": stats, "days": days, "periods": PERIODS, "charts": charts},
    )


def _cell(value: object) -> str:
    text = str(value)
    # A spreadsheet runs a cell starting with one of these as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def stats_csv(request: web.Request) -> web.Response:
    """Download the statistics as CSV: one row per figure (what, key, value)."""
    days, stats = await _statistics(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["what", "key", "value"])
    writer.writerow(["period", "start", stats.start.isoformat()])
    writer.writerow(["period", "end", stats.end.isoformat()])
    for name, breakdown in (("cases", stats.cases), ("messages", stats.messages)):
        writer.writerow([name, "total", breakdown.total])
        for part in ("topic", "language", "channel"):
            counts = getattr(breakdown, f"by_{part}")
            for key, value in sorted(counts.items()):
                writer.writerow([f"{name}_by_{part}", _cell(key), value])
        for day, value in breakdown.by_day.items():
            writer.writerow([f"{name}_by_day", day.isoformat(), value])
    writer.writerow(["conversations", "total", stats.conversations])
    writer.writerow(["handoff_rate", "cases_per_conversation", stats.handoff_rate])
    for key, value in sorted(stats.by_resolution.items()):
        writer.writerow(["resolutions", _cell(key), value])
    for name, timing in (
        ("first_response", stats.first_response),
        ("resolution", stats.resolution),
    ):
        writer.writerow([f"{name}_seconds", "count", timing.count])
        writer.writerow([f"{name}_seconds", "median", timing.median])
        writer.writerow([f"{name}_seconds", "p90", timing.p90])
    filename = f"infoline-statistics-{stats.end.date().isoformat()}-{days}d.csv"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
