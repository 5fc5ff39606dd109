"""The assistant's policy: what to say and whether to open a case, as a pure function.

The engine gathers the state and the NLU result, calls `decide`, and applies the decision
in one transaction. Keeping the policy pure makes every rule testable without I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from infoline.core.messages import LANGUAGES, Inbound
from infoline.core.topics import Topics
from infoline.nlu.client import URGENT_TOPIC, NluResult

URGENT, NORMAL = 0, 1
# Buttons a reply can carry: the four languages, the topic menu, the erasure confirmation.
Menu = Literal["languages", "topics", "forget"]
# Short answers to "did this help?", in the four languages and their Latin spellings.
_NO = {
    "no",
    "nope",
    "not really",
    "nie",
    "niezbyt",
    "ні",
    "ni",
    "нет",
    "net",
    "ne",
    "не допомогло",
    "ne dopomohlo",
    "не помогло",
    "ne pomoglo",
    "nie pomogło",
    "nie pomoglo",
    "didn't help",
    "did not help",
    "it didn't help",
    "👎",
}
_YES = {
    "yes",
    "yeah",
    "yep",
    "tak",
    "так",
    "tak dopomohlo",
    "да",
    "da",
    "pomogło",
    "pomoglo",
    "допомогло",
    "dopomohlo",
    "помогло",
    "it helped",
    "👍",
}


# What users say after their question was settled; it needs no consultant.
_CLOSING = frozenset({"thanks", "goodbye"})


@dataclass(frozen=True, slots=True)
class Thresholds:
    low_confidence: float
    urgent: float
    language: float


@dataclass(frozen=True, slots=True)
class State:
    """What the engine knows about the conversation before this message."""

    chosen_language: str | None
    last_language: str | None
    low_confidence_turns: int
    awaiting_feedback: str | None
    open_case_priority: int | None  # None when no case is open
    default_language: str
    # No case is open, but a consultant resolved the last one recently: what the user
    # writes now most likely continues it, so it goes back to them.
    reopenable: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: a catalog message id, or a knowledge-base topic, with a feedback question."""

    message_id: str | None = None
    kb_topic: str | None = None
    ask_feedback: bool = False
    tell_when: bool = False  # add when a consultant will answer
    bilingual: bool = False  # in English and Polish, for a language we do not speak
    menu: Menu | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    language: str
    topic: str | None
    replies: tuple[Reply, ...] = ()
    open_case: str | None = None  # the reason, when a case is opened
    priority: int = NORMAL
    escalate: bool = False  # raise an open case to urgent
    to_case: bool = False  # the message joins the open case
    chosen_language: str | None = None
    low_confidence_turns: int = 0
    awaiting_feedback: str | None = None
    erase: bool = False  # erase the contact's data (after a confirmed /forget)
    reopen: bool = False  # reopen the recently resolved case; the message joins it

    @property
    def only_answers(self) -> bool:
        """It saves the state and replies, and does nothing else: no case, no erasure, no
        language choice, no "when will a consultant answer"."""
        return not (
            self.open_case
            or self.escalate
            or self.to_case
            or self.chosen_language
            or self.erase
            or self.reopen
            or any(reply.tell_when for reply in self.replies)
        )


def normalise(text: str) -> str:
    """Lower-case and strip punctuation, for matching short answers."""
    return re.sub(r"[\s.!?,;:)(]+", " ", text.lower()).strip()


def reply_language(state: State, message: Inbound, nlu: NluResult | None, limit: float) -> str:
    """Explicit choice > the message's confident language > last > channel hint > default.

    One word ("ok", "yes", "да") says too little about a language to switch away from
    the conversation's; it counts only when the conversation has none yet.
    """
    if state.chosen_language:
        return state.chosen_language
    telling = len(message.text.split()) > 1 or not state.last_language
    if nlu and nlu.language in LANGUAGES and nlu.language_confidence >= limit and telling:
        return nlu.language
    if state.last_language:
        return state.last_language
    hint = (message.language_hint or "").split("-")[0].lower()
    return hint if hint in LANGUAGES else state.default_language


def _case(language: str, topic: str | None, reason: str, first: str | None = None) -> Decision:
    """Open a case (or join the open one) and tell the user a consultant will answer."""
    told = Reply("case_opened", tell_when=True)
    replies = (Reply(first), told) if first else (told,)
    return Decision(language, topic, replies, open_case=reason)


def _closing(nlu: NluResult | None, topic: str | None, limits: Thresholds) -> bool:
    """Tell whether a message only closes the exchange ("thanks", "bye"): the assistant
    answers it rather than reopening a resolved case for it."""
    return nlu is not None and topic in _CLOSING and nlu.confidence >= limits.low_confidence


def _reopen(language: str, topic: str | None) -> Decision:
    """Give the message to the recently resolved case again, and tell the user so."""
    return Decision(
        language, topic, (Reply("case_reopened", tell_when=True),), reopen=True, to_case=True
    )


def decide(
    state: State,
    message: Inbound,
    nlu: NluResult | None,
    topics: Topics,
    limits: Thresholds,
    parts: tuple[NluResult, ...] = (),
) -> Decision:
    """Decide what the assistant does with one inbound message.

    `parts` are the message's paragraphs classified one by one, when it has several (a
    long e-mail often asks more than one thing).
    """
    if message.command == "language" and message.argument in LANGUAGES:
        language = message.argument
        return Decision(language, None, (Reply("language_set"),), chosen_language=language)
    language = reply_language(state, message, nlu, limits.language)
    if message.no_reply:
        # Auto-replies, bounces, lists: a consultant sees them; answering could start a loop.
        if state.open_case_priority is not None:
            return Decision(language, None, to_case=True)
        if state.reopenable:
            return Decision(language, None, reopen=True, to_case=True)
        return Decision(language, None, open_case=f"no_reply_{message.no_reply}")
    if message.command is not None and message.command != "human":
        return _command(language, message, topics)
    feedback = _feedback(state, message)
    if feedback is not None and state.open_case_priority is None:
        # A button press or a bare "no" after an answer: feedback, not a new question, so
        # neither its (unreliable) language nor its topic scores count.
        language = state.chosen_language or state.last_language or language
        if feedback:
            return Decision(language, None, (Reply("feedback_thanks"),))
        if state.reopenable:
            return _reopen(language, state.awaiting_feedback)
        return _case(language, state.awaiting_feedback, "not_helpful")
    acted = nlu.acted_topic(limits.urgent) if nlu else None
    if any(part.acted_topic(limits.urgent) == URGENT_TOPIC for part in parts):
        acted = URGENT_TOPIC  # danger in one paragraph is danger
    if acted == URGENT_TOPIC:
        # Danger is answered at once, whatever else is going on.
        replies = (Reply(kb_topic=URGENT_TOPIC),)
        if state.open_case_priority is not None:
            return Decision(language, acted, replies, escalate=True, to_case=True)
        if state.reopenable:
            return Decision(language, acted, replies, escalate=True, to_case=True, reopen=True)
        return Decision(language, acted, replies, open_case="emergency", priority=URGENT)
    if state.open_case_priority is not None:
        return Decision(language, acted, to_case=True)
    if state.reopenable and not _closing(nlu, acted, limits):
        return _reopen(language, acted)
    if message.command == "human":
        return _case(language, "request_human", "request_human")
    if message.kind == "sticker":
        return Decision(language, None, (Reply("sticker"),))
    if message.kind != "text":
        return _case(language, None, f"unreadable_{message.kind}", "unreadable")
    if not message.text.strip():
        return Decision(language, None, (Reply("empty"),))
    if nlu is None:
        return _case(language, None, "nlu_unavailable", "nlu_unavailable")
    if _other_language(message, nlu, limits.language):
        return Decision(
            language, acted, (Reply("other_language", bilingual=True),), open_case="other_language"
        )
    several = _several_questions(language, parts, topics, limits)
    return several or _by_topic(state, language, nlu, acted, topics, limits)


def _several_questions(
    language: str, parts: tuple[NluResult, ...], topics: Topics, limits: Thresholds
) -> Decision | None:
    """Answer each paragraph's topic the assistant can; a consultant gets the rest.

    None when the paragraphs do not ask several things (then the whole text decides).
    """
    answerable: list[str] = []
    rest = False
    for part in parts:
        topic = part.acted_topic(limits.urgent)
        kind = topics.kind(topic)
        if kind == "answer" and part.confidence >= limits.low_confidence:
            if topic not in answerable:
                answerable.append(topic or "")
        elif kind != "chat":  # a greeting or thanks asks nothing
            rest = True
    if len(answerable) + rest < 2 or not answerable:
        return None
    replies = [Reply(kb_topic=topic) for topic in answerable]
    if rest:
        replies.append(Reply("case_opened", tell_when=True))
        return Decision(language, answerable[0], tuple(replies), open_case="partly_answered")
    replies[-1] = Reply(kb_topic=answerable[-1], ask_feedback=True)
    return Decision(language, answerable[0], tuple(replies), awaiting_feedback=answerable[-1])


def _command(language: str, message: Inbound, topics: Topics) -> Decision:
    """Answer /start, /help, /language without a valid choice, /forget and topic buttons."""
    if message.command == "topic" and topics.kind(message.argument) == "answer":
        return _answer(language, message.argument or "")
    if message.command == "forget":
        if message.argument == "yes":
            return Decision(language, None, (Reply("forget_done"),), erase=True)
        if message.argument == "no":
            return Decision(language, None, (Reply("forget_kept"),))
        return Decision(language, None, (Reply("forget_confirm", menu="forget"),))
    if message.command in ("help", "topic"):  # an unknown topic: the menu again
        return Decision(language, None, (Reply("help", menu="topics"),))
    if message.command == "language":
        return Decision(language, None, (Reply("language_choose", menu="languages"),))
    return Decision(language, None, (Reply("welcome", menu="languages"),))


def _answer(language: str, topic: str) -> Decision:
    """Answer a topic from the knowledge base and ask whether it helped."""
    return Decision(
        language, topic, (Reply(kb_topic=topic, ask_feedback=True),), awaiting_feedback=topic
    )


def _other_language(message: Inbound, nlu: NluResult, limit: float) -> bool:
    """Tell whether the message is confidently in a language the assistant does not speak.

    A single word is not enough ("да", "merci" are read as other languages), unless its
    script alone settles it (confidence 1.0: Georgian, Arabic, ...).
    """
    if nlu.language != "other" or nlu.language_confidence < limit:
        return False
    return len(message.text.split()) > 1 or nlu.language_confidence >= 1.0


def _feedback(state: State, message: Inbound) -> bool | None:
    if message.feedback is not None:
        return message.feedback
    if state.awaiting_feedback is None:
        return None
    answer = normalise(message.text)
    return False if answer in _NO else True if answer in _YES else None


def _by_topic(
    state: State,
    language: str,
    nlu: NluResult,
    topic: str | None,
    topics: Topics,
    limits: Thresholds,
) -> Decision:
    # A topic outside the contract (a model trained on other data) is not understood either.
    if topic not in topics.topics or nlu.confidence < limits.low_confidence:
        turns = state.low_confidence_turns + 1
        if turns >= 2:
            return _case(language, topic, "low_confidence")
        return Decision(language, topic, (Reply("rephrase"),), low_confidence_turns=turns)
    kind = topics.topics[topic].kind
    if kind == "answer":
        return _answer(language, topic)
    if kind == "handoff":
        return _case(language, topic, "request_human")
    if kind == "chat":
        # Each chat topic has a catalog message of the same id.
        return Decision(language, topic, (Reply(topic),))
    return Decision(language, topic, (Reply("out_of_scope"),))
