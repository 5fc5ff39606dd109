"""What the dialogue engine does for consultants, with the real NLU: urgent cases told to
the duty address through the outbox (Telegram, or e-mail to a real SMTP server), and the
user told "as soon as they are free" only when a consultant who speaks their language is."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from infoline import app
from infoline.config import HandoffSettings, MailboxSettings, Settings
from infoline.core.i18n import Catalogs
from infoline.core.messages import Inbound, Outgoing
from infoline.handoff.stats import statistics_for
from infoline.mailbox.smtp import MailChannel
from infoline.nlu.client import NluClient
from infoline.store.db import Database, now
from tests.support.cases import make_consultant
from tests.support.channels import RecordingChannel
from tests.support.mailservers import SmtpSink

pytestmark = pytest.mark.nlu
DANGER = "мені погрожують, я боюся за своє життя"


def with_duty(settings: Settings, address: str) -> Settings:
    return settings.model_copy(update={"handoff": HandoffSettings(duty_address=address)})


async def say(assistant: app.Assistant, text: str, address: str = "501") -> None:
    inbound = Inbound("telegram", address, uuid.uuid4().hex, text, language_hint="uk")
    await assistant.exchange(inbound)


def rig(
    settings: Settings, db: Database, nlu: NluClient, *extra: RecordingChannel | MailChannel
) -> tuple[app.Assistant, RecordingChannel]:
    channel = RecordingChannel("telegram")
    channels = {c.name: c for c in (channel, *extra)}
    dispatcher = app.dispatcher(settings, db, channels, asyncio.Event())
    engine = app.engine(settings, db, nlu, dispatcher.handoff)
    return app.Assistant(engine, dispatcher, db), channel


async def test_urgent_case_is_told_to_a_telegram_duty_address(
    settings: Settings, db: Database, nlu: NluClient
) -> None:
    assistant, channel = rig(with_duty(settings, "telegram:999"), db, nlu)
    await say(assistant, DANGER)
    (notice,) = [m for m in channel.sent if m.address == "999"]
    assert notice.text.startswith("Pilna sprawa") and notice.language == "pl"
    assert DANGER not in notice.text, "no personal content leaves for the duty address"
    user = [m for m in channel.sent if m.address == "501"]
    assert len(user) == 1 and "112" in user[0].text
    await say(assistant, "ще раз: мені погрожують", address="501")
    assert len([m for m in channel.sent if m.address == "999"]) == 1, "told once per case"
    stats = await statistics_for(
        db, now() - dt.timedelta(hours=1), now() + dt.timedelta(hours=1), ZoneInfo("UTC")
    )
    assert stats.conversations == 1 and stats.cases.total == 1, "the notices are no conversation"


async def test_escalation_is_told_to_an_email_duty_address(
    settings: Settings, db: Database, nlu: NluClient, smtp_sink: SmtpSink
) -> None:
    mailbox = MailboxSettings(
        address="infoline@example.org",
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        smtp_security="none",
    )
    duty = with_duty(settings, "email:duty@example.org")
    assistant, user = rig(duty, db, nlu, MailChannel(mailbox, ""))
    await say(assistant, "хочу поговорити з оператором")
    assert smtp_sink.received == []
    await say(assistant, DANGER)
    assert "112" in user.sent[-1].text
    (mail,) = smtp_sink.received
    assert mail.rcpt_tos == ("duty@example.org",)
    assert "Pilna sprawa" in mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_the_user_is_told_when_a_consultant_will_answer(
    settings: Settings, db: Database, nlu: NluClient
) -> None:
    assistant, channel = rig(settings, db, nlu)
    catalogs = Catalogs()
    free = catalogs.text("uk", "when_available")

    async def told(address: str) -> Outgoing:
        before = len(channel.sent)
        await say(assistant, "хочу поговорити з оператором", address=address)
        (reply,) = channel.sent[before:]
        return reply

    assert free not in (await told("601")).text
    await make_consultant(db, "piotr", ["pl"])
    assert free not in (await told("602")).text, "nobody who speaks Ukrainian is free"
    await make_consultant(db, "olena", ["uk"])
    assert free in (await told("603")).text
