"""The tables: contacts, conversations, messages, cases and their notes, consultants, the
outbox, the audit log, and how far the mailbox channel has read each IMAP folder."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on SQLite (which drops the zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime stored; use infoline.store.clock.now()")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class Contact(Base):
    """Somebody who wrote to us on one channel."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(8))  # chosen explicitly
    consent: Mapped[bool] = mapped_column(default=False)
    erased: Mapped[bool] = mapped_column(default=False)
    unreachable: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime]


class Conversation(Base):
    """The assistant's state with one contact."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    last_language: Mapped[str | None] = mapped_column(String(8))
    low_confidence_turns: Mapped[int] = mapped_column(default=0)
    awaiting_feedback: Mapped[str | None] = mapped_column(String(40))  # topic just answered
    created_at: Mapped[dt.datetime]
    last_activity_at: Mapped[dt.datetime] = mapped_column(index=True)
    # Raised by every change to what a decision reads about the conversation (see
    # conversations.Situation), so that a decision can tell whether what it read still holds.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Message(Base):
    """One message in or out, with what the NLU made of the inbound ones."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_messages_pending", "conversation_id", "processed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" or "out"
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="text")
    text: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # attachments, hints
    topic: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None]
    language: Mapped[str | None] = mapped_column(String(8))
    language_confidence: Mapped[float | None]
    created_at: Mapped[dt.datetime]
    processed_at: Mapped[dt.datetime | None]


class Case(Base):
    """A conversation handed to a consultant."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_queue", "status", "priority", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))  # queued, assigned, waiting, resolved
    priority: Mapped[int]  # 0 urgent, 1 normal
    reason: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None]
    created_at: Mapped[dt.datetime]
    first_response_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    # Consultants are disabled, never deleted: their cases and notes keep their names.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("consultants.id"), index=True)
    resolution: Mapped[str | None] = mapped_column(String(40))  # a topic id, "other", ...
    # Since when the user has been waiting for a consultant; None once answered.
    waiting_since: Mapped[dt.datetime | None]
    # Taken from the case clock at every change: the console asks what changed after N.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)


class CaseClock(Base):
    """One row counting changes to cases; its row lock orders revisions as commits are."""

    __tablename__ = "case_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)


class CaseNote(Base):
    """An internal note on a case, for consultants only."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("consultants.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class ConsultantAccount(Base):
    """A consultant or supervisor of the console."""

    __tablename__ = "consultants"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, encoded
    role: Mapped[str] = mapped_column(String(20))  # consultant, supervisor
    languages: Mapped[str] = mapped_column(String(60))  # comma-separated: "pl,uk"
    available: Mapped[bool] = mapped_column(default=False)
    disabled: Mapped[bool] = mapped_column(default=False)
    console_language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime]


class Outbox(Base):
    """A message waiting to be sent, being retried, sent, or failed for good."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """Who did what to which record, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MailboxPosition(Base):
    """The last IMAP message handled in a folder, valid while the folder's UIDVALIDITY holds."""

    __tablename__ = "mailbox_positions"

    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Both are unsigned 32-bit numbers in IMAP (RFC 3501, section 2.3.1.1): past int4.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)


class StoredAttachment(Base):
    """A file that came with a message; its content only when under the size limit."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
