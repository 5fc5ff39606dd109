"""Nothing lost on Telegram: 500 updates from 50 users while `infoline run` is killed with
SIGKILL twice; after the last restart every update has its answer.

Answers quote the question they answer (reply_to_message_id), so each update's answers
are counted exactly. A duplicate is allowed only for a send whose record a kill
interrupted: at most one per kill.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from infoline.config import Settings
from infoline.nlu.client import NluClient
from infoline.nlu.server import RasaServer
from tests.support.botapi import BotApi
from tests.support.faults import check_answers, run_env, run_with_kills
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
        env = run_env(nlu_server.url, tmp_path) | {
            "INFOLINE_TELEGRAM_TOKEN": api.token,
            "INFOLINE_TELEGRAM_BASE_URL": api.base_url,
            "INFOLINE_TELEGRAM_POLL_TIMEOUT": "1",
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

        process = await run_with_kills(env, log, feed(), KILLS, (2.0, 6.0), rng)
        expected: set[tuple[int, int | None]] = {
            (user, message_id)
            for user in users
            for message_id, message in api.chats[user].messages.items()
            if message["from"]["id"] == user
        }
        assert len(expected) == USERS * PER_USER
        sent = api.sent
        await check_answers(
            process,
            expected,
            lambda: ((s.chat_id, s.reply_to_message_id) for s in sent),
            KILLS,
            "updates",
            log,
        )
