"""Cases and consultants for tests of the consultant side, made through the store's own
functions (a message stored as a channel stores it, a case opened as the engine opens it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Connection, update

from infoline.core.messages import Inbound
from infoline.core.policy import NORMAL
from infoline.handoff import consultants
from infoline.handoff.records import Consultant, Role
from infoline.store import mail
from infoline.store import repository as repo
from infoline.store.db import Database
from infoline.store.schema import Message

PASSWORD = "correct horse battery staple"


async def make_case(
    db: Database,
    text: str = "Потрібна допомога з документами",
    *,
    address: str | None = None,
    channel: str = "telegram",
    language: str | None = "uk",
    priority: int = NORMAL,
    reason: str = "request_human",
    topic: str | None = "request_human",
) -> int:
    """Store a user's message and open a case on its conversation; return the case id."""
    inbound = Inbound(
        channel=channel,
        address=address or f"user-{uuid.uuid4().hex[:8]}",
        external_id=uuid.uuid4().hex,
        text=text,
        display_name="Olena",
    )
    return await db.run(open_case_on, inbound, reason, priority, language, topic, 0.9)


def open_case_on(
    connection: Connection,
    inbound: Inbound,
    reason: str,
    priority: int,
    language: str | None,
    topic: str | None = None,
    confidence: float | None = None,
    files: Sequence[tuple[str, str, int, bytes | None]] = (),
) -> int:
    """Store a user's message with its files and open a case it belongs to, in one
    transaction; return the case id."""
    received, _ = repo.record_inbound(connection, inbound, 100_000)
    mail.add_attachments(connection, received.message_id, files)
    case_id = repo.new_case(
        connection,
        received.conversation_id,
        inbound.channel,
        reason,
        priority,
        language,
        topic,
        confidence,
    )
    connection.execute(
        update(Message).where(Message.id == received.message_id).values(case_id=case_id)
    )
    return case_id


async def make_consultant(
    db: Database,
    username: str,
    languages: Sequence[str] = ("uk",),
    role: Role = "consultant",
    available: bool = True,
) -> Consultant:
    """Add an account and set its availability."""
    await consultants.add(db, username, PASSWORD, languages=languages, role=role)
    return await consultants.set_availability(db, username, available)
