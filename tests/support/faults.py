"""Kill `infoline run` with SIGKILL under load, restart it, and count what was answered."""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterable
from pathlib import Path
from typing import TypeVar

from infoline.config import OutboxSettings
from tests.support.net import start_run, wait_running

K = TypeVar("K", bound=Hashable)


def run_env(nlu_url: str, folder: Path) -> dict[str, str]:
    """Settings every fault test shares: the test's NLU server, a file database, quick
    retries, a short lease and a quiet log."""
    return {
        "INFOLINE_NLU_URL": nlu_url,
        "INFOLINE_NLU_MANAGE": "false",
        "INFOLINE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'faults.db'}",
        "INFOLINE_OUTBOX_BACKOFF_SECONDS": "0.2",
        # Replies a killed process had leased are sent once the lease ends; its sends take
        # milliseconds, so a short lease keeps the tests short.
        "INFOLINE_OUTBOX_LEASE_SECONDS": "3",
        "INFOLINE_APP_LOG_LEVEL": "WARNING",
    }


async def run_with_kills(
    env: dict[str, str],
    log: Path,
    load: Awaitable[None],
    kills: int,
    pause: tuple[float, float],
    rng: random.Random,
) -> asyncio.subprocess.Process:
    """Start `infoline run`, apply the load, kill it `kills` times at random moments
    (each after a pause drawn from `pause`) and restart it; return the last process."""
    process = await start_run(env, log)
    await wait_running(process)
    loading = asyncio.ensure_future(load)
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(*pause))
        process.send_signal(signal.SIGKILL)
        await process.wait()
        process = await start_run(env, log)
        await wait_running(process)
    await loading
    return process


async def check_answers(
    process: asyncio.subprocess.Process,
    expected: set[K],
    answered: Callable[[], Iterable[K]],
    kills: int,
    what: str,
    log: Path,
    seconds: float = 150.0,
) -> None:
    """Wait until every expected item is answered, stop the app, and judge: none missing,
    none unknown, duplicates only of sends whose record a kill cut off (see
    `repeated_at_most`)."""
    answers: Counter[K] = Counter()
    for _ in range(int(seconds * 10)):
        answers = Counter(answered())
        if expected <= set(answers):
            break
        await asyncio.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    missing = expected - set(answers)
    duplicates = sum(count - 1 for count in answers.values())
    print(f"\n{len(expected)} {what}, {kills} kills: {len(missing)} unanswered, ", end="")
    print(f"{duplicates} duplicates")
    assert not missing, f"{len(missing)} {what} never answered; see {log}"
    assert set(answers) == expected, f"an answer to none of the {what}"
    assert repeated_at_most(answers, kills)


def repeated_at_most(answers: Counter[K], kills: int) -> bool:
    """Whether the duplicates are no more than kills can cause: a kill repeats at most
    one message per address, and at most as many as the dispatcher sends at once."""
    duplicates = sum(count - 1 for count in answers.values())
    once_per_kill = all(count <= 1 + kills for count in answers.values())
    return once_per_kill and duplicates <= kills * OutboxSettings().concurrent_sends
