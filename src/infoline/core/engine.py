"""The dialogue engine: inbound records in, decisions and outbox rows out.

1. `receive` commits the inbound record (idempotent on channel and external id) before
   anything else; only then may the channel forget it.
2. Workers handle each conversation's messages in order, conversations in parallel.
   The NLU is asked outside any transaction; the decision — message fields, state, case,
   outgoing messages into the outbox — is applied in one transaction, a synchronous
   function that cannot wait for the network. It decides on the conversation as read
   when the message was stored (while the NLU was asked), and reads it again under the
   conversation's lock only if it changed since. A decision that only answers is written
   in one statement (`store.answers`). Its outbox rows for this process's own
   dispatcher are leased in that transaction and handed over after the commit. A long
   message's paragraphs are classified too, so that each question in it is seen.
3. At start-up every message not yet handled is picked up again, so a crash between any
   two steps loses nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
from infoline.core.replies import Replies, one_message
from infoline.core.topics import Topics
from infoline.core.understanding import Understanding, to_classify, understand
from infoline.nlu.client import NluResult
from infoline.store import answers, casework, privacy
from infoline.store import outbox as rows
from infoline.store import repository as repo
from infoline.store.db import Database, now
from infoline.store.repository import Pending, Situation, Understood

log = logging.getLogger(__name__)
MAX_FAILURES = 3  # attempts at one message before a consultant gets it
# What a channel writes along with an inbound message, in the transaction that stores it
# (synchronous, like all of a transaction's work here).
Within = Callable[[Connection, repo.Received], None]
# Channels where every outgoing message is a mail of its own: a decision's replies go as
# one, so that a migrant asking three things gets one mail, not three.
ONE_REPLY_CHANNELS = frozenset({"email"})


@dataclass(frozen=True, slots=True)
class EngineSettings:
    default_language: str
    thresholds: Thresholds
    max_text_chars: int
    reopen_hours: float = 72.0  # a resolved case takes the user's next message this long
    duty: tuple[str, str] | None = None  # (channel, address) told of every urgent case
    duty_language: str = "pl"


@dataclass(frozen=True, slots=True)
class Handled:
    """What a decision's transaction left for after its commit."""

    more: bool  # other inbound messages of the conversation were waiting
    outgoing: tuple[Outgoing, ...] = ()  # leased for this process's dispatcher
    lease_until: dt.datetime | None = None

    def adding(self, outgoing: tuple[Outgoing, ...], lease_until: dt.datetime | None) -> Handled:
        """This, with more rows leased until `lease_until` (the same moment's lease)."""
        if not outgoing:
            return self
        return Handled(self.more, self.outgoing + outgoing, lease_until)


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
        self._guesses: dict[int, dict[int, asyncio.Task[Understanding]]] = {}
        self._failures: Counter[int] = Counter()

    async def receive(self, inbound: Inbound, within: Within | None = None) -> repo.Received:
        """Commit an inbound message; from here on it cannot be lost. Idempotent.

        `within` writes what the channel keeps with the message (its attachments, how far
        it has read) in the same transaction, also when the message was stored before.
        The NLU is asked at once, while the message is being stored: its answer is
        needed next, and no transaction waits for it.
        """
        limit = self._settings.max_text_chars
        text = to_classify(
            inbound.kind, repo.clean_text(inbound.text, limit), inbound.command, inbound.feedback
        )
        guess = asyncio.create_task(understand(self._nlu, text)) if text is not None else None
        since = self._reopen_since()
        try:
            try:
                received, pending = await self._db.run(_record, inbound, limit, within, since)
            except IntegrityError:
                # Another process stored the same message at the same moment.
                received, pending = await self._db.run(_record, inbound, limit, within, since)
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
        lease = self._handoff.lease_until if self._handoff is not None else None
        queued = await self._db.run(
            casework.queue_consultant_reply,
            conversation_id,
            text,
            consultant,
            self._settings.default_language,
            lease,
        )
        if queued.lease_until is not None:
            d = queued.draft
            row = outgoing_of(
                queued.outbox_id, queued.channel, queued.address, d.text, d.language, d.details
            )
            self._hand_over(Handled(False, (row,), queued.lease_until))

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
        understood = await self._classify(message)
        handled = await self._answer(message, understood)
        if handled is None:
            handled = await self._db.run(self._decide, message, understood)
        self._hand_over(handled)
        return handled.more

    async def _answer(self, message: Pending, understood: Understanding) -> Handled | None:
        """Write a decision that only answers, with one reply, at once (`store.answers`);
        None when the decision does more, or the conversation changed since it was seen."""
        seen = message.seen
        if seen is None or seen.erased or seen.case_id is not None:
            return None
        decision = self._decision(seen, message, understood)
        drafts = self._drafts(decision, seen.channel, message.details, available=False)
        if not decision.only_answers or len(drafts) != 1:
            return None
        moment = now()
        lease_until = self._lease_until(seen.channel, moment)
        state = (decision.language, decision.low_confidence_turns, decision.awaiting_feedback)
        [draft] = drafts
        queued = await self._db.run_single(
            answers.save_answer,
            seen,
            state,
            message.id,
            _understood(decision, understood.whole),
            draft,
            moment,
            lease_until,
        )
        if queued is None:
            return None
        return Handled(seen.pending > 1).adding(
            self._leased(seen.channel, seen.address, [queued], drafts, lease_until), lease_until
        )

    def _hand_over(self, handled: Handled) -> None:
        """Give this process's dispatcher the rows a committed transaction leased for it."""
        if handled.lease_until is not None and self._handoff is not None:
            self._handoff.put(handled.outgoing, handled.lease_until)

    async def _classify(self, message: Pending) -> Understanding:
        guess = self._guesses.get(message.conversation_id, {}).pop(message.id, None)
        if guess is not None:
            return await guess
        details = message.details
        text = to_classify(
            message.kind, message.text, details.get("command"), details.get("feedback")
        )
        return await understand(self._nlu, text) if text is not None else Understanding(None)

    def _reopen_since(self) -> dt.datetime:
        """Cases resolved after this are reopened by the user's next message."""
        return now() - dt.timedelta(hours=self._settings.reopen_hours)

    def _decide(
        self, connection: Connection, message: Pending, understood: Understanding
    ) -> Handled:
        """The decision's transaction: decide on the situation seen when the message was
        stored; if it changed since, read it again under the lock and decide again."""
        seen, moment = message.seen, now()
        if seen is not None:
            decision = self._decision(seen, message, understood)
            # Saving the state locks the conversation, unless it changed since seen.
            if self._save(connection, seen, decision, moment):
                return self._apply(connection, decision, message, understood.whole, seen, moment)
        situation = repo.lock_conversation(
            connection, message.conversation_id, self._reopen_since()
        )
        if situation.oldest_pending != message.id:
            # Another engine process handled it meanwhile, or an older message came first.
            return Handled(more=situation.pending > 0)
        decision = self._decision(situation, message, understood)
        self._save(connection, situation, decision, moment)  # locked: it cannot have changed
        return self._apply(connection, decision, message, understood.whole, situation, moment)

    def _decision(
        self, situation: Situation, message: Pending, understood: Understanding
    ) -> Decision:
        return decide(
            self._state(situation),
            repo.as_inbound(message, situation.address),
            understood.whole,
            self._topics,
            self._settings.thresholds,
            understood.parts,
        )

    def _save(
        self, connection: Connection, situation: Situation, decision: Decision, moment: dt.datetime
    ) -> bool:
        return repo.save_state(
            connection,
            situation,
            moment,
            decision.language,
            decision.low_confidence_turns,
            decision.awaiting_feedback,
        )

    def _state(self, situation: Situation) -> State:
        return State(
            chosen_language=situation.chosen_language,
            last_language=situation.last_language,
            low_confidence_turns=situation.low_confidence_turns,
            awaiting_feedback=situation.awaiting_feedback,
            open_case_priority=situation.case_priority,
            default_language=self._settings.default_language,
            reopenable=situation.case_id is None and situation.reopenable_case is not None,
        )

    def _apply(
        self,
        connection: Connection,
        decision: Decision,
        message: Pending,
        nlu: NluResult | None,
        situation: Situation,
        moment: dt.datetime,
    ) -> Handled:
        """Write a decision whose state is saved: the message's fields, the case, the
        replies into the outbox."""
        more = situation.pending > 1
        case_id, urgent_now = self._case(connection, decision, nlu, situation, moment)
        understood = _understood(decision, nlu)
        repo.mark_handled(connection, message.id, moment, case_id, understood)
        if decision.chosen_language:
            repo.choose_language(connection, situation.contact_id, decision.chosen_language)
        reply_to: dict[str, Any] = message.details
        if decision.erase:
            # The confirmation still reaches the address the request came from (the
            # situation read it before), and quotes nothing of what was erased.
            privacy.erase(
                connection, situation.channel, situation.address, f"{situation.channel}:user"
            )
            reply_to = {}
        handled = Handled(more)
        if urgent_now is not None:
            handled = handled.adding(*self._tell_duty(connection, urgent_now, moment))
        if situation.erased and not decision.erase:
            return handled
        # "When will a consultant answer": "as soon as one is free" if one is at work now.
        available = any(r.tell_when for r in decision.replies) and casework.any_available(
            connection, decision.language
        )
        drafts = self._drafts(decision, situation.channel, reply_to, available)
        to = (situation.conversation_id, situation.channel, situation.address)
        return handled.adding(*self._queue(connection, to, drafts, moment))

    def _drafts(
        self, decision: Decision, channel: str, reply_to: dict[str, Any], available: bool
    ) -> list[rows.Draft]:
        drafts = [
            self._replies.draft(r, decision.language, reply_to, available) for r in decision.replies
        ]
        return one_message(drafts) if channel in ONE_REPLY_CHANNELS else drafts

    def _case(
        self,
        connection: Connection,
        decision: Decision,
        nlu: NluResult | None,
        situation: Situation,
        moment: dt.datetime,
    ) -> tuple[int | None, int | None]:
        """Open, reopen, join or escalate the conversation's case as decided; return the
        case the message belongs to, and the case that became urgent now, if any."""
        case_id, priority = situation.case_id, situation.case_priority
        if decision.reopen and case_id is None and situation.reopenable_case is not None:
            case_id = situation.reopenable_case
            priority = casework.reopen(connection, case_id)
        if decision.open_case and case_id is None:
            case_id = repo.new_case(
                connection,
                situation.conversation_id,
                situation.channel,
                decision.open_case,
                decision.priority,
                decision.language,
                topic=decision.topic or (nlu.topic if nlu else None),
                confidence=nlu.confidence if nlu else None,
                moment=moment,
            )
            return case_id, case_id if decision.priority == URGENT else None
        if case_id is None or not (decision.to_case or decision.open_case):
            return None, None
        casework.user_wrote(connection, case_id)
        if decision.escalate and priority != URGENT:
            repo.escalate_case(connection, case_id, URGENT)
            return case_id, case_id
        return case_id, None

    def _tell_duty(
        self, connection: Connection, case_id: int, moment: dt.datetime
    ) -> tuple[tuple[Outgoing, ...], dt.datetime | None]:
        """Tell the duty address of an urgent case, through the outbox like any message."""
        if self._settings.duty is None:
            return (), None
        channel, address = self._settings.duty
        facts = casework.case_facts(connection, case_id)
        draft = self._replies.duty_notice(case_id, *facts, self._settings.duty_language)
        conversation_id = casework.notice_conversation(connection, channel, address)
        repo.audit(connection, "assistant", "duty_told", f"case:{case_id}", to=channel)
        return self._queue(connection, (conversation_id, channel, address), [draft], moment)

    def _queue(
        self,
        connection: Connection,
        to: tuple[int, str, str],
        drafts: Sequence[rows.Draft],
        moment: dt.datetime,
    ) -> tuple[tuple[Outgoing, ...], dt.datetime | None]:
        """Put outgoing messages to (conversation, channel, address) into the outbox; return
        those leased to this process's dispatcher (it serves their channel) and until when."""
        conversation_id, channel, address = to
        lease_until = self._lease_until(channel, moment)
        queued = rows.add_outbound(
            connection, conversation_id, channel, address, drafts, moment, lease_until
        )
        return self._leased(channel, address, queued, drafts, lease_until), lease_until

    def _lease_until(self, channel: str, moment: dt.datetime) -> dt.datetime | None:
        """Until when rows for `channel` are leased to this process's dispatcher (None:
        not served here)."""
        return self._handoff.lease_until(channel, moment) if self._handoff else None

    @staticmethod
    def _leased(
        channel: str,
        address: str,
        queued: Sequence[rows.Queued],
        drafts: Sequence[rows.Draft],
        lease_until: dt.datetime | None,
    ) -> tuple[Outgoing, ...]:
        """What the dispatcher sends of queued rows, when they are leased to it."""
        if lease_until is None:
            return ()
        return tuple(
            outgoing_of(q.outbox_id, channel, address, d.text, d.language, d.details)
            for q, d in zip(queued, drafts, strict=True)
        )


def _understood(decision: Decision, nlu: NluResult | None) -> Understood:
    """What is kept of the NLU's answer: the topic acted on (an emergency wins over a
    higher topic, and a pressed topic button counts without the NLU)."""
    if nlu is None:
        return Understood(decision.topic)
    return Understood(
        decision.topic or nlu.topic, nlu.confidence, nlu.language, nlu.language_confidence
    )


def _record(
    connection: Connection,
    inbound: Inbound,
    limit: int,
    within: Within | None,
    reopen_since: dt.datetime,
) -> tuple[repo.Received, Pending | None]:
    received, pending = repo.record_inbound(connection, inbound, limit)
    if within is not None:
        within(connection, received)
    if pending is None:
        return received, None
    # Read here, while the NLU is being asked, so that the decision need not.
    seen = repo.read_situation(connection, received.conversation_id, reopen_since)
    if seen.oldest_pending != pending.id:
        return received, pending  # it waits for older messages: read it when its turn comes
    return received, dataclasses.replace(pending, seen=seen)


def _drop(guess: asyncio.Task[Understanding] | None) -> None:
    """Forget an NLU answer asked for in vain, and any error it ended with."""
    if guess is None:
        return
    if not guess.done():
        guess.cancel()
    elif not guess.cancelled():
        guess.exception()
