"""A conversation's situation and the assistant's state in it: what a decision reads
about a conversation, and what it writes back.

Synchronous Core statements on a Connection that `Database.run` gives, like the
repository's. The situation can be read without the conversation's lock, while the NLU is
asked (`read_situation`); `save_state` then writes only if the conversation's revision
has not moved since, and locks it. `lock_conversation` locks it first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, or_, select, update

from infoline.store.repository import HANDED_BACK, OPEN_CASE_STATES, is_pending, vars_of
from infoline.store.schema import Case, Contact, Conversation, Message


def _open_case(column: Any) -> Any:
    return (
        select(column)
        .where(
            Case.conversation_id == bindparam("conversation_id"),
            # Bound one by one: a tuple would be an "expanding" parameter, rendered into
            # the SQL again at every execution.
            Case.status.in_([literal(state) for state in OPEN_CASE_STATES]),
        )
        .order_by(Case.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _reopenable() -> Any:
    """The conversation's last case if a consultant resolved it (not handed it back)
    after :reopen_since: what the user writes next most likely continues it."""
    last = (
        select(func.max(Case.id))
        .where(Case.conversation_id == bindparam("conversation_id"))
        .scalar_subquery()
    )
    return (
        select(Case.id)
        .where(
            Case.id == last,
            Case.status == "resolved",
            or_(Case.resolution.is_(None), Case.resolution != HANDED_BACK),
            Case.resolved_at > bindparam("reopen_since"),
        )
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class Situation:
    """What a decision reads about a conversation, as of the conversation's revision.

    Whatever changes any of it raises the revision: a new message, a decision, a case
    changed by a consultant (they lock the conversation: `lock_conversation`), erasure.
    """

    conversation_id: int
    revision: int
    contact_id: int
    channel: str
    address: str
    chosen_language: str | None
    erased: bool
    last_language: str | None
    low_confidence_turns: int
    awaiting_feedback: str | None
    case_id: int | None  # the open case
    case_priority: int | None
    reopenable_case: int | None  # see _reopenable; only when asked for
    oldest_pending: int | None  # the inbound message to handle first
    pending: int  # how many inbound messages wait, that one included


# Locks the row on PostgreSQL; on SQLite the transaction holds the write lock already.
_LOCK_CONVERSATION = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .values(revision=Conversation.revision + 1)
)
# A statement of its own after the lock: PostgreSQL takes a statement's snapshot when it
# starts, so what the locking statement read besides the locked row may predate the
# transaction it waited for.
_SITUATION = (
    select(
        Conversation.revision,
        Conversation.contact_id,
        Conversation.last_language,
        Conversation.low_confidence_turns,
        Conversation.awaiting_feedback,
        Contact.channel,
        Contact.address,
        Contact.language,
        Contact.erased,
        _open_case(Case.id).label("case_id"),
        _open_case(Case.priority).label("case_priority"),
        _reopenable().label("reopenable_case"),
        select(func.min(Message.id))
        .where(is_pending(bindparam("conversation_id")))
        .scalar_subquery()
        .label("oldest_pending"),
        select(func.count())
        .select_from(Message)
        .where(is_pending(bindparam("conversation_id")))
        .scalar_subquery()
        .label("pending"),
    )
    .join(Contact, Contact.id == Conversation.contact_id)
    .where(Conversation.id == bindparam("conversation_id"))
)


# Later than any resolution: nothing is reopenable when the caller does not ask.
_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)


def lock_conversation(
    connection: Connection, conversation_id: int, reopen_since: dt.datetime | None = None
) -> Situation:
    """Lock a conversation for the transaction, with a new revision (what the caller does
    under the lock may change the situation), and read its situation.

    Raise LookupError when the conversation is gone.
    """
    if connection.execute(_LOCK_CONVERSATION, {"conversation_id": conversation_id}).rowcount:
        return read_situation(connection, conversation_id, reopen_since)
    raise LookupError(f"conversation {conversation_id} is gone")


def read_situation(
    connection: Connection, conversation_id: int, reopen_since: dt.datetime | None = None
) -> Situation:
    """Read what a decision needs about a conversation, with the case resolved after
    `reopen_since` that the message may reopen. Without the conversation's lock it may be
    out of date when used: `save_state` tells by the revision."""
    ids = {"conversation_id": conversation_id, "reopen_since": reopen_since or _NEVER}
    row = connection.execute(_SITUATION, ids).first()
    if row is None:
        raise LookupError(f"conversation {conversation_id} is gone")
    return Situation(
        conversation_id=conversation_id,
        revision=row.revision,
        contact_id=row.contact_id,
        channel=row.channel,
        address=row.address,
        chosen_language=row.language,
        erased=row.erased,
        last_language=row.last_language,
        low_confidence_turns=row.low_confidence_turns,
        awaiting_feedback=row.awaiting_feedback,
        case_id=row.case_id,
        case_priority=row.case_priority,
        reopenable_case=row.reopenable_case,
        oldest_pending=row.oldest_pending,
        pending=row.pending,
    )


@dataclass(frozen=True, slots=True)
class Understood:
    """What is kept on an inbound message once it is handled."""

    topic: str | None = None
    confidence: float | None = None
    language: str | None = None
    language_confidence: float | None = None


_MARK_HANDLED = (
    update(Message)
    .where(Message.id == bindparam("message_id"))
    .values(
        processed_at=bindparam("moment"),
        case_id=bindparam("case_id"),
        topic=bindparam("topic"),
        confidence=bindparam("confidence"),
        language=bindparam("language"),
        language_confidence=bindparam("language_confidence"),
    )
)


def mark_handled(
    connection: Connection,
    message_id: int,
    moment: dt.datetime,
    case_id: int | None,
    understood: Understood,
) -> None:
    """Note that an inbound message is handled, what it was about, and its case."""
    connection.execute(
        _MARK_HANDLED,
        {"message_id": message_id, "moment": moment, "case_id": case_id, **vars_of(understood)},
    )


_SAVE_STATE = (
    update(Conversation)
    .where(
        Conversation.id == bindparam("conversation_id"),
        Conversation.revision == bindparam("revision"),
    )
    .values(
        last_language=bindparam("last_language"),
        low_confidence_turns=bindparam("low_confidence_turns"),
        awaiting_feedback=bindparam("awaiting_feedback"),
        last_activity_at=bindparam("moment"),
        revision=Conversation.revision + 1,
    )
)
_CHOOSE_LANGUAGE = (
    update(Contact)
    .where(Contact.id == bindparam("contact_id"))
    .values(language=bindparam("language"))
)


def save_state(
    connection: Connection,
    seen: Situation,
    moment: dt.datetime,
    last_language: str,
    low_confidence_turns: int,
    awaiting_feedback: str | None,
) -> bool:
    """Store the assistant's state of a conversation after a decision on the situation
    `seen`, and lock the conversation; return False, storing nothing, when the
    conversation has changed since `seen` was read (or is gone)."""
    saved = connection.execute(
        _SAVE_STATE,
        {
            "conversation_id": seen.conversation_id,
            "revision": seen.revision,
            "moment": moment,
            "last_language": last_language,
            "low_confidence_turns": low_confidence_turns,
            "awaiting_feedback": awaiting_feedback,
        },
    )
    return bool(saved.rowcount)


def choose_language(connection: Connection, contact_id: int, language: str) -> None:
    """Keep the language a contact chose explicitly."""
    connection.execute(_CHOOSE_LANGUAGE, {"contact_id": contact_id, "language": language})
