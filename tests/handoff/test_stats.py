"""Supervisor statistics over rows with known timestamps, on both databases."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import update

from infoline.core.messages import Inbound
from infoline.handoff.stats import durations, statistics_for
from infoline.store import repository as repo
from infoline.store.db import Database
from infoline.store.schema import Case, Message
from tests.support.cases import make_case

WARSAW = ZoneInfo("Europe/Warsaw")
DAY = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)


def test_median_and_nearest_rank_p90() -> None:
    assert durations([]).count == 0 and durations([]).median is None
    ten = durations([float(s) for s in range(10, 0, -1)])
    assert (ten.count, ten.median, ten.p90) == (10, 5.5, 9.0)
    one = durations([42.0])
    assert (one.median, one.p90) == (42.0, 42.0)


async def place(db: Database, case_id: int, opened: dt.datetime, **times: dt.timedelta) -> None:
    """Move a case and its conversation's messages to `opened`, its events after it."""
    async with db.transaction() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        values = {name: opened + delay for name, delay in times.items()}
        await session.execute(
            update(Case).where(Case.id == case_id).values(created_at=opened, **values)
        )
        await session.execute(
            update(Message)
            .where(Message.conversation_id == case.conversation_id)
            .values(created_at=opened)
        )


async def test_statistics_of_a_period(db: Database) -> None:
    minute = dt.timedelta(minutes=1)
    # 23:30 UTC on the 10th is already the 11th in Warsaw.
    late = DAY + dt.timedelta(hours=23, minutes=30)
    answered = await make_case(db, "Шукаю роботу", language="uk", topic="work")
    await place(db, answered, DAY, first_response_at=10 * minute, resolved_at=60 * minute)
    quick = await make_case(db, "Szukam pracy", language="pl", topic="work", channel="email")
    await place(db, quick, DAY, first_response_at=2 * minute, resolved_at=5 * minute)
    waiting = await make_case(db, "Помогите", language="ru", topic=None)
    await place(db, waiting, late, first_response_at=4 * minute)
    outside = await make_case(db, "Old case", language="en")
    await place(db, outside, DAY - dt.timedelta(days=3), first_response_at=minute)
    async with db.transaction() as session:
        await session.execute(
            update(Case).where(Case.id.in_([answered, quick])).values(status="resolved")
        )
        await session.execute(update(Case).where(Case.id == answered).values(resolution="work"))
    for text in ("Дякую", "Де PESEL?"):  # a conversation the assistant handled alone
        received, _ = await db.run(
            repo.record_inbound, Inbound("telegram", "solo", uuid.uuid4().hex, text), 1000
        )
    async with db.transaction() as session:
        await session.execute(
            update(Message)
            .where(Message.conversation_id == received.conversation_id)
            .values(created_at=DAY + dt.timedelta(hours=3), topic="pesel", language="uk")
        )

    stats = await statistics_for(db, DAY, DAY + dt.timedelta(days=2), WARSAW)
    assert stats.cases.total == 3 and stats.messages.total == 5
    assert stats.cases.by_topic == {"work": 2, "unknown": 1}
    assert stats.cases.by_language == {"uk": 1, "pl": 1, "ru": 1}
    assert stats.cases.by_channel == {"telegram": 2, "email": 1}
    assert stats.cases.by_day == {dt.date(2026, 3, 10): 2, dt.date(2026, 3, 11): 1}
    assert stats.messages.by_topic == {"pesel": 2, "unknown": 3}
    assert stats.conversations == 4 and stats.handoff_rate == 0.75
    assert stats.by_resolution == {"work": 1, "unknown": 1}
    assert (stats.first_response.count, stats.first_response.median) == (3, 240.0)
    assert stats.first_response.p90 == 600.0
    assert (stats.resolution.count, stats.resolution.median, stats.resolution.p90) == (
        2,
        1950.0,
        3600.0,
    )
    empty = await statistics_for(
        db, DAY + dt.timedelta(days=30), DAY + dt.timedelta(days=31), WARSAW
    )
    assert empty.handoff_rate is None and empty.cases.total == 0 and empty.resolution.median is None
