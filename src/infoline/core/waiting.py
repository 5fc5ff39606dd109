"""Waiting for an event with a time limit, in a way that cannot swallow cancellation."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; return whether it was set.

    Neither asyncio.wait_for nor asyncio.timeout: on Python 3.11 both can turn a
    cancellation that arrives as their own time runs out into a plain timeout, and a
    loop around them then never stops (seen twice as a test run hanging in teardown).
    asyncio.wait times out without cancelling anything, so a cancellation always
    reaches the caller.

    A cancellation that some library swallowed before (aiosmtplib waits with
    asyncio.wait_for, which on Python 3.11 returns its result instead when the two
    coincide) is raised here: the loops that wait here would otherwise go on for ever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
    return bool(done)
