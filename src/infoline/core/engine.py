"""The dialogue engine: inbound records in, decisions and outbox rows out.

1. `receive` commits the inbound record (idempotent on channel and external id) before
   anything else; only then may the channel forget it.
2. Workers handle each conversation's messages in order, conversations in parallel.
   The NLU is asked outside any transaction; the decision — message fields, state, case,
   outgoing messages into the outbox — is applied in one transaction, a synchronous
   function that cannot wait for the network. Its outbox rows for this process's own
   dispatcher are leased in that transaction and handed over after the commit.
3. At start-up every message not yet handled is picked up again, so a crash between any
   two steps loses nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from infoline.core.i18n import Catalogs, OfficeHours
from infoline.core.kb import Contacts, KnowledgeBase
from infoline.core.messages import Inbound, Outgoing
from infoline.core.outbox import Handoff, outgoing_of
from infoline.core.policy import NORMAL, URGENT, Decision, State, Thresholds, decide
from infoline.core.ports import Classifier
from infoline.core.replies import Replies
from infoline.core.topics import Topics
from infoline.nlu.client import NluResult
from infoline.nlu.errors import NluUnavailable
from infoline.store import outbox as rows
from infoline.store import repository as repo
from infoline.store.db import Database, now
from infoline.store.repository import Pending, Situation, Understood

log = logging.getLogger(__name__)
MAX_FAILURES = 3  # attempts at one message before a consultant gets it
# What a channel writes along with an inbound message, in the transaction that stores it
# (synchronous, like all of a transaction's work here).
Within = Callable[[Connection, repo.Received], None]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    default_language: str
    thresholds: Thresholds
    max_text_chars: int


@dataclass(frozen=True, slots=True)
class Handled:
    """What a decision's transaction left for after its commit."""

    more: bool  # other inbound messages of the conversation were waiting
    outgoing: tuple[Outgoing, ...] = ()  # leased for this process's dispatcher
    lease_until: dt.datetime | None = None


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
        handoff: Handoff | None = None,
    ) -> None:
        self._db = database
        self._nlu = nlu
        self._topics = topics
        self._replies = Replies(topics, kb, catalogs, hours, contacts)
        self._settings = settings
        self._handoff = handoff
        self._active: dict[int, asyncio.Task[bool]] = {}
        self._poked: set[int] = set()  # conversations whose worker must look again
        # NLU answers asked for on receipt, by conversation and message, until used.
        self._guesses: dict[int, dict[int, asyncio.Task[NluResult | None]]] = {}
        self._failures: Counter[int] = Counter()

    async def receive(self, inbound: Inbound, within: Within | None = None) -> repo.Received:
        """Commit an inbound message; from here on it cannot be lost. Idempotent.

        `within` writes what the channel keeps with the message (its attachments, how far
        it has read) in the same transaction, also when the message was stored before.
        The NLU is asked at once, while the message is being stored: its answer is
        needed next, and no transaction waits for it.
        """
        limit = self._settings.max_text_chars
        text = _to_classify(
            inbound.kind, repo.clean_text(inbound.text, limit), inbound.command, inbound.feedback
        )
        guess = asyncio.create_task(self._parse(text)) if text is not None else None
        try:
            try:
                received, pending = await self._db.run(_record, inbound, limit, within)
            except IntegrityError:
                # Another process stored the same message at the same moment.
                received, pending = await self._db.run(_record, inbound, limit, within)
        except BaseException:
            _drop(guess)
            raise
        if pending is not None:
            if guess is not None:
                self._guesses.setdefault(received.conversation_id, {})[pending.id] = guess
            self._start(received.conversation_id, pending)
        else:
            _drop(guess)  # stored before: handled, or being handled, without this guess
        return received

    async def consultant_reply(self, conversation_id: int, text: str, consultant: str) -> None:
        """Queue a consultant's answer to the conversation's contact, on its channel,
        threaded as a reply to the contact's last message."""
        self._hand_over(
            await self._db.run(self._queue_consultant_reply, conversation_id, text, consultant)
        )

    def _queue_consultant_reply(
        self, connection: Connection, conversation_id: int, text: str, consultant: str
    ) -> Handled:
        situation = repo.lock_conversation(connection, conversation_id)
        if situation.erased:
            raise LookupError(f"conversation {conversation_id} was erased")
        language = situation.last_language or self._settings.default_language
        details = {
            "automatic": False,
            "consultant": consultant,
            "reply_to": repo.last_inbound_details(connection, conversation_id),
        }
        repo.audit(connection, consultant, "consultant_replied", f"conversation:{conversation_id}")
        draft = rows.Draft(text, language, details)
        return self._queue(connection, situation, [draft], now(), more=False)

    async def run(self, poll_seconds: float = 5.0) -> None:
        """Handle whatever is pending now and every `poll_seconds`; run until cancelled.

        `receive` starts the work on a new message at once; the polls take up messages
        another process stored, and retry those whose handling failed.
        """
        try:
            while True:
                await self.catch_up()
                await asyncio.sleep(poll_seconds)
        finally:
            await self._cancel_workers()

    async def catch_up(self) -> None:
        """Start workers for every conversation with unhandled messages (after a crash too)."""
        for conversation_id in await self._db.run_single(repo.conversations_with_pending):
            self._start(conversation_id, None)

    async def drain(self) -> None:
        """Wait until every running worker has finished (for tests and commands)."""
        while self._active:
            await asyncio.gather(*list(self._active.values()), return_exceptions=True)

    def _start(self, conversation_id: int, pending: Pending | None) -> None:
        if conversation_id in self._active:
            self._poked.add(conversation_id)  # its worker looks again before it ends
            return
        self._active[conversation_id] = asyncio.create_task(
            self._work(conversation_id, pending), name=f"conversation-{conversation_id}"
        )

    async def _cancel_workers(self) -> None:
        for task in list(self._active.values()):
            task.cancel()
        await asyncio.gather(*list(self._active.values()), return_exceptions=True)

    async def _work(self, conversation_id: int, pending: Pending | None) -> bool:
        """Handle a conversation's pending messages; return False when one failed.

        A message stored while the worker runs pokes it (see `_start`); the worker ends
        only when it has looked for messages, or decided on one, since the last poke.
        """
        try:
            while True:
                self._poked.discard(conversation_id)
                if pending is None:
                    pending = await self._db.run_single(repo.next_pending, conversation_id)
                more = pending is not None and await self._handle_next(pending)
                pending = None
                if not more and conversation_id not in self._poked:
                    return True
        except asyncio.CancelledError:
            raise
        except Exception:
            # The message stays unhandled and is tried again at the next poll.
            log.exception("Handling conversation %s failed", conversation_id)
            return False
        finally:
            # Here, not in a done-callback: a poke between the last look and the callback
            # would be lost.
            del self._active[conversation_id]
            self._poked.discard(conversation_id)
            # Left over: for messages another process handled, or that failed here.
            for guess in self._guesses.pop(conversation_id, {}).values():
                _drop(guess)

    async def _handle_next(self, message: Pending) -> bool:
        """Handle one message; return whether others of its conversation may wait."""
        try:
            more = await self._handle(message)
        except Exception:
            self._failures[message.id] += 1
            if self._failures[message.id] < MAX_FAILURES:
                raise
            # A message that keeps failing must not block its conversation, nor be lost:
            # a consultant gets it.
            log.exception(
                "Giving message %s to a consultant after %s failures", message.id, MAX_FAILURES
            )
            await self._db.run(self._give_up, message)
            more = True
        self._failures.pop(message.id, None)
        return more

    def _give_up(self, connection: Connection, message: Pending) -> None:
        situation = repo.lock_conversation(connection, message.conversation_id)
        if situation.oldest_pending != message.id:
            return  # handled meanwhile, or an older message comes first
        case_id = situation.case_id
        if case_id is None:
            case_id = repo.new_case(
                connection,
                message.conversation_id,
                situation.channel,
                "engine_error",
                NORMAL,
                situation.last_language,
            )
        repo.mark_handled(connection, message.id, now(), case_id, Understood())
        repo.audit(connection, "assistant", "message_given_up", f"message:{message.id}")

    async def _handle(self, message: Pending) -> bool:
        nlu = await self._classify(message)
        handled = await self._db.run(self._decide, message, nlu)
        self._hand_over(handled)
        return handled.more

    def _hand_over(self, handled: Handled) -> None:
        """Give this process's dispatcher the rows a committed transaction leased for it."""
        if handled.lease_until is not None and self._handoff is not None:
            self._handoff.put(handled.outgoing, handled.lease_until)

    async def _classify(self, message: Pending) -> NluResult | None:
        guess = self._guesses.get(message.conversation_id, {}).pop(message.id, None)
        if guess is not None:
            return await guess
        details = message.details
        text = _to_classify(
            message.kind, message.text, details.get("command"), details.get("feedback")
        )
        return await self._parse(text) if text is not None else None

    async def _parse(self, text: str) -> NluResult | None:
        try:
            return await self._nlu.parse(text)
        except NluUnavailable as err:
            log.warning("NLU unavailable: %s", err)
            return None

    def _decide(self, connection: Connection, message: Pending, nlu: NluResult | None) -> Handled:
        """The decision's transaction: read the state under the lock, decide, write."""
        situation = repo.lock_conversation(connection, message.conversation_id)
        if situation.oldest_pending != message.id:
            # Another engine process handled it meanwhile, or an older message came first.
            return Handled(more=situation.pending > 0)
        decision = decide(
            self._state(situation),
            repo.as_inbound(message, situation.address),
            nlu,
            self._topics,
            self._settings.thresholds,
        )
        return self._apply(connection, decision, message, nlu, situation)

    def _state(self, situation: Situation) -> State:
        return State(
            chosen_language=situation.chosen_language,
            last_language=situation.last_language,
            low_confidence_turns=situation.low_confidence_turns,
            awaiting_feedback=situation.awaiting_feedback,
            open_case_priority=situation.case_priority,
            default_language=self._settings.default_language,
        )

    def _apply(
        self,
        connection: Connection,
        decision: Decision,
        message: Pending,
        nlu: NluResult | None,
        situation: Situation,
    ) -> Handled:
        moment = now()
        more = situation.pending > 1
        case_id, priority = situation.case_id, situation.case_priority
        if decision.open_case and case_id is None:
            case_id, priority = (
                repo.new_case(
                    connection,
                    situation.conversation_id,
                    situation.channel,
                    decision.open_case,
                    decision.priority,
                    decision.language,
                    topic=decision.topic or (nlu.topic if nlu else None),
                    confidence=nlu.confidence if nlu else None,
                ),
                decision.priority,
            )
        joins = bool(decision.to_case or decision.open_case)
        if case_id is not None and joins and decision.escalate and priority != URGENT:
            repo.escalate_case(connection, case_id, URGENT)
        # The topic kept is the one acted on: an emergency wins over a higher topic, and a
        # pressed topic button counts without the NLU.
        understood = Understood(decision.topic)
        if nlu is not None:
            understood = Understood(
                decision.topic or nlu.topic, nlu.confidence, nlu.language, nlu.language_confidence
            )
        repo.mark_handled(connection, message.id, moment, case_id if joins else None, understood)
        if decision.chosen_language:
            repo.choose_language(connection, situation.contact_id, decision.chosen_language)
        repo.save_state(
            connection,
            situation.conversation_id,
            moment,
            decision.language,
            decision.low_confidence_turns,
            decision.awaiting_feedback,
        )
        reply_to: dict[str, Any] = message.details
        if decision.erase:
            # The confirmation still reaches the address the request came from (the
            # situation read it before), and quotes nothing of what was erased.
            repo.erase_contact(
                connection, situation.channel, situation.address, f"{situation.channel}:user"
            )
            reply_to = {}
        elif situation.erased:
            return Handled(more)
        drafts = [self._replies.draft(r, decision.language, reply_to) for r in decision.replies]
        return self._queue(connection, situation, drafts, moment, more)

    def _queue(
        self,
        connection: Connection,
        situation: Situation,
        drafts: Sequence[rows.Draft],
        moment: dt.datetime,
        more: bool,
    ) -> Handled:
        """Put outgoing messages to the conversation's contact into the outbox, leased for
        this process's dispatcher when it serves their channel."""
        channel, address = situation.channel, situation.address
        lease_until = self._handoff.lease_until(channel, moment) if self._handoff else None
        ids = rows.add_outbound(
            connection, situation.conversation_id, channel, address, drafts, moment, lease_until
        )
        if lease_until is None or not ids:
            return Handled(more)
        outgoing = tuple(
            outgoing_of(i, channel, address, d.text, d.language, d.details)
            for i, d in zip(ids, drafts, strict=True)
        )
        return Handled(more, outgoing, lease_until)


def _record(
    connection: Connection, inbound: Inbound, limit: int, within: Within | None
) -> tuple[repo.Received, Pending | None]:
    received, pending = repo.record_inbound(connection, inbound, limit)
    if within is not None:
        within(connection, received)
    return received, pending


def _to_classify(kind: str, text: str, command: str | None, feedback: bool | None) -> str | None:
    """Return the text the NLU is asked about, or None when the message needs no NLU."""
    if kind != "text" or not text.strip() or command or feedback is not None:
        return None
    return text


def _drop(guess: asyncio.Task[NluResult | None] | None) -> None:
    """Forget an NLU answer asked for in vain, and any error it ended with."""
    if guess is None:
        return
    if not guess.done():
        guess.cancel()
    elif not guess.cancelled():
        guess.exception()
