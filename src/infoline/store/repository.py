"""Queries about contacts, inbound messages and cases; callers build no SQL. What a
decision reads and writes about a conversation is in `conversations`.

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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

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

if TYPE_CHECKING:
    from infoline.store import conversations

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
    seen: conversations.Situation | None = None


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


def is_pending(conversation: Any) -> Any:
    """The condition for a conversation's inbound messages not handled yet."""
    return (
        (Message.conversation_id == conversation)
        & (Message.direction == "in")
        & Message.processed_at.is_(None)
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
    .where(is_pending(bindparam("conversation_id")))
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
