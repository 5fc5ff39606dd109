"""A channel that keeps what it is asked to deliver, for tests of the engine and outbox;
and the engine and dispatcher serving one real channel, for end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from infoline import app
from infoline.app import Assistant
from infoline.config import Settings
from infoline.core.engine import DialogueEngine
from infoline.core.messages import Outgoing
from infoline.core.ports import (
    Channel,
    Classifier,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from infoline.store.db import Database


class RecordingChannel:
    """Delivers into a list; can be told to fail the next sends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Outgoing] = []
        self.fail_temporarily = 0
        self.fail_permanently = False

    async def send(self, message: Outgoing) -> None:
        if self.fail_permanently:
            raise PermanentDeliveryError("blocked by the user", unreachable=True)
        if self.fail_temporarily:
            self.fail_temporarily -= 1
            raise TemporaryDeliveryError("network down", retry_after=0)
        self.sent.append(message)


def recording_assistant(
    settings: Settings, db: Database, nlu: Classifier
) -> tuple[Assistant, RecordingChannel]:
    """The real engine and dispatcher on `db`, delivering into a RecordingChannel."""
    channel = RecordingChannel("telegram")
    dispatcher = app.dispatcher(settings, db, {"telegram": channel}, asyncio.Event())
    engine = app.engine(settings, db, nlu, dispatcher.handoff)
    return Assistant(engine, dispatcher, db), channel


@asynccontextmanager
async def serving(
    settings: Settings,
    db: Database,
    nlu: Classifier,
    channel: Channel,
    listen: Callable[[DialogueEngine], Coroutine[Any, Any, None]],
) -> AsyncIterator[DialogueEngine]:
    """Run the engine, a dispatcher that looks every 0.1 s, and the channel's listener
    (given the engine) until the block ends."""
    dispatcher = app.dispatcher(settings, db, {channel.name: channel}, asyncio.Event())
    engine = app.engine(settings, db, nlu, dispatcher.handoff)
    tasks = [
        asyncio.create_task(engine.run()),
        asyncio.create_task(dispatcher.run(poll_seconds=0.1)),
        asyncio.create_task(listen(engine)),
    ]
    try:
        yield engine
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
