"""Erasure on request and retention: texts and personal data go, anonymous counts stay."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, select, update

from infoline.store import repository as repo
from infoline.store.db import Database
from infoline.store.schema import (
    Case,
    CaseNote,
    Contact,
    Conversation,
    Message,
    Outbox,
    StoredAttachment,
)


async def erase_contact(db: Database, channel: str, address: str, actor: str) -> bool:
    """Erase one contact's message texts and personal data; False when there is none."""
    return await db.run(erase, channel, address, actor)


def erase(connection: Connection, channel: str, address: str, actor: str) -> bool:
    """Remove a contact's texts, files and personal data; keep the anonymous counts and
    note who asked for it."""
    contact_id = connection.scalar(
        select(Contact.id).where(Contact.channel == channel, Contact.address == address)
    )
    if contact_id is None:
        return False
    conversations = select(Conversation.id).where(Conversation.contact_id == contact_id)
    # A decision read before now must not go ahead with the address erased here.
    connection.execute(
        update(Conversation)
        .where(Conversation.contact_id == contact_id)
        .values(revision=Conversation.revision + 1)
    )
    connection.execute(
        update(Message)
        .where(Message.conversation_id.in_(conversations))
        .values(text=None, details={}, external_id=None)
    )
    messages = select(Message.id).where(Message.conversation_id.in_(conversations))
    connection.execute(
        update(Outbox)
        .where(Outbox.message_id.in_(messages))
        .values(address="", status="failed", last_error="erased")
    )
    connection.execute(delete(StoredAttachment).where(StoredAttachment.message_id.in_(messages)))
    # Consultants' notes tell about the person too.
    cases = select(Case.id).where(Case.conversation_id.in_(conversations))
    connection.execute(delete(CaseNote).where(CaseNote.case_id.in_(cases)))
    connection.execute(
        update(Contact)
        .where(Contact.id == contact_id)
        .values(address=f"erased:{contact_id}", display_name=None, erased=True)
    )
    repo.audit(connection, actor, "contact_erased", f"{channel}:contact")
    return True


def delete_older_than(connection: Connection, cutoff: dt.datetime) -> int:
    """Delete conversations whose last activity is before `cutoff`; return how many."""
    result = connection.execute(delete(Conversation).where(Conversation.last_activity_at < cutoff))
    return int(result.rowcount)
