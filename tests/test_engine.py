"""The dialogue engine with the real NLU and both databases: bad input, failures, privacy."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import ColumnElement, Connection, func, select, update

from infoline import app
from infoline.app import Assistant
from infoline.config import Settings
from infoline.core.engine import DialogueEngine
from infoline.core.messages import Inbound, Outgoing
from infoline.core.outbox import Dispatcher, RetryPolicy, outgoing_of
from infoline.core.ports import Classifier
from infoline.nlu.client import NluClient, NluResult, TopicScore
from infoline.store import outbox as rows
from infoline.store import repository as repo
from infoline.store.db import Database, now
from infoline.store.privacy import delete_older_than, erase_contact
from infoline.store.repository import OPEN_CASE_STATES
from infoline.store.schema import AuditEntry, Case, Contact, Conversation, Message, Outbox
from tests.support.cases import make_consultant
from tests.support.channels import RecordingChannel, recording_assistant
from tests.support.databases import BACKENDS, fresh_database
from tests.support.net import FakeRasa, free_port

pytestmark = pytest.mark.nlu


@dataclass
class Rig:
    assistant: Assistant
    channel: RecordingChannel

    @property
    def engine(self) -> DialogueEngine:
        return self.assistant.engine

    @property
    def dispatcher(self) -> Dispatcher:
        return self.assistant.dispatcher

    @property
    def db(self) -> Database:
        return self.assistant.database

    async def say(self, text: str, address: str = "u1", hint: str | None = None) -> Message:
        """Send one message through engine and outbox; return the stored inbound record."""
        inbound = Inbound(
            channel="telegram",
            address=address,
            external_id=uuid.uuid4().hex,
            text=text,
            language_hint=hint,
        )
        received = await self.assistant.exchange(inbound)
        async with self.db.transaction() as session:
            message = await session.get(Message, received.message_id)
        assert message is not None
        return message

    async def count(self, model: type, *where: ColumnElement[bool]) -> int:
        async with self.db.transaction() as session:
            return int(
                await session.scalar(select(func.count()).select_from(model).where(*where)) or 0
            )


def make_rig(settings: Settings, db: Database, nlu: Classifier) -> Rig:
    return Rig(*recording_assistant(settings, db, nlu))


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def rig(settings: Settings, db: Database, nlu: NluClient) -> Rig:
    return make_rig(settings, db, nlu)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t  ",
        "Szukam pracy. " * 7500,  # about 100 KB
        "\x00\x01\x02\xff binary \x00 junk \ufffe",
        "🙏😭🆘🙏",
        "Добрий день, I need помощь z mieszkaniem 🏠 please",
    ],
    ids=["empty", "whitespace", "100KB", "binary", "emoji", "mixed-script"],
)
async def test_bad_input_is_stored_and_answered(rig: Rig, text: str) -> None:
    message = await rig.say(text)
    assert message.processed_at is not None
    assert message.text == text.replace("\x00", "\ufffd")[:100_000]
    cases = await rig.count(Case, Case.status.in_(OPEN_CASE_STATES))
    assert rig.channel.sent or cases, "neither a reply nor a case"
    assert all(reply.text.strip() for reply in rig.channel.sent)


async def test_duplicate_delivery_is_stored_once(rig: Rig) -> None:
    inbound = Inbound(channel="telegram", address="u1", external_id="update-1", text="hello")
    first = await rig.engine.receive(inbound)
    second = await rig.engine.receive(inbound)
    await rig.engine.drain()
    assert first.new and not second.new and first.message_id == second.message_id
    assert await rig.count(Message, Message.direction == "in") == 1


async def test_messages_of_one_conversation_are_handled_in_order(rig: Rig) -> None:
    texts = ["Dzień dobry", "Gdzie znajdę pracę w Krakowie?", "dziękuję", "do widzenia"]
    for index, text in enumerate(texts):
        await rig.engine.receive(
            Inbound(channel="telegram", address="u1", external_id=f"m{index}", text=text)
        )
        await rig.engine.receive(
            Inbound(
                channel="telegram", address=f"other{index}", external_id=f"o{index}", text="hello"
            )
        )
    await rig.engine.drain()
    async with rig.db.transaction() as session:
        rows = (
            await session.scalars(
                select(Message).where(Message.external_id.like("m%")).order_by(Message.id)
            )
        ).all()
    handled = [m.processed_at for m in rows]
    assert all(handled) and handled == sorted(handled)  # type: ignore[type-var]
    assert [m.topic for m in rows] == ["greet", "work", "thanks", "goodbye"]


async def test_nlu_down_opens_a_case_and_tells_the_user(settings: Settings, db: Database) -> None:
    async with NluClient(f"http://127.0.0.1:{free_port()}", timeout=1, max_chars=100) as down:
        rig = make_rig(settings, db, down)
        message = await rig.say("Де можна отримати PESEL UKR?", hint="uk")
    assert message.processed_at is not None and message.topic is None
    assert await rig.count(Case, Case.reason == "nlu_unavailable") == 1
    assert [r.language for r in rig.channel.sent] == ["uk", "uk"]  # what happened, and when


async def test_nlu_timeout_opens_a_case(
    settings: Settings, db: Database, fake_rasa: FakeRasa
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    async with NluClient(await fake_rasa(slow), timeout=0.3, max_chars=100) as client:
        rig = make_rig(settings, db, client)
        await rig.say("hello", hint="en")
    assert await rig.count(Case, Case.reason == "nlu_unavailable") == 1
    assert len(rig.channel.sent) == 2


async def test_temporary_failures_are_retried_then_sent(rig: Rig) -> None:
    rig.channel.fail_temporarily = 2
    await rig.say("hello")
    for _ in range(2):  # each failure schedules the next attempt after its backoff
        async with rig.db.transaction() as session:
            await session.execute(update(Outbox).values(next_attempt_at=now()))
        await rig.dispatcher.send_due()
    assert len(rig.channel.sent) == 1
    async with rig.db.transaction() as session:
        row = await session.scalar(select(Outbox))
    assert row is not None and (row.status, row.attempts) == ("sent", 3)


async def test_blocked_user_fails_once_and_is_marked_unreachable(rig: Rig) -> None:
    rig.channel.fail_permanently = True
    await rig.say("hello")
    assert await rig.count(Outbox, Outbox.status == "failed") == 1
    assert await rig.count(Contact, Contact.unreachable.is_(True)) == 1
    assert await rig.dispatcher.send_due() == 0


async def test_retries_end_visible_as_failed(rig: Rig) -> None:
    rig.channel.fail_temporarily = 1000
    await rig.say("hello")
    for _ in range(20):
        async with rig.db.transaction() as session:
            await session.execute(update(Outbox).values(next_attempt_at=now()))
        await rig.dispatcher.send_due()
    async with rig.db.transaction() as session:
        row = await session.scalar(select(Outbox))
    assert row is not None and row.status == "failed" and row.last_error
    assert row.attempts == 8


async def test_erasure_removes_texts_and_keeps_counts(rig: Rig) -> None:
    await rig.say("Gdzie znajdę pracę w Krakowie?", address="anna")
    await rig.say("hello", address="bob")
    assert await erase_contact(rig.db, "telegram", "anna", actor="test")
    async with rig.db.transaction() as session:
        anna = await session.scalar(select(Contact).where(Contact.erased.is_(True)))
        assert anna is not None
        of_anna = select(Message.text).join(Conversation).where(Conversation.contact_id == anna.id)
        texts = (await session.scalars(of_anna)).all()
        topics = (
            await session.scalars(select(Message.topic).where(Message.topic.is_not(None)))
        ).all()
    assert anna.address != "anna" and anna.display_name is None
    assert texts and all(t is None for t in texts)
    assert "work" in topics and await rig.count(Message) == 4
    assert await rig.count(AuditEntry, AuditEntry.action == "contact_erased") == 1
    assert not await erase_contact(rig.db, "telegram", "nobody", actor="test")


async def test_retention_deletes_only_old_conversations(rig: Rig) -> None:
    await rig.say("hello", address="old")
    await rig.say("hello", address="recent")
    async with rig.db.transaction() as session:
        await session.execute(
            update(Conversation)
            .where(
                Conversation.contact_id
                == select(Contact.id).where(Contact.address == "old").scalar_subquery()
            )
            .values(last_activity_at=now() - dt.timedelta(days=400))
        )
    assert await rig.db.run(delete_older_than, now() - dt.timedelta(days=365)) == 1
    assert await rig.count(Conversation) == 1 and await rig.count(Message) == 2


class HeldNlu:
    """The real NLU, whose answers wait until released: the conversation can change
    between the message's storing and its decision."""

    def __init__(self, nlu: Classifier) -> None:
        self._nlu = nlu
        self.release = asyncio.Event()

    async def parse(self, text: str) -> NluResult:
        result = await self._nlu.parse(text)
        await self.release.wait()
        return result


async def _held_message(rig: Rig, held: HeldNlu, address: str, text: str) -> None:
    await rig.engine.receive(
        Inbound(channel="telegram", address=address, external_id=uuid.uuid4().hex, text=text)
    )


async def _release(rig: Rig, held: HeldNlu) -> None:
    held.release.set()
    await rig.engine.drain()
    while await rig.dispatcher.send_due():
        pass


async def test_an_erasure_while_the_nlu_is_asked_stops_the_reply(
    settings: Settings, db: Database, nlu: NluClient
) -> None:
    held = HeldNlu(nlu)
    rig = make_rig(settings, db, held)
    await _held_message(rig, held, "anna", "Gdzie znajdę pracę w Krakowie?")
    assert await erase_contact(rig.db, "telegram", "anna", actor="test")
    await _release(rig, held)
    assert rig.channel.sent == []
    assert await rig.count(Message, Message.processed_at.is_not(None)) == 1
    assert await rig.count(Outbox) == 0


async def test_a_case_handed_back_while_the_nlu_is_asked_lets_the_assistant_answer(
    settings: Settings, db: Database, nlu: NluClient
) -> None:
    rig = make_rig(settings, db, nlu)
    await rig.say("I want to talk to a person, please", address="olena", hint="en")
    consultant = await make_consultant(db, "kasia", ("en",))
    desk = app.case_desk(settings, db)
    async with db.transaction() as session:
        case = await session.scalar(select(Case))
    assert case is not None and await desk.claim(case.id, consultant)
    held = HeldNlu(nlu)
    rig = make_rig(settings, db, held)  # the same store, its NLU held
    await _held_message(rig, held, "olena", "Where can I find a job in Krakow?")
    await desk.hand_back(case.id, consultant)
    await _release(rig, held)
    async with db.transaction() as session:
        last = await session.scalar(select(Message).order_by(Message.id.desc()).limit(1))
    assert last is not None and last.direction == "out" and last.case_id is None
    assert [m.language for m in rig.channel.sent] == ["en"]


class DriftedModel:
    """An NLU whose model knows a topic the contract does not (trained on other data)."""

    async def parse(self, text: str) -> NluResult:
        return NluResult("weather", 0.9, (TopicScore("weather", 0.9),), (), "en", 0.99)


class BrokenNlu:
    """An NLU client with a bug: it raises something that is not NluUnavailable."""

    async def parse(self, text: str) -> NluResult:
        raise RuntimeError("bug")


async def test_topic_outside_the_contract_is_not_understood(
    settings: Settings, db: Database
) -> None:
    rig = make_rig(settings, db, DriftedModel())
    await rig.say("what's the weather", hint="en")
    assert len(rig.channel.sent) == 1 and "other words" in rig.channel.sent[0].text
    assert await rig.count(Case) == 0


async def test_a_message_that_keeps_failing_goes_to_a_consultant(
    settings: Settings, db: Database
) -> None:
    rig = make_rig(settings, db, BrokenNlu())
    message = await rig.say("hello", hint="en")
    assert message.processed_at is None  # first failure: left for the next attempt
    for _ in range(2):
        await rig.engine.catch_up()
        await rig.engine.drain()
    assert await rig.count(Message, Message.processed_at.is_not(None)) == 1
    assert await rig.count(Case, Case.reason == "engine_error") == 1
    assert await rig.count(AuditEntry, AuditEntry.action == "message_given_up") == 1


class SlowChannel(RecordingChannel):
    """Holds each send until released, to catch a second dispatcher in the act."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.sending, self.release = asyncio.Event(), asyncio.Event()

    async def send(self, message: Outgoing) -> None:
        self.sending.set()
        await self.release.wait()
        await super().send(message)


async def test_a_row_being_sent_is_leased_to_its_dispatcher(
    settings: Settings, db: Database, nlu: NluClient
) -> None:
    slow, other = SlowChannel("telegram"), RecordingChannel("telegram")
    first = app.dispatcher(settings, db, {"telegram": slow}, asyncio.Event())
    second = app.dispatcher(settings, db, {"telegram": other}, asyncio.Event())
    engine = app.engine(settings, db, nlu, None)  # rows left for any dispatcher to claim
    await engine.receive(Inbound(channel="telegram", address="u1", external_id="1", text="hello"))
    await engine.drain()
    sending = asyncio.create_task(first.send_due())
    await slow.sending.wait()
    assert await second.send_due() == 0 and other.sent == []
    slow.release.set()
    assert await sending == 1 and len(slow.sent) == 1


class RoundTripChannel(RecordingChannel):
    """Takes 50 ms a send, like a round trip to Telegram; notes how many were in flight."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.in_flight = self.most_in_flight = 0

    async def send(self, message: Outgoing) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.05)
        self.in_flight -= 1
        await super().send(message)


def _queue_replies(connection: Connection, addresses: int, each: int) -> list[Outgoing]:
    """Store `each` replies to each of `addresses` contacts, leased for a minute."""
    moment = now()
    lease_until = moment + dt.timedelta(seconds=60)
    handed = []
    for number in range(addresses):
        address = f"user{number}"
        inbound = Inbound(channel="telegram", address=address, external_id=address, text="hi")
        received, _ = repo.record_inbound(connection, inbound, 1000)
        drafts = [rows.Draft(f"{address} reply {n}", "en", {}) for n in range(each)]
        queued = rows.add_outbound(
            connection, received.conversation_id, "telegram", address, drafts, moment, lease_until
        )
        handed += [
            outgoing_of(q.outbox_id, "telegram", address, d.text, d.language, d.details)
            for q, d in zip(queued, drafts, strict=True)
        ]
    return handed


async def test_replies_go_to_several_addresses_at_once_each_address_in_order(
    settings: Settings, db: Database
) -> None:
    channel = RoundTripChannel("telegram")
    dispatcher = app.dispatcher(settings, db, {"telegram": channel}, asyncio.Event())
    handed = await db.run(_queue_replies, 16, 3)
    dispatcher.handoff.put(handed, now() + dt.timedelta(seconds=60))
    started = asyncio.get_running_loop().time()
    assert await dispatcher.send_due() == 48
    elapsed = asyncio.get_running_loop().time() - started
    assert channel.most_in_flight == settings.outbox.concurrent_sends == 8
    assert elapsed < 48 * 0.05 / 2  # one at a time would take 2.4 s
    for number in range(16):
        to_one = [m.text for m in channel.sent if m.address == f"user{number}"]
        assert to_one == [f"user{number} reply {n}" for n in range(3)]
    assert (
        await db.run_single(lambda c: c.scalar(select(func.count()).where(Outbox.status == "sent")))
        == 48
    )


async def test_a_handed_over_row_is_sent_once_after_its_lease_ran_out(
    settings: Settings, db: Database, nlu: NluClient
) -> None:
    retry = RetryPolicy(
        max_attempts=8, backoff_seconds=2, max_backoff_seconds=60, lease_seconds=0.5
    )
    mine, theirs = RecordingChannel("telegram"), RecordingChannel("telegram")
    first = Dispatcher(db, {"telegram": mine}, retry)
    second = Dispatcher(db, {"telegram": theirs}, retry)
    engine = app.engine(settings, db, nlu, first.handoff)

    async def wait_in_the_queue_past_the_lease(user: str) -> None:
        await engine.receive(Inbound(channel="telegram", address=user, external_id=user, text="hi"))
        await engine.drain()
        await asyncio.sleep(0.6)

    await wait_in_the_queue_past_the_lease("u1")
    assert await second.send_due() == 1  # the lease ran out: the second dispatcher claims it
    assert await first.send_due() == 0  # so the first one leaves it
    await wait_in_the_queue_past_the_lease("u2")
    assert await first.send_due() == 1  # nobody claimed this one: renewed and sent
    assert await second.send_due() == 0
    assert [m.address for m in theirs.sent] == ["u1"] and [m.address for m in mine.sent] == ["u2"]


# A mail as people write them: a greeting, two questions the knowledge base answers (work,
# then healthcare), one for a person, a signature. The whole text reads as a request for a
# person; only its paragraphs show the questions.
SEVERAL_QUESTIONS = """Dzień dobry, mam kilka pytań.

Czy potrzebuję zezwolenia na pracę, jeśli jestem z Indii?

Jak zapisać się do lekarza w ramach ubezpieczenia NFZ?

Proszę o kontakt z konsultantem, potrzebuję porozmawiać z człowiekiem.

Olena"""


@pytest.mark.parametrize(("channel", "messages"), [("telegram", 3), ("email", 1)])
async def test_paragraphs_asking_several_things_get_two_answers_and_a_case(
    settings: Settings, db: Database, nlu: NluClient, channel: str, messages: int
) -> None:
    recording = RecordingChannel(channel)
    dispatcher = app.dispatcher(settings, db, {channel: recording}, asyncio.Event())
    engine = app.engine(settings, db, nlu, dispatcher.handoff)
    await engine.receive(
        Inbound(channel=channel, address="olena", external_id="m1", text=SEVERAL_QUESTIONS)
    )
    await engine.drain()
    await dispatcher.send_due()
    kb, contacts = app.knowledge_base(settings), app.contacts(settings)
    work, health = (kb.answer(topic, "pl", contacts) for topic in ("work", "healthcare"))
    # On e-mail the three replies are one mail: the answers in order, then the case notice.
    assert len(recording.sent) == messages
    text = "\n\n".join(reply.text for reply in recording.sent)
    assert text.startswith(work) and text.index(work) < text.index(health)
    assert "konsultant" in text.split(health)[1] and recording.sent[-1].buttons == ()
    async with db.transaction() as session:
        case = await session.scalar(select(Case))
        inbound = await session.scalar(select(Message).where(Message.direction == "in"))
        stored = await session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "out")
        )
    assert case is not None and (case.reason, case.topic) == ("partly_answered", "work")
    assert inbound is not None and inbound.case_id == case.id and inbound.topic == "work"
    assert stored == messages
