"""Nothing lost in the mailbox: mail queued in Dovecot while `infoline run` is killed with
SIGKILL twice mid-batch; after the last restart every mail has its answer, threaded.

A duplicate is allowed only for a send whose record a kill interrupted: at most one per
kill. Replies are matched to mails by In-Reply-To.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from infoline.nlu.client import NluClient
from infoline.nlu.server import RasaServer
from tests.support.faults import check_answers, run_env, run_with_kills
from tests.support.mailbox import mail, new_account
from tests.support.mailservers import Dovecot, SmtpSink
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
    env = run_env(nlu_server.url, tmp_path) | {
        "INFOLINE_MAILBOX_ADDRESS": address,
        "INFOLINE_MAILBOX_IMAP_HOST": "127.0.0.1",
        "INFOLINE_MAILBOX_IMAP_PORT": str(dovecot.port),
        "INFOLINE_MAILBOX_IMAP_USER": address,
        "INFOLINE_MAILBOX_IMAP_SECURITY": "none",
        "INFOLINE_MAILBOX_IMAP_PASSWORD": dovecot.password(address),
        "INFOLINE_MAILBOX_SMTP_HOST": "127.0.0.1",
        "INFOLINE_MAILBOX_SMTP_PORT": str(smtp_sink.port),
        "INFOLINE_MAILBOX_SMTP_SECURITY": "none",
    }
    log = tmp_path / "run.log"
    await dovecot.append_many(address, raws[: len(raws) // 2])
    rest = dovecot.append_many(address, raws[len(raws) // 2 :])
    process = await run_with_kills(env, log, rest, KILLS, (0.5, 2.5), rng)
    await check_answers(
        process,
        expected,
        lambda: (str(r.message["In-Reply-To"]) for r in smtp_sink.received),
        KILLS,
        "mails",
        log,
    )
    flags = [m.flags for m in await dovecot.messages(address)]
    assert len(flags) == len(expected) and all("\\Seen" in f for f in flags)
