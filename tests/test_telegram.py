"""Telegram end to end: python-telegram-bot against the Bot API double, with the real
engine, NLU and store. Each test plays users the way Telegram delivers them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from infoline.bot.service import SECRET_HEADER, WEBHOOK_PATH
from infoline.config import Settings
from infoline.nlu.client import NluClient
from infoline.store.schema import Case, Contact, Conversation, Message, Outbox
from tests.support.botapi import Sent
from tests.support.databases import BACKENDS
from tests.support.net import free_port
from tests.support.questions import QUESTIONS
from tests.support.telegram import TelegramRig, telegram_rig

pytestmark = pytest.mark.nlu


@pytest.fixture(params=BACKENDS)
async def rig(
    request: pytest.FixtureRequest, settings: Settings, nlu: NluClient, tmp_path: Path
) -> AsyncIterator[TelegramRig]:
    async with telegram_rig(settings, nlu, tmp_path, request.param) as rig:
        yield rig


def buttons(sent: Sent) -> list[str]:
    markup = sent.reply_markup or {}
    return [key["callback_data"] for row in markup.get("inline_keyboard", []) for key in row]


async def case_of(rig: TelegramRig, user: int) -> Case | None:
    async with rig.db.transaction() as session:
        return await session.scalar(
            select(Case)
            .join(Conversation, Conversation.id == Case.conversation_id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Contact.channel == "telegram", Contact.address == str(user))
        )


@pytest.mark.parametrize("language", sorted(QUESTIONS))
async def test_conversation_in_each_language(rig: TelegramRig, language: str) -> None:
    api = rig.api
    user = api.user(language_code=language)
    api.command(user, "start")
    [welcome] = await api.wait_sent(user, 1, timeout=10)
    assert buttons(welcome) == ["language:pl", "language:uk", "language:ru", "language:en"]
    question, fragment = QUESTIONS[language]
    asked = api.send(user, question)
    answer = (await api.wait_sent(user, 2, timeout=10))[1]
    assert fragment in answer.text and answer.parse_mode == "HTML"
    assert answer.reply_to_message_id is not None  # the answer quotes the question
    assert buttons(answer) == ["feedback:yes", "feedback:no"]
    api.press(user, answer.message_id, "feedback:yes")
    thanks = (await api.wait_sent(user, 3, timeout=10))[2]
    assert buttons(thanks) == []
    assert api.callback_answers, "the button press was acknowledged"
    assert api.confirmed >= asked  # confirmed only once stored, and it was
    async with rig.db.transaction() as session:
        languages = set(
            await session.scalars(select(Message.language).where(Message.direction == "out"))
        )
    assert languages == {language}


async def test_help_menu_topic_button_and_language_button(rig: TelegramRig) -> None:
    api = rig.api
    user = api.user(language_code="pl")
    api.command(user, "help")
    [menu] = await api.wait_sent(user, 1, timeout=10)
    assert "topic:work" in buttons(menu) and "topic:emergency" not in buttons(menu)
    api.press(user, menu.message_id, "topic:work")
    answer = (await api.wait_sent(user, 2, timeout=10))[1]
    assert "prac" in answer.text
    api.command(user, "language")
    choice = (await api.wait_sent(user, 3, timeout=10))[2]
    api.press(user, choice.message_id, "language:uk")
    confirmed = (await api.wait_sent(user, 4, timeout=10))[3]
    assert "українською" in confirmed.text


async def test_commands_registered_in_each_language(rig: TelegramRig) -> None:
    for _ in range(50):
        if len(rig.api.commands) == 5:
            break
        await asyncio.sleep(0.1)
    names = {lang: [c for c, _ in cmds] for (_, lang), cmds in rig.api.commands.items()}
    assert set(names) == {"", "pl", "uk", "ru", "en"}
    assert all(cmds == ["start", "help", "language", "human", "forget"] for cmds in names.values())
    descriptions = dict(rig.api.commands[("default", "uk")])
    assert descriptions["forget"] == "Видалити мої дані"


async def test_emergency_is_answered_and_queued_urgent(rig: TelegramRig) -> None:
    api = rig.api
    user = api.user(language_code="uk")
    api.send(user, "Роботодавець забрав мій паспорт і погрожує мені, я боюся")
    [answer] = await api.wait_sent(user, 1, timeout=10)
    assert "112" in answer.text
    case = await case_of(rig, user)
    assert case is not None and case.priority == 0 and case.reason == "emergency"


async def test_handoff_and_consultant_reply_reach_the_chat(rig: TelegramRig) -> None:
    api = rig.api
    user = api.user(language_code="ru")
    api.command(user, "human")
    [told] = await api.wait_sent(user, 1, timeout=10)
    assert "консультант" in told.text
    case = await case_of(rig, user)
    assert case is not None and case.status == "queued"
    # A long answer with characters HTML must escape, from a consultant (not automatic).
    paragraph = "Ваш случай <срочный> & важный. " * 40
    reply = "\n\n".join([paragraph.strip()] * 8)
    await rig.engine.consultant_reply(case.conversation_id, reply, "consultant:anna")
    parts = (await api.wait_sent(user, 4, timeout=10))[1:]
    assert [len(p.text) <= 4096 for p in parts] == [True, True, True]
    assert "".join(p.text for p in parts).replace("\n", "") == reply.replace("\n", "")


async def test_forget_after_confirmation(rig: TelegramRig) -> None:
    api = rig.api
    user = api.user(language_code="en")
    api.send(user, QUESTIONS["en"][0])
    await api.wait_sent(user, 1, timeout=10)
    api.command(user, "forget")
    ask = (await api.wait_sent(user, 2, timeout=10))[1]
    assert buttons(ask) == ["forget:yes", "forget:no"]
    api.press(user, ask.message_id, "forget:yes")
    done = (await api.wait_sent(user, 3, timeout=10))[2]
    assert "erased" in done.text
    async with rig.db.transaction() as session:
        contact = await session.scalar(select(Contact).where(Contact.channel == "telegram"))
        texts = list(await session.scalars(select(Message.text).where(Message.direction == "in")))
    assert contact is not None and contact.erased and contact.address != str(user)
    assert texts == [None, None, None]


async def test_rate_limit_is_retried_after_retry_after(rig: TelegramRig) -> None:
    api = rig.api
    user = api.user(language_code="uk")
    api.rate_limit(1, retry_after=1)
    api.send(user, QUESTIONS["uk"][0])
    [answer] = await api.wait_sent(user, 1, timeout=15)
    refused = [c for c in api.calls if c.method == "sendMessage" and c.status == 429]
    assert len(refused) == 1 and answer.time - refused[0].time >= 1.0
    row = await outbox_row(rig, "sent")
    assert row.attempts == 2


async def test_blocked_user_is_marked_unreachable_not_retried(rig: TelegramRig) -> None:
    api = rig.api
    user = api.user(language_code="uk")
    api.send(user, "Привіт")
    await api.wait_sent(user, 1, timeout=10)
    api.block(user)
    await rig.engine.consultant_reply(await conversation_of(rig, user), "Ви тут?", "consultant")
    failed = await outbox_row(rig, "failed")
    assert failed.attempts == 1 and "blocked" in (failed.last_error or "")
    async with rig.db.transaction() as session:
        contact = await session.scalar(select(Contact).where(Contact.address == str(user)))
    assert contact is not None and contact.unreachable


async def test_group_gets_one_notice_and_nothing_is_stored(rig: TelegramRig) -> None:
    api = rig.api
    user = api.user(language_code="pl")
    group = api.group()
    api.send(user, "kto jedzie jutro do Krakowa?", chat=group)
    api.command(user, "help", chat=group)
    [notice] = await api.wait_sent(group, 1, timeout=10)
    assert "prywatn" in notice.text
    await asyncio.sleep(0.5)
    assert len(api.sent_to(group)) == 1
    async with rig.db.transaction() as session:
        assert await session.scalar(select(Message)) is None


async def test_photo_voice_and_edit_are_handled(rig: TelegramRig) -> None:
    api = rig.api
    user = api.user(language_code="uk")
    api.send(user, "Де можна зробити PESEL UKR?")
    [answer] = await api.wait_sent(user, 1, timeout=10)
    api.sticker(user)
    await api.wait_sent(user, 2, timeout=10)
    assert answer.reply_to_message_id is not None
    api.edit(user, answer.reply_to_message_id, "Де можна зробити PESEL UKR для дитини?")
    await api.wait_sent(user, 3, timeout=10)
    api.photo(user, caption="мій документ")
    await api.wait_sent(user, 5, timeout=10)  # the photo goes to a consultant: two replies
    case = await case_of(rig, user)
    assert case is not None and case.reason == "unreadable_photo"


async def outbox_row(rig: TelegramRig, status: str) -> Outbox:
    """Wait for the dispatcher to record an outcome (it does so just after the send)."""
    for _ in range(100):
        async with rig.db.transaction() as session:
            row = await session.scalar(select(Outbox).where(Outbox.status == status))
        if row is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"no outbox row became {status}")


async def conversation_of(rig: TelegramRig, user: int) -> int:
    async with rig.db.transaction() as session:
        found = await session.scalar(
            select(Conversation.id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Contact.address == str(user))
        )
    assert found is not None
    return found


async def test_webhook_mode_checks_the_secret_and_stores_first(
    settings: Settings, nlu: NluClient, tmp_path: Path
) -> None:
    port = free_port()
    async with telegram_rig(
        settings,
        nlu,
        tmp_path,
        mode="webhook",
        webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        webhook_port=port,
    ) as rig:
        api = rig.api
        user = api.user(language_code="pl")
        api.send(user, QUESTIONS["pl"][0])
        [answer] = await api.wait_sent(user, 1, timeout=15)
        assert "prac" in answer.text
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
            async with http.post(url, json={"update_id": 1}) as refused:
                assert refused.status == 403
            headers = {SECRET_HEADER: rig.service.secret}
            async with http.post(url, data=b"not json", headers=headers) as bad:
                assert bad.status == 400
