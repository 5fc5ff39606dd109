"""Supervisor statistics over a period: queries only, the console draws them.

Counts are grouped in SQL; days and durations are computed in Python over the rows'
timestamps, so that they come out the same on SQLite and PostgreSQL (which disagree on
date functions and time zones).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from infoline.store.db import Database
from infoline.store.schema import Case, Message

UNKNOWN = "unknown"  # the key for cases or messages without a topic or language


@dataclass(frozen=True, slots=True)
class Breakdown:
    """How many, by topic, language, channel and local day (days without any are absent)."""

    total: int
    by_topic: Mapping[str, int]
    by_language: Mapping[str, int]
    by_channel: Mapping[str, int]
    by_day: Mapping[dt.date, int]


@dataclass(frozen=True, slots=True)
class Durations:
    """Seconds from a case's opening to an event, over the cases that reached it."""

    count: int
    median: float | None
    p90: float | None  # nearest rank: 90 % of the cases took at most this long


@dataclass(frozen=True, slots=True)
class Statistics:
    start: dt.datetime
    end: dt.datetime
    cases: Breakdown  # cases opened in the period, by the assistant's topic guess
    messages: Breakdown  # messages users sent in the period
    conversations: int  # conversations in which users wrote in the period
    handoff_rate: float | None  # cases opened / conversations; None without conversations
    by_resolution: Mapping[str, int]  # cases opened in the period and resolved, by category
    first_response: Durations
    resolution: Durations


async def statistics_for(
    db: Database, start: dt.datetime, end: dt.datetime, timezone: ZoneInfo
) -> Statistics:
    """Return the statistics of [start, end); days are counted in `timezone`."""
    case_period = (Case.created_at >= start, Case.created_at < end)
    message_period = (
        Message.direction == "in",
        Message.created_at >= start,
        Message.created_at < end,
    )
    async with db.transaction() as session:
        cases = await _breakdown(session, Case, case_period, timezone)
        messages = await _breakdown(session, Message, message_period, timezone)
        conversations = int(
            await session.scalar(
                select(func.count(func.distinct(Message.conversation_id))).where(*message_period)
            )
            or 0
        )
        resolutions = await _counts(
            session, Case.resolution, *case_period, Case.status == "resolved"
        )
        timings = (
            await session.execute(
                select(Case.created_at, Case.first_response_at, Case.resolved_at).where(
                    *case_period
                )
            )
        ).all()
    return Statistics(
        start=start,
        end=end,
        cases=cases,
        messages=messages,
        conversations=conversations,
        handoff_rate=cases.total / conversations if conversations else None,
        by_resolution=resolutions,
        first_response=durations(
            [(answered - opened).total_seconds() for opened, answered, _ in timings if answered]
        ),
        resolution=durations(
            [(resolved - opened).total_seconds() for opened, _, resolved in timings if resolved]
        ),
    )


def durations(seconds: Sequence[float]) -> Durations:
    """Summarise durations: how many, the median and the nearest-rank 90th percentile."""
    if not seconds:
        return Durations(0, None, None)
    ordered = sorted(seconds)
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return Durations(len(ordered), float(statistics.median(ordered)), float(p90))


async def _breakdown(
    session: AsyncSession,
    model: type[Case] | type[Message],
    where: tuple[ColumnElement[bool], ...],
    timezone: ZoneInfo,
) -> Breakdown:
    days = Counter(
        moment.astimezone(timezone).date()
        for moment in await session.scalars(select(model.created_at).where(*where))
    )
    return Breakdown(
        total=sum(days.values()),
        by_topic=await _counts(session, model.topic, *where),
        by_language=await _counts(session, model.language, *where),
        by_channel=await _counts(session, model.channel, *where),
        by_day=dict(sorted(days.items())),
    )


async def _counts(
    session: AsyncSession,
    column: InstrumentedAttribute[str | None] | InstrumentedAttribute[str],
    *where: ColumnElement[bool],
) -> dict[str, int]:
    rows = await session.execute(select(column, func.count()).where(*where).group_by(column))
    counts = Counter[str]()
    for key, count in rows:
        counts[key or UNKNOWN] += int(count)
    return dict(counts.most_common())
