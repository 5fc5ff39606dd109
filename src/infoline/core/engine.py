"""The dialogue engine: inbound records in, decisions and outbox rows out.

1. `receive` commits the inbound record (idempotent on channel and external id) before
   anything else; only then may the channel forget it.
2. Workers handle each conversation's messages in order, conversations in parallel.
   The NLU is asked outside any transaction; the decision — message fields, state, case,
   outgoing messages into the outbox — is applied in one transaction.
3. At start-up every message not yet handled is picked up again, so a crash between any
   two steps loses nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from infoline.core.i18n import Catalogs, OfficeHours, when_answered
from infoline.core.kb import Contacts, KnowledgeBase
from infoline.core.messages import LANGUAGES, Button, Inbound
from infoline.core.policy import NORMAL, URGENT, Decision, Menu, Reply, State, Thresholds, decide
from infoline.core.ports import Classifier
from infoline.core.strings import LANGUAGE_NAMES, TOPIC_NAMES
from infoline.core.topics import Topics
from infoline.core.waiting import wait_event
from infoline.nlu.client import NluResult
from infoline.nlu.errors import NluUnavailable
from infoline.store import casework
from infoline.store import repository as repo
from infoline.store.db import Database, now
from infoline.store.schema import Case, Contact, Conversation, Message

log = logging.getLogger(__name__)
# What a channel writes along with an inbound message, in its transaction.
Within = Callable[[AsyncSession, repo.Received], Awaitable[None]]
MAX_PARAGRAPHS = 6  # a longer message is classified as a whole only
MIN_PARAGRAPH_WORDS = 3
ONE_REPLY_CHANNELS = frozenset({"email"})
MAX_FAILURES = 3  # attempts at one message before a consultant gets it
FEEDBACK_BUTTONS = (("feedback_yes", "feedback:yes"), ("feedback_no", "feedback:no"))


@dataclass(frozen=True, slots=True)
class EngineSettings:
    default_language: str
    thresholds: Thresholds
    max_text_chars: int
    reopen_hours: float = 72.0  # a resolved case takes the user's next message this long
    duty: tuple[str, str] | None = None  # (channel, address) told of every urgent case
    duty_language: str = "pl"


def paragraphs_of(text: str) -> list[str]:
    """Split a text at blank lines into paragraphs that say something (3 words or more)."""
    blocks = (" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return [block for block in blocks if len(block.split()) >= MIN_PARAGRAPH_WORDS]


class DialogueEngine:
    """Channel-agnostic: channels call `receive`; replies leave through the outbox."""

    def __init__(
        self,
        database: Database,
        nlu: Classifier,
        topics: Topics,
        kb: KnowledgeBase,
        catalogs: Catalogs,
        hours: OfficeHours,
        contacts: Contacts,
        settings: EngineSettings,
        on_outbox: asyncio.Event | None = None,
    ) -> None:
        self._db = database
        self._nlu = nlu
        self._topics = topics
        self._kb = kb
        self._catalogs = catalogs
        self._hours = hours
        self._contacts = contacts
        self._settings = settings
        self._on_outbox = on_outbox or asyncio.Event()
        self._wake = asyncio.Event()
        self._active: dict[int, asyncio.Task[bool]] = {}
        self._failures: Counter[int] = Counter()

    async def receive(self, inbound: Inbound, within: Within | None = None) -> repo.Received:
        """Commit an inbound message; from here on it cannot be lost. Idempotent.

        `within` writes what the channel keeps with the message (its attachments, how far
        it has read) in the same transaction, also when the message was stored before.
        """

        async def record() -> repo.Received:
            async with self._db.transaction() as session:
                received = await repo.record_inbound(
                    session, inbound, self._settings.max_text_chars
                )
                if within is not None:
                    await within(session, received)
            return received

        try:
            received = await record()
        except IntegrityError:
            # Another process stored the same message at the same moment.
            received = await record()
        if received.new:
            self._start(received.conversation_id)
        return received

    async def consultant_reply(self, conversation_id: int, text: str, consultant: str) -> None:
        """Queue a consultant's answer to the conversation's contact, on its channel."""
        async with self._db.transaction() as session:
            await casework.queue_consultant_reply(
                session, conversation_id, text, consultant, self._settings.default_language
            )
        self._on_outbox.set()

    async def run(self, poll_seconds: float = 5.0) -> None:
        """Handle whatever is pending, now and whenever messages arrive; run until cancelled."""
        try:
            while True:
                # Cleared before looking, so that a wake-up during the look is not lost.
                self._wake.clear()
                await self.catch_up()
                await wait_event(self._wake, poll_seconds)
        finally:
            await self._cancel_workers()

    async def catch_up(self) -> None:
        """Start workers for every conversation with unhandled messages (after a crash too)."""
        async with self._db.transaction() as session:
            pending = await repo.conversations_with_pending(session)
        for conversation_id in pending:
            self._start(conversation_id)

    async def drain(self) -> None:
        """Wait until every running worker has finished (for tests and commands)."""
        while self._active:
            await asyncio.gather(*list(self._active.values()), return_exceptions=True)

    def _start(self, conversation_id: int) -> None:
        if conversation_id in self._active:
            return
        task = asyncio.create_task(
            self._work(conversation_id), name=f"conversation-{conversation_id}"
        )
        self._active[conversation_id] = task
        task.add_done_callback(lambda done: self._finished(conversation_id, done))

    def _finished(self, conversation_id: int, task: asyncio.Task[bool]) -> None:
        self._active.pop(conversation_id, None)
        # A message may have arrived between the worker's last look and its end; after a
        # failure, though, the next poll retries, so that one bad message cannot spin.
        if not task.cancelled() and task.result():
            self._wake.set()

    async def _cancel_workers(self) -> None:
        for task in list(self._active.values()):
            task.cancel()
        await asyncio.gather(*list(self._active.values()), return_exceptions=True)

    async def _work(self, conversation_id: int) -> bool:
        """Handle a conversation's pending messages; return False when one failed."""
        try:
            while await self._handle_next(conversation_id):
                pass
        except asyncio.CancelledError:
            raise
        except Exception:
            # The message stays unhandled and is tried again at the next poll.
            log.exception("Handling conversation %s failed", conversation_id)
            return False
        return True

    async def _handle_next(self, conversation_id: int) -> bool:
        async with self._db.transaction() as session:
            message = await repo.next_pending(session, conversation_id)
        if message is None:
            return False
        try:
            await self._handle(conversation_id, message)
        except Exception:
            self._failures[message.id] += 1
            if self._failures[message.id] < MAX_FAILURES:
                raise
            # A message that keeps failing must not block its conversation, nor be lost:
            # a consultant gets it.
            log.exception(
                "Giving message %s to a consultant after %s failures", message.id, MAX_FAILURES
            )
            await self._give_up(conversation_id, message.id)
        return True

    async def _give_up(self, conversation_id: int, message_id: int) -> None:
        async with self._db.transaction() as session:
            conversation = await repo.lock_conversation(session, conversation_id)
            message = await session.get(Message, message_id)
            if message is None or message.processed_at is not None:
                return
            message.processed_at = now()
            case = await repo.open_case(session, conversation_id)
            if case is None:
                contact = await repo.contact_of(session, conversation)
                case = await repo.new_case(
                    session,
                    conversation_id,
                    contact.channel,
                    "engine_error",
                    NORMAL,
                    conversation.last_language,
                )
            message.case_id = case.id
            await repo.audit(session, "assistant", "message_given_up", f"message:{message_id}")
        self._failures.pop(message_id, None)

    async def _handle(self, conversation_id: int, message: Message) -> None:
        nlu = await self._classify(message)
        parts = await self._classify_paragraphs(message) if nlu is not None else ()
        async with self._db.transaction() as session:
            conversation = await repo.lock_conversation(session, conversation_id)
            current = await session.get(Message, message.id)
            if current is None or current.processed_at is not None:
                return  # another engine process handled it meanwhile
            contact = await repo.contact_of(session, conversation)
            case = await repo.open_case(session, conversation_id)
            resolved = None
            if case is None:
                since = now() - dt.timedelta(hours=self._settings.reopen_hours)
                resolved = await casework.reopenable_case(session, conversation_id, since)
            inbound = repo.as_inbound(current, contact.address)
            decision = decide(
                self._state(contact, conversation, case, resolved is not None),
                inbound,
                nlu,
                self._topics,
                self._settings.thresholds,
                parts,
            )
            if decision.reopen and resolved is not None:
                await casework.reopen(session, resolved)
                case = resolved
            await self._apply(session, decision, current, nlu, conversation, contact, case)
        self._on_outbox.set()

    async def _classify(self, message: Message) -> NluResult | None:
        if message.kind != "text" or not (message.text or "").strip():
            return None
        if (message.details or {}).get("command") or (message.details or {}).get(
            "feedback"
        ) is not None:
            return None
        try:
            return await self._nlu.parse(message.text or "")
        except NluUnavailable as err:
            log.warning("NLU unavailable for message %s: %s", message.id, err)
            return None

    async def _classify_paragraphs(self, message: Message) -> tuple[NluResult, ...]:
        """Classify each paragraph of a message that has several (a long e-mail often
        asks more than one thing); nothing for a message of one paragraph."""
        paragraphs = paragraphs_of(message.text or "")
        if not 2 <= len(paragraphs) <= MAX_PARAGRAPHS:
            return ()
        try:
            return tuple(await asyncio.gather(*(self._nlu.parse(p) for p in paragraphs)))
        except NluUnavailable as err:
            log.warning("NLU unavailable for the paragraphs of message %s: %s", message.id, err)
            return ()

    def _state(
        self, contact: Contact, conversation: Conversation, case: Case | None, reopenable: bool
    ) -> State:
        return State(
            chosen_language=contact.language,
            last_language=conversation.last_language,
            low_confidence_turns=conversation.low_confidence_turns,
            awaiting_feedback=conversation.awaiting_feedback,
            open_case_priority=case.priority if case is not None else None,
            default_language=self._settings.default_language,
            reopenable=reopenable,
        )

    async def _apply(
        self,
        session: AsyncSession,
        decision: Decision,
        message: Message,
        nlu: NluResult | None,
        conversation: Conversation,
        contact: Contact,
        case: Case | None,
    ) -> None:
        moment = now()
        # The topic kept is the one acted on: an emergency wins over a higher topic, and a
        # pressed topic button counts without the NLU.
        message.topic = decision.topic or (nlu.topic if nlu else None)
        if nlu is not None:
            message.confidence = nlu.confidence
            message.language, message.language_confidence = nlu.language, nlu.language_confidence
        message.processed_at = moment
        if decision.chosen_language:
            contact.language = decision.chosen_language
        conversation.last_language = decision.language
        conversation.low_confidence_turns = decision.low_confidence_turns
        conversation.awaiting_feedback = decision.awaiting_feedback
        conversation.last_activity_at = moment
        if decision.open_case and case is None:
            case = await repo.new_case(
                session,
                conversation.id,
                contact.channel,
                decision.open_case,
                decision.priority,
                decision.language,
                topic=decision.topic or (nlu.topic if nlu else None),
                confidence=nlu.confidence if nlu else None,
            )
            if case.priority == URGENT:
                await self._tell_duty(session, case)
        elif case is not None and (decision.to_case or decision.open_case):
            await casework.user_wrote(session, case)
        if case is not None and (decision.to_case or decision.open_case):
            message.case_id = case.id
            if decision.escalate and case.priority != URGENT:
                case.priority = URGENT
                await repo.audit(session, "assistant", "case_escalated", f"case:{case.id}")
                await self._tell_duty(session, case)
        to = (contact.channel, contact.address)
        if decision.erase:
            # The confirmation still reaches the address the request came from.
            await repo.erase_contact(session, *to, actor=f"{contact.channel}:user")
        elif contact.erased:
            return
        reply_to = dict(message.details or {})
        available = any(reply.tell_when for reply in decision.replies) and (
            await casework.any_available(session, decision.language)
        )
        rendered = [
            (reply, *self._render(reply, decision.language, available))
            for reply in decision.replies
        ]
        if contact.channel in ONE_REPLY_CHANNELS and len(rendered) > 1:
            # One e-mail answering every question, not one e-mail per answer.
            text = "\n\n".join(text for _, text, _ in rendered)
            rendered = [(rendered[-1][0], text, rendered[-1][2])]
        for reply, text, buttons in rendered:
            details = {
                "buttons": [[b.label, b.action] for b in buttons],
                "reply_to": reply_to,
                "automatic": True,
                "message_id": reply.message_id or reply.kb_topic,
            }
            await repo.add_outbound(session, conversation.id, to, text, decision.language, details)

    async def _tell_duty(self, session: AsyncSession, case: Case) -> None:
        """Tell the duty address of an urgent case, through the outbox like any message."""
        if self._settings.duty is None:
            return
        language = self._settings.duty_language
        text = self._catalogs.text(
            language,
            "duty_urgent_case",
            case=str(case.id),
            channel=case.channel,
            lang=LANGUAGE_NAMES.get(case.language or "", case.language or "?"),
        )
        channel, address = self._settings.duty
        conversation_id = await casework.notice_conversation(session, channel, address)
        details = {"automatic": True, "notice": "urgent_case", "case": case.id}
        await repo.add_outbound(
            session, conversation_id, self._settings.duty, text, language, details
        )
        await repo.audit(session, "assistant", "duty_told", f"case:{case.id}", to=channel)

    def _render(
        self, reply: Reply, language: str, available: bool = False
    ) -> tuple[str, tuple[Button, ...]]:
        text = self._catalogs.text
        if reply.bilingual:
            return "\n\n".join(text(lang, reply.message_id or "") for lang in ("en", "pl")), ()
        parts: list[str] = []
        if reply.kb_topic:
            parts.append(self._kb.answer(reply.kb_topic, language, self._contacts))
        if reply.message_id:
            params = {"topics": self._topic_menu(language)}
            if reply.tell_when and available:
                params["when"] = self._catalogs.text(language, "when_available")
            elif reply.tell_when:
                params["when"] = when_answered(self._catalogs, self._hours, language, now())
            parts.append(text(language, reply.message_id, **params))
        buttons: list[Button] = []
        if reply.ask_feedback:
            parts.append(text(language, "feedback_question"))
            buttons += (Button(text(language, label), action) for label, action in FEEDBACK_BUTTONS)
        if reply.menu:
            buttons += self._menu(reply.menu, language)
        return "\n\n".join(parts), tuple(buttons)

    def _menu(self, menu: Menu, language: str) -> list[Button]:
        if menu == "languages":
            return [Button(LANGUAGE_NAMES[lang], f"language:{lang}") for lang in LANGUAGES]
        if menu == "forget":
            text = self._catalogs.text
            return [Button(text(language, f"forget_{a}"), f"forget:{a}") for a in ("yes", "no")]
        return [Button(name, f"topic:{topic}") for topic, name in self._menu_topics(language)]

    def _menu_topics(self, language: str) -> list[tuple[str, str]]:
        return [
            (t, self._catalogs.text(language, TOPIC_NAMES[t]))
            for t in self._topics.with_answers()
            if t in TOPIC_NAMES
        ]

    def _topic_menu(self, language: str) -> str:
        return "\n".join(f"- {name}" for _, name in self._menu_topics(language))
