"""Waiting for an event with a time limit, in a way that cannot swallow cancellation."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; return whether it was set.

    asyncio.timeout, not asyncio.wait_for: on Python 3.11, wait_for can swallow a
    cancellation that arrives just as the event is set, and a loop around it then never
    stops (seen as a test run hanging in teardown).
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
