"""Nothing lost in the mailbox: mail queued in Dovecot while `infoline run` is killed with
SIGKILL twice mid-batch; after the last restart every mail has its answer, threaded.

A duplicate is allowed only for a send whose record a kill interrupted: at most one per
kill. Replies are matched to mails by In-Reply-To.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from infoline.nlu.client import NluClient
from infoline.nlu.server import RasaServer
from tests.support.mailbox import mail, new_account
from tests.support.mailservers import Dovecot, SmtpSink
from tests.support.net import start_run, wait_running
from tests.support.questions import clear_questions

pytestmark = pytest.mark.nlu
PER_LANGUAGE, KILLS = 15, 2


async def test_sigkill_mid_batch_loses_no_mail(
    nlu_server: RasaServer,
    nlu: NluClient,
    dovecot: Dovecot,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    rng = random.Random(20261128)
    address = new_account(dovecot)
    expected: set[str] = set()
    raws: list[bytes] = []
    for language in ("pl", "uk", "ru", "en"):
        for n, text in enumerate(await clear_questions(nlu, language, PER_LANGUAGE)):
            message_id, raw = mail(f"{language}{n}@example.com", address, "Pytanie", text)
            expected.add(message_id)
            raws.append(raw)
    rng.shuffle(raws)
    env = {
        "INFOLINE_NLU_URL": nlu_server.url,
        "INFOLINE_NLU_MANAGE": "false",
        "INFOLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'faults.db'}",
        "INFOLINE_MAILBOX_ADDRESS": address,
        "INFOLINE_MAILBOX_IMAP_HOST": "127.0.0.1",
        "INFOLINE_MAILBOX_IMAP_PORT": str(dovecot.port),
        "INFOLINE_MAILBOX_IMAP_USER": address,
        "INFOLINE_MAILBOX_IMAP_SECURITY": "none",
        "INFOLINE_MAILBOX_IMAP_PASSWORD": dovecot.password(address),
        "INFOLINE_MAILBOX_SMTP_HOST": "127.0.0.1",
        "INFOLINE_MAILBOX_SMTP_PORT": str(smtp_sink.port),
        "INFOLINE_MAILBOX_SMTP_SECURITY": "none",
        "INFOLINE_OUTBOX_BACKOFF_SECONDS": "0.2",
        # Replies a killed process had leased are sent once the lease ends; its sends take
        # milliseconds, so a short lease keeps the test short.
        "INFOLINE_OUTBOX_LEASE_SECONDS": "3",
        "INFOLINE_APP_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "run.log"
    await dovecot.append_many(address, raws[: len(raws) // 2])
    process = await start_run(env, log)
    await wait_running(process)
    feeding = asyncio.create_task(dovecot.append_many(address, raws[len(raws) // 2 :]))
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(0.5, 2.5))
        process.send_signal(signal.SIGKILL)
        await process.wait()
        process = await start_run(env, log)
        await wait_running(process)
    await feeding
    answers: Counter[str] = Counter()
    for _ in range(1500):
        answers = Counter(str(r.message["In-Reply-To"]) for r in smtp_sink.received)
        if expected <= set(answers):
            break
        await asyncio.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    missing = expected - set(answers)
    duplicates = sum(count - 1 for count in answers.values())
    print(f"\n{len(expected)} mails, {KILLS} kills: {len(missing)} unanswered, ", end="")
    print(f"{duplicates} duplicates")
    assert not missing, f"{len(missing)} mails never answered; see {log}"
    assert set(answers) == expected
    assert duplicates <= KILLS
    flags = [m.flags for m in await dovecot.messages(address)]
    assert len(flags) == len(expected) and all("\\Seen" in f for f in flags)
