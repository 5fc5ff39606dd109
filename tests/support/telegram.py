"""The real Telegram adapter, engine, NLU and store, with the Bot API double as Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infoline.bot.service import TelegramService
from infoline.config import Settings
from infoline.core.engine import DialogueEngine
from infoline.core.i18n import Catalogs
from infoline.core.ports import Classifier
from infoline.store.db import Database
from tests.support.botapi import BotApi
from tests.support.channels import serving
from tests.support.databases import fresh_database


def telegram_settings(settings: Settings, api: BotApi, **telegram: Any) -> Settings:
    """The test settings, pointed at the double, with short polls and retries."""
    return settings.model_copy(
        update={
            "telegram": settings.telegram.model_copy(
                update={"base_url": api.base_url, "poll_timeout": 1, **telegram}
            ),
            "outbox": settings.outbox.model_copy(update={"backoff_seconds": 0.2}),
        }
    )


@dataclass
class TelegramRig:
    api: BotApi
    db: Database
    engine: DialogueEngine
    service: TelegramService


@asynccontextmanager
async def telegram_rig(
    settings: Settings, nlu: Classifier, folder: Path, backend: str = "sqlite", **telegram: Any
) -> AsyncIterator[TelegramRig]:
    """Run the whole Telegram path until the block ends."""
    async with BotApi() as api, fresh_database(backend, folder) as db:
        settings = telegram_settings(settings, api, **telegram)
        service = TelegramService(
            settings.telegram, api.token, Catalogs(), settings.app.default_language
        )
        async with serving(
            settings, db, nlu, service.channel, lambda engine: service.run(engine.receive)
        ) as engine:
            yield TelegramRig(api, db, engine, service)
