"""A channel that keeps what it is asked to deliver, for tests of the engine and outbox."""

from __future__ import annotations

import asyncio

from infoline import app
from infoline.app import Assistant
from infoline.config import Settings
from infoline.core.messages import Outgoing
from infoline.core.ports import Classifier, PermanentDeliveryError, TemporaryDeliveryError
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
