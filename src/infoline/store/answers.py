"""The commonest decision, written at once: the assistant answers, and that is all.

Most messages get one automatic reply and touch no case: the conversation's state is
saved, the message marked handled, the reply stored and queued. On PostgreSQL that is
one statement of data-modifying CTEs, atomic by itself, with no BEGIN and COMMIT: one
round trip where a transaction took six. Every part depends on the state being saved,
which happens only if the conversation is still at the revision the decision read; else
nothing is written, and the caller decides again under the conversation's lock. SQLite
runs the same steps as statements of its own in its transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    DateTime,
    Float,
    Integer,
    String,
    bindparam,
    exists,
    insert,
    literal,
    select,
    update,
)

from infoline.store import conversations
from infoline.store import outbox as rows
from infoline.store.schema import Conversation, Message, Outbox

_MOMENT = bindparam("at", type_=DateTime(timezone=True))
_SAVED = (
    update(Conversation)
    .where(
        Conversation.id == bindparam("conversation", type_=Integer),
        Conversation.revision == bindparam("seen_revision", type_=BigInteger),
    )
    .values(
        last_language=bindparam("state_language", type_=String),
        low_confidence_turns=bindparam("turns", type_=Integer),
        awaiting_feedback=bindparam("awaiting", type_=String),
        last_activity_at=_MOMENT,
        revision=Conversation.revision + 1,
    )
    .returning(Conversation.id)
    .cte("saved")
)
_HANDLED = (
    update(Message)
    .where(Message.id == bindparam("message", type_=Integer), exists(select(_SAVED.c.id)))
    .values(
        processed_at=_MOMENT,
        topic=bindparam("nlu_topic", type_=String),
        confidence=bindparam("nlu_confidence", type_=Float),
        language=bindparam("nlu_language", type_=String),
        language_confidence=bindparam("nlu_language_confidence", type_=Float),
    )
    .cte("handled")
)
_CHANNEL = bindparam("to_channel", type_=String)
_REPLY = (
    insert(Message)
    .from_select(
        [
            "conversation_id",
            "direction",
            "channel",
            "kind",
            "text",
            "language",
            "details",
            "created_at",
            "processed_at",
        ],
        select(
            _SAVED.c.id,
            literal("out"),
            _CHANNEL,
            literal("text"),
            bindparam("reply_text", type_=String),
            bindparam("reply_language", type_=String),
            bindparam("reply_details", type_=JSON),
            _MOMENT,
            _MOMENT,
        ),
    )
    .returning(Message.id)
    .cte("reply")
)
_ANSWER = (
    insert(Outbox)
    .from_select(
        [
            "message_id",
            "channel",
            "address",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
        ],
        select(
            _REPLY.c.id,
            _CHANNEL,
            bindparam("to_address", type_=String),
            literal("pending"),
            bindparam("reply_attempts", type_=Integer),
            bindparam("lease_until", type_=DateTime(timezone=True)),
            _MOMENT,
        ),
    )
    .returning(Outbox.message_id, Outbox.id)
    .add_cte(_HANDLED)
)


def save_answer(
    connection: Connection,
    seen: conversations.Situation,
    state: tuple[str, int, str | None],
    message_id: int,
    understood: conversations.Understood,
    draft: rows.Draft,
    moment: dt.datetime,
    lease_until: dt.datetime | None,
) -> rows.Queued | None:
    """Save the state (last language, low-confidence turns, awaited feedback) decided on
    `seen`, mark the message handled as `understood`, and queue the one reply to the
    conversation's contact (leased until `lease_until`, see `outbox.add_outbound`).

    Return the queued reply; None, writing nothing, when the conversation has changed
    since `seen` was read.
    """
    language, turns, awaiting = state
    if connection.dialect.name != "postgresql":
        if not conversations.save_state(connection, seen, moment, language, turns, awaiting):
            return None
        conversations.mark_handled(connection, message_id, moment, None, understood)
        [queued] = rows.add_outbound(
            connection,
            seen.conversation_id,
            seen.channel,
            seen.address,
            [draft],
            moment,
            lease_until,
        )
        return queued
    # Named unlike any column: an UPDATE takes a parameter named as a column as a value
    # to set.
    params: dict[str, Any] = {
        "conversation": seen.conversation_id,
        "seen_revision": seen.revision,
        "state_language": language,
        "turns": turns,
        "awaiting": awaiting,
        "at": moment,
        "message": message_id,
        "nlu_topic": understood.topic,
        "nlu_confidence": understood.confidence,
        "nlu_language": understood.language,
        "nlu_language_confidence": understood.language_confidence,
        "to_channel": seen.channel,
        "to_address": seen.address,
        "reply_text": draft.text,
        "reply_language": draft.language,
        "reply_details": draft.details,
        "reply_attempts": 1 if lease_until is not None else 0,
        "lease_until": lease_until or moment,
    }
    row = connection.execute(_ANSWER, params).first()
    return rows.Queued(row.message_id, row.id) if row is not None else None
