"""Writing a decision: what the policy decided about a message goes into the store.

The policy decides on the conversation's situation as read when the message was stored
(`conversations.Situation`), while the NLU was asked. `Decisions.answer` writes a decision
that only answers in one statement (`store.answers`); `Decisions.decide` is the general
transaction: the state saved if the conversation is unchanged (else it is locked, read
and decided on again), the message's fields, the case, the replies into the outbox.
Replies for this process's own dispatcher are leased there and returned (`Handled`), to
be handed over after the commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from infoline.core.messages import Outgoing
from infoline.core.outbox import Handoff, outgoing_of
from infoline.core.policy import NORMAL, URGENT, Decision, State, Thresholds, decide
from infoline.core.replies import Replies, one_message
from infoline.core.topics import Topics
from infoline.core.understanding import Understanding
from infoline.nlu.client import NluResult
from infoline.store import answers, casework, conversations, privacy
from infoline.store import outbox as rows
from infoline.store import repository as repo
from infoline.store.conversations import Situation, Understood
from infoline.store.db import Database, now
from infoline.store.repository import Pending

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


class Decisions:
    """Applies the policy's decisions to the store, for the engine's workers."""

    def __init__(
        self,
        database: Database,
        topics: Topics,
        replies: Replies,
        settings: EngineSettings,
        handoff: Handoff | None,
    ) -> None:
        self._db = database
        self._topics = topics
        self._replies = replies
        self._settings = settings
        self._handoff = handoff

    def reopen_since(self) -> dt.datetime:
        """Cases resolved after this are reopened by the user's next message."""
        return now() - dt.timedelta(hours=self._settings.reopen_hours)

    async def handle(self, message: Pending, understood: Understanding) -> Handled:
        """Decide on a message and write the decision; return what is left for after the
        commit. The decision is made once on the situation seen when the message was
        stored; one that only answers is written in one statement (`store.answers`), any
        other in a transaction. If the conversation changed since it was seen, it is
        locked, read again and decided on again."""
        seen = message.seen
        decided = self._decision(seen, message, understood) if seen is not None else None
        if seen is not None and decided is not None and _only_answers(seen, decided):
            handled = await self._answer(seen, decided, message, understood)
            if handled is not None:
                return handled
            decided = None  # the conversation changed since seen
        return await self._db.run(self._decide, message, understood, decided)

    def give_up(self, connection: Connection, message: Pending) -> None:
        """The transaction for a message that keeps failing: it is handled by giving it
        to a consultant (the open case, or a new one)."""
        situation = conversations.lock_conversation(connection, message.conversation_id)
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
        conversations.mark_handled(connection, message.id, now(), case_id, Understood())
        repo.audit(connection, "assistant", "message_given_up", f"message:{message.id}")

    async def _answer(
        self, seen: Situation, decision: Decision, message: Pending, understood: Understanding
    ) -> Handled | None:
        """Write a decision that only answers, with one reply, at once; None, writing
        nothing, when the conversation changed since `seen`."""
        moment = now()
        lease_until = self._lease_until(seen.channel, moment)
        drafts = self._drafts(decision, seen.channel, message.details, available=False)
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

    def _decide(
        self,
        connection: Connection,
        message: Pending,
        understood: Understanding,
        decided: Decision | None,
    ) -> Handled:
        """The decision's transaction: write `decided`, made on the situation seen when
        the message was stored, if the conversation is unchanged since; else (or without
        one) lock the conversation, read it again and decide again."""
        seen, moment = message.seen, now()
        # Saving the state locks the conversation, unless it changed since seen.
        if (
            seen is not None
            and decided is not None
            and self._save(connection, seen, decided, moment)
        ):
            return self._apply(connection, decided, message, understood.whole, seen, moment)
        situation = conversations.lock_conversation(
            connection, message.conversation_id, self.reopen_since()
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
        return conversations.save_state(
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
        conversations.mark_handled(connection, message.id, moment, case_id, understood)
        if decision.chosen_language:
            conversations.choose_language(
                connection, situation.contact_id, decision.chosen_language
            )
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


def _only_answers(seen: Situation, decision: Decision) -> bool:
    """Whether a decision on `seen` only saves the state and sends one reply."""
    replies = len(decision.replies)
    one_reply = replies == 1 or (replies > 1 and seen.channel in ONE_REPLY_CHANNELS)
    return not seen.erased and seen.case_id is None and decision.only_answers and one_reply


def _understood(decision: Decision, nlu: NluResult | None) -> Understood:
    """What is kept of the NLU's answer: the topic acted on (an emergency wins over a
    higher topic, and a pressed topic button counts without the NLU)."""
    if nlu is None:
        return Understood(decision.topic)
    return Understood(
        decision.topic or nlu.topic, nlu.confidence, nlu.language, nlu.language_confidence
    )
