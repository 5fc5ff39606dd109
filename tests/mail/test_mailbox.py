"""The special mailbox end to end: mail put into real Dovecot with IMAP APPEND, read by the
poller, answered through the real engine and NLU, replies caught by a real SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from infoline.config import Settings
from infoline.mailbox.parse import parse_mail
from infoline.nlu.client import NluClient
from infoline.store.schema import Case, Message, StoredAttachment
from tests.support.databases import BACKENDS
from tests.support.mailbox import MailRig, ask_for_a_consultant, mail, mail_rig
from tests.support.mailservers import Dovecot, SmtpSink
from tests.support.questions import QUESTIONS

pytestmark = pytest.mark.nlu
CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(params=BACKENDS)
async def rig(
    request: pytest.FixtureRequest,
    settings: Settings,
    nlu: NluClient,
    dovecot: Dovecot,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> AsyncIterator[MailRig]:
    async with mail_rig(settings, nlu, dovecot, smtp_sink, tmp_path, request.param) as rig:
        yield rig


async def until(condition: object, seconds: float = 20.0) -> None:
    for _ in range(int(seconds * 10)):
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_a_mail_in_each_language_is_answered_in_its_thread(rig: MailRig) -> None:
    sent = {}
    for language, (question, _) in QUESTIONS.items():
        sender = f"{language}-writer@example.com"
        message_id, raw = mail(sender, rig.address, f"Pytanie {language}", question)
        sent[sender] = (language, message_id)
        await rig.dovecot.append(rig.address, raw)
    replies = await rig.sink.wait_for(4, timeout=30)
    for reply in replies:
        message = reply.message
        [to] = reply.rcpt_tos
        language, original = sent[to]
        assert message["In-Reply-To"] == original and original in message["References"]
        assert message["Subject"] == f"Re: Pytanie {language}"
        assert message["Auto-Submitted"] == "auto-replied"
        assert message["Content-Language"] == language
        plain = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert plain is not None and html is not None
        assert QUESTIONS[language][1] in plain.get_content()
        assert QUESTIONS[language][0] in plain.get_content()  # the original, quoted
    flags = [m.flags for m in await rig.dovecot.messages(rig.address)]
    assert all("\\Seen" in f for f in flags) and len(flags) == 4


async def test_a_consultant_case_and_the_consultants_reply(rig: MailRig) -> None:
    message_id = await ask_for_a_consultant(rig)
    [told] = await rig.sink.wait_for(1, timeout=30)
    assert "konsultant" in (told.message.get_body(("plain",)) or told.message).get_content()

    async def case() -> Case | None:
        async with rig.db.transaction() as session:
            return await session.scalar(select(Case))

    await until(case)
    found = await case()
    assert found is not None and found.channel == "email"
    await rig.engine.consultant_reply(found.conversation_id, "Dzień dobry, tu Anna.", "anna")
    answer = (await rig.sink.wait_for(2, timeout=30))[1].message
    assert answer["In-Reply-To"] == message_id and answer["Auto-Submitted"] is None


async def test_an_auto_reply_is_stored_and_shown_but_never_answered(rig: MailRig) -> None:
    raw = (CORPUS / "autoreply-pl.eml").read_bytes()
    await rig.dovecot.append(rig.address, raw)

    async def shown() -> bool:
        async with rig.db.transaction() as session:
            case = await session.scalar(select(Case))
        return case is not None and case.reason == "no_reply_auto-reply"

    await until(shown)
    await asyncio.sleep(1.0)
    assert rig.sink.received == []


async def test_smtp_refusing_for_a_while_delays_replies_only(rig: MailRig) -> None:
    rig.sink.refuse(451)
    _, raw = mail("maria@example.com", rig.address, "Praca", QUESTIONS["pl"][0])
    await rig.dovecot.append(rig.address, raw)
    await asyncio.sleep(2.0)
    assert rig.sink.received == []
    rig.sink.accept()
    [reply] = await rig.sink.wait_for(1, timeout=30)
    assert QUESTIONS["pl"][1] in (reply.message.get_body(("plain",)) or reply.message).get_content()


async def test_every_corpus_mail_is_answered_or_shown_to_a_consultant(
    settings: Settings,
    nlu: NluClient,
    dovecot: Dovecot,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    # An IMAP server cannot hold an empty mail; the parser tests cover that one.
    files = [path for path in sorted(CORPUS.glob("*.eml")) if path.stat().st_size]
    assert len(files) >= 60
    async with mail_rig(settings, nlu, dovecot, smtp_sink, tmp_path) as rig:
        ids = set()
        for path in files:
            raw = path.read_bytes()
            ids.add(parse_mail(raw, rig.address, 25_000_000, 5_000_000).message_id)
            await rig.dovecot.append(rig.address, raw)

        async def all_handled() -> bool:
            async with rig.db.transaction() as session:
                stored = await session.scalar(
                    select(func.count()).where(
                        Message.direction == "in", Message.processed_at.is_not(None)
                    )
                )
            return stored == len(ids)

        await until(all_handled, 120)
        async with rig.db.transaction() as session:
            inbound = list(await session.scalars(select(Message).where(Message.direction == "in")))
            replied = set(
                await session.scalars(
                    select(Message.conversation_id).where(Message.direction == "out")
                )
            )
            attachments = await session.scalar(select(func.count(StoredAttachment.id)))
        stored = {m.external_id or "" for m in inbound}
        # A mail without a Message-ID is named by a hash of its bytes as the server keeps
        # them (Dovecot writes line ends its own way), so only the count can be compared.
        synthetic = "@infoline.invalid>"
        assert len(stored) == len(ids)
        assert {i for i in stored if synthetic not in i} == {i for i in ids if synthetic not in i}
        unhandled = [
            m.external_id for m in inbound if m.case_id is None and m.conversation_id not in replied
        ]
        assert not unhandled, f"neither answered nor shown: {unhandled}"
        assert attachments
        flags = [m.flags for m in await dovecot.messages(rig.address)]
        assert len(flags) == len(files) and all("\\Seen" in f for f in flags)


async def test_a_mail_asking_several_things_gets_one_reply_and_a_case_for_the_rest(
    rig: MailRig,
) -> None:
    body = "\n\n".join(
        [
            "Good morning,",
            QUESTIONS["en"][0],
            "Also, how do I register with a family doctor under the NFZ insurance?",
            "And I would like to talk to a consultant, a real person, about my situation.",
            "Thank you, Olena",
        ]
    )
    message_id, raw = mail("olena@example.com", rig.address, "Questions", body)
    await rig.dovecot.append(rig.address, raw)
    [reply] = await rig.sink.wait_for(1, timeout=30)
    text = (reply.message.get_body(("plain",)) or reply.message).get_content()
    assert reply.message["In-Reply-To"] == message_id
    assert "work" in text and "NFZ" in text and "consultant" in text
    async with rig.db.transaction() as session:
        case = await session.scalar(select(Case))
    assert case is not None and case.reason == "partly_answered"
    await asyncio.sleep(1.0)
    assert len(rig.sink.received) == 1  # one e-mail, not one per answer
