"""Every query about contacts, conversations, messages and cases; callers build no SQL.

The functions are synchronous and take a Connection inside a transaction that
`Database.run` opens, so none of them can wait for the network while it is open. They
are SQLAlchemy Core statements, built once, without the ORM's identity map, flushes and
re-reads: each step of a message is as few statements as it can be.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, literal, or_, select, update

from infoline.core.messages import Attachment, Inbound
from infoline.store.db import now
from infoline.store.schema import (
    AuditEntry,
    Case,
    CaseClock,
    Contact,
    Conversation,
    Message,
)

OPEN_CASE_STATES = ("queued", "assigned", "waiting")
HANDED_BACK = "handed_back"  # the resolution of a case given back to the assistant
# PostgreSQL refuses NUL characters in text; anything else is stored as it came.
_NUL = "\x00"


def clean_text(text: str, limit: int) -> str:
    """Make text storable: no NUL characters, at most `limit` characters."""
    return text.replace(_NUL, "\ufffd")[:limit]


@dataclass(frozen=True, slots=True)
class Received:
    message_id: int
    conversation_id: int
    new: bool


@dataclass(frozen=True, slots=True)
class Pending:
    """An inbound message not handled yet, as stored."""

    id: int
    conversation_id: int
    channel: str
    external_id: str | None
    kind: str
    text: str
    details: dict[str, Any]
    # The conversation as read when the message was stored, when it was the next to
    # handle then: the decision need not read it again if nothing changed since.
    seen: Situation | None = None


def _pending(row: Any) -> Pending:
    return Pending(
        row.id,
        row.conversation_id,
        row.channel,
        row.external_id,
        row.kind,
        row.text or "",
        row.details or {},
    )


def _is_pending(conversation: Any) -> Any:
    return (
        (Message.conversation_id == conversation)
        & (Message.direction == "in")
        & Message.processed_at.is_(None)
    )


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


_SAME_CONTACT = (Contact.channel == bindparam("channel")) & (
    Contact.address == bindparam("address")
)
_SAME_MESSAGE = (Message.channel == bindparam("channel")) & (
    Message.external_id == bindparam("external_id")
)
# One round trip: the message if it is stored already, else its contact and conversation.
_LOOK_UP_INBOUND = select(
    select(Message.id).where(_SAME_MESSAGE).scalar_subquery().label("message_id"),
    select(Message.conversation_id).where(_SAME_MESSAGE).scalar_subquery().label("stored_in"),
    select(Contact.id).where(_SAME_CONTACT).scalar_subquery().label("contact_id"),
    select(func.max(Conversation.id))
    .join(Contact, Contact.id == Conversation.contact_id)
    .where(_SAME_CONTACT)
    .scalar_subquery()
    .label("conversation_id"),
)
_ADD_CONTACT = insert(Contact).returning(Contact.id)
_ADD_CONVERSATION = insert(Conversation).returning(Conversation.id)
# A new message changes what a decision reads (the messages waiting): a new revision.
_TOUCH_CONVERSATION = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .values(last_activity_at=bindparam("moment"), revision=Conversation.revision + 1)
)
_ADD_MESSAGE = insert(Message).returning(Message.id)


def record_inbound(
    connection: Connection, inbound: Inbound, limit: int
) -> tuple[Received, Pending | None]:
    """Store an inbound message idempotently on (channel, external id).

    Returns the stored message as well when it is new, so that the engine need not
    read back what it has just written.
    """
    found = connection.execute(
        _LOOK_UP_INBOUND,
        {
            "channel": inbound.channel,
            "address": inbound.address,
            "external_id": inbound.external_id,
        },
    ).one()
    if found.message_id is not None:
        return Received(found.message_id, found.stored_in, False), None
    moment = now()
    contact_id = found.contact_id
    if contact_id is None:
        contact_id = connection.execute(
            _ADD_CONTACT,
            {
                "channel": inbound.channel,
                "address": inbound.address,
                "display_name": inbound.display_name,
                "created_at": moment,
            },
        ).scalar_one()
    conversation_id = found.conversation_id
    if conversation_id is None:
        conversation_id = connection.execute(
            _ADD_CONVERSATION,
            {"contact_id": contact_id, "created_at": moment, "last_activity_at": moment},
        ).scalar_one()
    else:
        connection.execute(
            _TOUCH_CONVERSATION, {"conversation_id": conversation_id, "moment": moment}
        )
    details: dict[str, Any] = dict(inbound.details)
    details.update(
        command=inbound.command,
        argument=inbound.argument,
        feedback=inbound.feedback,
        language_hint=inbound.language_hint,
        no_reply=inbound.no_reply,
        attachments=[vars_of(a) for a in inbound.attachments],
        truncated_from=len(inbound.text) if len(inbound.text) > limit else None,
    )
    # As it will read back from the JSON column, so that nobody sees two versions.
    details = json.loads(json.dumps(details))
    text = clean_text(inbound.text, limit)
    message_id = connection.execute(
        _ADD_MESSAGE,
        {
            "conversation_id": conversation_id,
            "direction": "in",
            "channel": inbound.channel,
            "external_id": inbound.external_id,
            "kind": inbound.kind,
            "text": text,
            "details": details,
            "created_at": moment,
        },
    ).scalar_one()
    pending = Pending(
        message_id,
        conversation_id,
        inbound.channel,
        inbound.external_id,
        inbound.kind,
        text,
        details,
    )
    return Received(message_id, conversation_id, True), pending


def vars_of(record: Any) -> dict[str, Any]:
    """Return a dataclass with slots as a plain dict."""
    return {name: getattr(record, name) for name in record.__slots__}


def as_inbound(message: Pending, address: str) -> Inbound:
    """Rebuild the inbound record that record_inbound stored (its inverse)."""
    details = message.details
    return Inbound(
        channel=message.channel,
        address=address,
        external_id=message.external_id or "",
        text=message.text,
        kind=message.kind,  # type: ignore[arg-type]
        language_hint=details.get("language_hint"),
        command=details.get("command"),
        argument=details.get("argument"),
        feedback=details.get("feedback"),
        no_reply=details.get("no_reply"),
        attachments=tuple(Attachment(**a) for a in details.get("attachments") or ()),
    )


_WITH_PENDING = (
    select(Message.conversation_id)
    .where(Message.direction == "in", Message.processed_at.is_(None))
    .group_by(Message.conversation_id)
    .order_by(func.min(Message.id))
)
_NEXT_PENDING = (
    select(
        Message.id,
        Message.conversation_id,
        Message.channel,
        Message.external_id,
        Message.kind,
        Message.text,
        Message.details,
    )
    .where(_is_pending(bindparam("conversation_id")))
    .order_by(Message.id)
    .limit(1)
)


def conversations_with_pending(connection: Connection) -> Sequence[int]:
    """Return the conversations that have inbound messages not yet handled."""
    return list(connection.scalars(_WITH_PENDING))


def next_pending(connection: Connection, conversation_id: int) -> Pending | None:
    """Return the oldest unhandled inbound message of a conversation."""
    row = connection.execute(_NEXT_PENDING, {"conversation_id": conversation_id}).first()
    return _pending(row) if row is not None else None


_LAST_INBOUND_DETAILS = (
    select(Message.details)
    .where(Message.conversation_id == bindparam("conversation_id"), Message.direction == "in")
    .order_by(Message.id.desc())
    .limit(1)
)


def last_inbound_details(connection: Connection, conversation_id: int) -> dict[str, Any]:
    """Return the details of the conversation's newest inbound message (what a reply
    answers, for threading), or {} when there is none."""
    details = connection.scalar(_LAST_INBOUND_DETAILS, {"conversation_id": conversation_id})
    return dict(details or {})


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
        .where(_is_pending(bindparam("conversation_id")))
        .scalar_subquery()
        .label("oldest_pending"),
        select(func.count())
        .select_from(Message)
        .where(_is_pending(bindparam("conversation_id")))
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


_ADD_CASE = insert(Case).returning(Case.id)
_ESCALATE = (
    update(Case).where(Case.id == bindparam("case_id")).values(priority=bindparam("priority"))
)


def new_case(
    connection: Connection,
    conversation_id: int,
    channel: str,
    reason: str,
    priority: int,
    language: str | None,
    topic: str | None = None,
    confidence: float | None = None,
    moment: dt.datetime | None = None,
) -> int:
    """Queue a new case for a conversation, note it in the audit log, return its id."""
    moment = moment or now()
    case_id: int = connection.execute(
        _ADD_CASE,
        {
            "conversation_id": conversation_id,
            "status": "queued",
            "priority": priority,
            "reason": reason,
            "channel": channel,
            "language": language,
            "topic": topic,
            "confidence": confidence,
            "created_at": moment,
            "waiting_since": moment,
        },
    ).scalar_one()
    stamp(connection, case_id)
    audit(
        connection, "assistant", "case_opened", f"case:{case_id}", reason=reason, priority=priority
    )
    return case_id


def escalate_case(connection: Connection, case_id: int, priority: int) -> None:
    """Raise an open case's priority and note it in the audit log (in a transaction that
    has taken the case's revision: the message joining it did)."""
    connection.execute(_ESCALATE, {"case_id": case_id, "priority": priority})
    audit(connection, "assistant", "case_escalated", f"case:{case_id}")


_TICK = (
    update(CaseClock)
    .where(CaseClock.id == 1)
    .values(revision=CaseClock.revision + 1)
    .returning(CaseClock.revision)
)


_STAMP = update(Case).where(Case.id == bindparam("case")).values(revision=bindparam("new_revision"))


def tick(connection: Connection) -> int:
    """Take the next revision of the case clock, for a case changed in this transaction.

    The clock's row stays locked until the transaction ends, so revisions become visible
    in the order they were taken: whoever has seen revision N has seen all before it.
    Take it last, after the conversation's lock and the case's own change, so that no two
    transactions wait for each other.
    """
    return int(connection.execute(_TICK).scalar_one())


def stamp(connection: Connection, case_id: int) -> int:
    """Give a case changed in this transaction the next revision (see `tick`)."""
    revision = tick(connection)
    connection.execute(_STAMP, {"case": case_id, "new_revision": revision})
    return revision


_AUDIT = insert(AuditEntry)


def audit(connection: Connection, /, actor: str, action: str, subject: str, **details: Any) -> None:
    """Write one audit-log entry."""
    connection.execute(
        _AUDIT,
        {"at": now(), "actor": actor, "action": action, "subject": subject, "details": details},
    )
