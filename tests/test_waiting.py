"""Waiting for an event: a cancellation reaches the caller, even one a library swallowed."""

from __future__ import annotations

import asyncio

import pytest

from infoline.core.waiting import wait_event


async def test_an_event_set_meanwhile_ends_the_wait() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5)
    assert not await wait_event(asyncio.Event(), 0.01)


async def _swallowing_loop(started: asyncio.Event) -> None:
    """A loop like the dispatcher's, whose work swallows a cancellation once (as
    asyncio.wait_for does on Python 3.11 when its result comes at the same moment)."""
    while True:
        try:
            started.set()
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            pass  # the library's bug: neither re-raised nor uncancelled
        await wait_event(asyncio.Event(), 5)


async def test_a_cancellation_swallowed_before_the_wait_still_stops_the_loop() -> None:
    started = asyncio.Event()
    task = asyncio.create_task(_swallowing_loop(started))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
