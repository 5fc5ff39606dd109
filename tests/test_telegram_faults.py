"""Nothing lost on Telegram: 500 updates from 50 users while `infoline run` is killed with
SIGKILL twice; after the last restart every update has its answer.

Answers quote the question they answer (reply_to_message_id), so each update's answers
are counted exactly. A duplicate is allowed only for a send whose record a kill
interrupted: at most one per kill.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from infoline.config import Settings
from infoline.nlu.client import NluClient
from infoline.nlu.server import RasaServer
from tests.support.botapi import BotApi
from tests.support.net import start_run, wait_running
from tests.support.questions import clear_questions

pytestmark = pytest.mark.nlu
USERS, PER_USER, KILLS = 50, 10, 2
LANGUAGES = ("pl", "uk", "ru", "en")


async def test_sigkill_twice_loses_no_update(
    settings: Settings, nlu_server: RasaServer, nlu: NluClient, tmp_path: Path
) -> None:
    rng = random.Random(20261127)
    pools = {lang: await clear_questions(nlu, lang, PER_USER) for lang in LANGUAGES}
    async with BotApi() as api:
        env = {
            "INFOLINE_NLU_URL": nlu_server.url,
            "INFOLINE_NLU_MANAGE": "false",
            "INFOLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'faults.db'}",
            "INFOLINE_TELEGRAM_TOKEN": api.token,
            "INFOLINE_TELEGRAM_BASE_URL": api.base_url,
            "INFOLINE_TELEGRAM_POLL_TIMEOUT": "1",
            "INFOLINE_OUTBOX_BACKOFF_SECONDS": "0.2",
            # Replies a killed process had leased are sent once the lease ends; its sends take
            # milliseconds, so a short lease keeps the test short.
            "INFOLINE_OUTBOX_LEASE_SECONDS": "3",
            "INFOLINE_APP_LOG_LEVEL": "WARNING",
        }
        log = tmp_path / "run.log"
        languages = {api.user(language_code=lang): lang for lang in LANGUAGES * (USERS // 4)}
        languages |= {api.user(language_code=lang): lang for lang in LANGUAGES[: USERS % 4]}
        users = list(languages)
        questions = [(user, text) for user in users for text in pools[languages[user]]]
        rng.shuffle(questions)  # each user's questions keep no order; users interleave

        async def feed() -> None:
            for user, text in questions:
                api.send(user, text)
                await asyncio.sleep(rng.uniform(0, 0.03))

        process = await start_run(env, log)
        await wait_running(process)
        feeding = asyncio.create_task(feed())
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(2.0, 6.0))
            process.send_signal(signal.SIGKILL)
            await process.wait()
            process = await start_run(env, log)
            await wait_running(process)
        await feeding
        expected = {
            (user, message_id)
            for user in users
            for message_id, message in api.chats[user].messages.items()
            if message["from"]["id"] == user
        }
        assert len(expected) == USERS * PER_USER
        answers: Counter[tuple[int, int | None]] = Counter()
        for _ in range(1200):
            answers = Counter((s.chat_id, s.reply_to_message_id) for s in api.sent)
            if expected <= set(answers):
                break
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    missing = expected - set(answers)
    duplicates = sum(count - 1 for count in answers.values())
    print(f"\n{len(expected)} updates, {KILLS} kills: {len(missing)} unanswered, ", end="")
    print(f"{duplicates} duplicates")
    assert not missing, f"{len(missing)} updates never answered; see {log}"
    assert set(answers) == expected, "an answer quotes no question of its chat"
    assert duplicates <= KILLS
