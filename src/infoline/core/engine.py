"""The dialogue engine: inbound records in, decisions and outbox rows out.

1. `receive` commits the inbound record (idempotent on channel and external id) before
   anything else; only then may the channel forget it.
2. Workers handle each conversation's messages in order, conversations in parallel.
   The NLU is asked outside any transaction, while the message is stored and the
   conversation read; the decision — message fields, state, case, outgoing messages
   into the outbox — is written in one transaction or one statement that cannot wait
   for the network (`decisions`). Its outbox rows for this process's own dispatcher are
   leased there and handed over after the commit. A long message's paragraphs are
   classified too, so that each question in it is seen.
3. At start-up every message not yet handled is picked up again, so a crash between any
   two steps loses nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from infoline.core.decisions import Decisions, EngineSettings, Handled
from infoline.core.i18n import Catalogs, OfficeHours
from infoline.core.kb import Contacts, KnowledgeBase
from infoline.core.messages import Inbound
from infoline.core.outbox import Handoff, outgoing_of
from infoline.core.ports import Classifier
from infoline.core.replies import Replies
from infoline.core.topics import Topics
from infoline.core.understanding import Understanding, to_classify, understand
from infoline.store import casework, conversations
from infoline.store import repository as repo
from infoline.store.db import Database
from infoline.store.repository import Pending

log = logging.getLogger(__name__)
MAX_FAILURES = 3  # attempts at one message before a consultant gets it
# What a channel writes along with an inbound message, in the transaction that stores it
# (synchronous, like all of a transaction's work here).
Within = Callable[[Connection, repo.Received], None]


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
        self._settings = settings
        self._handoff = handoff
        replies = Replies(topics, kb, catalogs, hours, contacts)
        self._decisions = Decisions(database, topics, replies, settings, handoff)
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
        since = self._decisions.reopen_since()
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
            await self._db.run(self._decisions.give_up, message)
            more = True
        self._failures.pop(message.id, None)
        return more

    async def _handle(self, message: Pending) -> bool:
        understood = await self._classify(message)
        handled = await self._decisions.handle(message, understood)
        self._hand_over(handled)
        return handled.more

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
    seen = conversations.read_situation(connection, received.conversation_id, reopen_since)
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
