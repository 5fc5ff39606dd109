"""Every query the engine and the dispatcher make; callers never build SQL themselves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from infoline.core.messages import Attachment, Inbound
from infoline.store.db import now
from infoline.store.schema import (
    AuditEntry,
    Case,
    CaseClock,
    CaseNote,
    Contact,
    Conversation,
    MailboxPosition,
    Message,
    Outbox,
    StoredAttachment,
)

OPEN_CASE_STATES = ("queued", "assigned", "waiting")
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


async def record_inbound(session: AsyncSession, inbound: Inbound, limit: int) -> Received:
    """Store an inbound message idempotently on (channel, external id)."""
    existing = await session.scalar(
        select(Message).where(
            Message.channel == inbound.channel, Message.external_id == inbound.external_id
        )
    )
    if existing is not None:
        return Received(existing.id, existing.conversation_id, False)
    moment = now()
    contact = await session.scalar(
        select(Contact).where(
            Contact.channel == inbound.channel, Contact.address == inbound.address
        )
    )
    if contact is None:
        contact = Contact(
            channel=inbound.channel,
            address=inbound.address,
            display_name=inbound.display_name,
            created_at=moment,
        )
        session.add(contact)
        await session.flush()
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.contact_id == contact.id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if conversation is None:
        conversation = Conversation(
            contact_id=contact.id, created_at=moment, last_activity_at=moment
        )
        session.add(conversation)
        await session.flush()
    conversation.last_activity_at = moment
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
    message = Message(
        conversation_id=conversation.id,
        direction="in",
        channel=inbound.channel,
        external_id=inbound.external_id,
        kind=inbound.kind,
        text=clean_text(inbound.text, limit),
        details=details,
        created_at=moment,
    )
    session.add(message)
    await session.flush()
    return Received(message.id, conversation.id, True)


def vars_of(record: Any) -> dict[str, Any]:
    """Return a dataclass with slots as a plain dict."""
    return {name: getattr(record, name) for name in record.__slots__}


def as_inbound(message: Message, address: str) -> Inbound:
    """Rebuild the inbound record that record_inbound stored (its inverse)."""
    details = message.details or {}
    return Inbound(
        channel=message.channel,
        address=address,
        external_id=message.external_id or "",
        text=message.text or "",
        kind=message.kind,  # type: ignore[arg-type]
        language_hint=details.get("language_hint"),
        command=details.get("command"),
        argument=details.get("argument"),
        feedback=details.get("feedback"),
        no_reply=details.get("no_reply"),
        attachments=tuple(Attachment(**a) for a in details.get("attachments") or ()),
    )


async def conversations_with_pending(session: AsyncSession) -> Sequence[int]:
    """Return the conversations that have inbound messages not yet handled."""
    rows = await session.scalars(
        select(Message.conversation_id)
        .where(Message.direction == "in", Message.processed_at.is_(None))
        .group_by(Message.conversation_id)
        .order_by(func.min(Message.id))
    )
    return list(rows)


async def next_pending(session: AsyncSession, conversation_id: int) -> Message | None:
    """Return the oldest unhandled inbound message of a conversation."""
    return await session.scalar(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "in",
            Message.processed_at.is_(None),
        )
        .order_by(Message.id)
        .limit(1)
    )


async def last_inbound(session: AsyncSession, conversation_id: int) -> Message | None:
    """Return the conversation's newest inbound message (what a reply answers)."""
    return await session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(1)
    )


async def lock_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    """Load a conversation, locking its row on PostgreSQL so engines take turns."""
    conversation = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    if conversation is None:
        raise LookupError(f"conversation {conversation_id} is gone")
    return conversation


async def contact_of(session: AsyncSession, conversation: Conversation) -> Contact:
    contact = await session.get(Contact, conversation.contact_id)
    if contact is None:
        raise LookupError(f"contact {conversation.contact_id} is gone")
    return contact


async def open_case(session: AsyncSession, conversation_id: int) -> Case | None:
    """Return the conversation's case that is not resolved, if any."""
    return await session.scalar(
        select(Case)
        .where(Case.conversation_id == conversation_id, Case.status.in_(OPEN_CASE_STATES))
        .order_by(Case.id.desc())
        .limit(1)
    )


async def new_case(
    session: AsyncSession,
    conversation_id: int,
    channel: str,
    reason: str,
    priority: int,
    language: str | None,
    topic: str | None = None,
    confidence: float | None = None,
) -> Case:
    """Queue a new case for a conversation and note it in the audit log."""
    case = Case(
        conversation_id=conversation_id,
        status="queued",
        priority=priority,
        reason=reason,
        channel=channel,
        language=language,
        topic=topic,
        confidence=confidence,
        created_at=now(),
        waiting_since=now(),
    )
    session.add(case)
    await session.flush()
    await tick(session, case)
    await audit(
        session, "assistant", "case_opened", f"case:{case.id}", reason=reason, priority=priority
    )
    return case


async def tick(session: AsyncSession, case: Case) -> int:
    """Stamp a changed case with the next revision of the case clock; return it.

    The clock's row stays locked until the transaction ends, so revisions become visible
    in the order they were taken: whoever has seen revision N has seen all before it.
    Take it last in a transaction (after the conversation and the case) so that no two
    transactions wait for each other.
    """
    await session.execute(
        update(CaseClock).where(CaseClock.id == 1).values(revision=CaseClock.revision + 1)
    )
    revision = int(await session.scalar(select(CaseClock.revision).where(CaseClock.id == 1)) or 0)
    case.revision = revision
    return revision


async def add_outbound(
    session: AsyncSession,
    conversation_id: int,
    to: tuple[str, str],
    text: str,
    language: str,
    details: dict[str, Any],
) -> Message:
    """Store an outgoing message to (channel, address) and queue it in the outbox."""
    channel, address = to
    moment = now()
    message = Message(
        conversation_id=conversation_id,
        direction="out",
        channel=channel,
        kind="text",
        text=text,
        language=language,
        details=details,
        created_at=moment,
        processed_at=moment,
    )
    session.add(message)
    await session.flush()
    session.add(
        Outbox(
            message_id=message.id,
            channel=channel,
            address=address,
            next_attempt_at=moment,
            created_at=moment,
        )
    )
    return message


async def audit(
    session: AsyncSession, actor: str, action: str, subject: str, **details: Any
) -> None:
    """Write one audit-log entry."""
    session.add(AuditEntry(at=now(), actor=actor, action=action, subject=subject, details=details))


async def due_outbox(session: AsyncSession, channels: Sequence[str], limit: int) -> Sequence[int]:
    """Return ids of outbox rows that are due for a first or further attempt."""
    rows = await session.scalars(
        select(Outbox.id)
        .where(
            Outbox.status == "pending",
            Outbox.channel.in_(channels),
            Outbox.next_attempt_at <= now(),
        )
        .order_by(Outbox.id)
        .limit(limit)
    )
    return list(rows)


async def claim_outbox(session: AsyncSession, outbox_id: int) -> tuple[Outbox, Message] | None:
    """Lock one pending outbox row (skipped when another dispatcher holds it)."""
    # Due again, not only pending: a row another dispatcher claimed is leased to it.
    found = (
        await session.execute(
            select(Outbox, Message)
            .join(Message, Message.id == Outbox.message_id)
            .where(
                Outbox.id == outbox_id, Outbox.status == "pending", Outbox.next_attempt_at <= now()
            )
            .with_for_update(of=Outbox, skip_locked=True)
        )
    ).first()
    return (found[0], found[1]) if found is not None else None


async def mark_unreachable(session: AsyncSession, channel: str, address: str) -> None:
    await session.execute(
        update(Contact)
        .where(Contact.channel == channel, Contact.address == address)
        .values(unreachable=True)
    )


async def erase_contact(session: AsyncSession, channel: str, address: str, actor: str) -> bool:
    """Remove a contact's texts and personal data; keep the anonymous counts and say who."""
    contact = await session.scalar(
        select(Contact).where(Contact.channel == channel, Contact.address == address)
    )
    if contact is None:
        return False
    conversations = select(Conversation.id).where(Conversation.contact_id == contact.id)
    await session.execute(
        update(Message)
        .where(Message.conversation_id.in_(conversations))
        .values(text=None, details={}, external_id=None)
    )
    messages = select(Message.id).where(Message.conversation_id.in_(conversations))
    await session.execute(
        update(Outbox)
        .where(Outbox.message_id.in_(messages))
        .values(address="", status="failed", last_error="erased")
    )
    await session.execute(delete(StoredAttachment).where(StoredAttachment.message_id.in_(messages)))
    # Consultants' notes tell about the person too.
    cases = select(Case.id).where(Case.conversation_id.in_(conversations))
    await session.execute(delete(CaseNote).where(CaseNote.case_id.in_(cases)))
    contact.address = f"erased:{contact.id}"
    contact.display_name = None
    contact.erased = True
    await audit(session, actor, "contact_erased", f"{channel}:contact")
    return True


async def delete_older_than(session: AsyncSession, cutoff: dt.datetime) -> int:
    """Delete conversations whose last activity is before `cutoff`; return how many."""
    result = await session.execute(
        delete(Conversation).where(Conversation.last_activity_at < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def add_attachments(
    session: AsyncSession, message_id: int, files: Sequence[tuple[str, str, int, bytes | None]]
) -> None:
    """Keep the files (name, type, size, content or None) that came with a message."""
    session.add_all(
        StoredAttachment(message_id=message_id, name=name, mime=mime, size=size, content=data)
        for name, mime, size, data in files
    )


async def mailbox_position(session: AsyncSession, folder: str) -> MailboxPosition | None:
    """Return how far the mailbox channel has handled an IMAP folder, if it has started."""
    return await session.get(MailboxPosition, folder)


async def advance_mailbox(session: AsyncSession, folder: str, uidvalidity: int, uid: int) -> None:
    """Note that message `uid` of the folder is handled, in the caller's transaction.

    A new UIDVALIDITY means the folder was recreated and its UIDs start again (RFC 3501,
    section 2.3.1.1), so the position follows it even when `uid` is lower.
    """
    position = await session.get(MailboxPosition, folder, with_for_update=True)
    if position is None:
        session.add(MailboxPosition(folder=folder, uidvalidity=uidvalidity, last_uid=uid))
    elif position.uidvalidity != uidvalidity:
        position.uidvalidity = uidvalidity
        position.last_uid = uid
    else:
        position.last_uid = max(position.last_uid, uid)
