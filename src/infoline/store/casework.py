"""Case changes that both the dialogue engine and the consultant side make.

The engine reopens cases and hands the user's new messages to them; consultants answer
them. Both go through these functions, so that a case's state, its revision and the
audit log change the same way whoever changes them. Like the repository's, they are
synchronous Core statements on the Connection of a transaction: the engine's
(`Database.run`) or a consultant's ORM session's (`in_session`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, case, exists, func, insert, select, update

from infoline.store import conversations
from infoline.store import outbox as rows
from infoline.store import repository as repo
from infoline.store.db import now
from infoline.store.repository import HANDED_BACK as HANDED_BACK
from infoline.store.schema import Case, ConsultantAccount, Contact, Conversation

# (An UPDATE's bind names must differ from its table's column names.)
_USER_WROTE = (
    update(Case)
    .where(Case.id == bindparam("case"))
    .values(
        status=case((Case.status == "waiting", "assigned"), else_=Case.status),
        waiting_since=func.coalesce(Case.waiting_since, bindparam("moment")),
    )
)


def user_wrote(connection: Connection, case_id: int) -> None:
    """Note that the user wrote to an open case: it needs its consultant again."""
    connection.execute(_USER_WROTE, {"case": case_id, "moment": now()})
    repo.stamp(connection, case_id)


_OWNER_AT_WORK = exists().where(
    ConsultantAccount.id == Case.assignee_id,
    ConsultantAccount.available.is_(True),
    ConsultantAccount.disabled.is_(False),
)
_REOPEN = (
    update(Case)
    .where(Case.id == bindparam("case"))
    .values(
        status=case((_OWNER_AT_WORK, "assigned"), else_="queued"),
        assignee_id=case((_OWNER_AT_WORK, Case.assignee_id), else_=None),
        resolved_at=None,
        resolution=None,
        waiting_since=bindparam("moment"),
    )
    .returning(Case.status, Case.priority)
)


def reopen(connection: Connection, case_id: int) -> int:
    """Open a resolved case again: back to its consultant if at work, else to the queue;
    return its priority."""
    row = connection.execute(_REOPEN, {"case": case_id, "moment": now()}).one()
    repo.stamp(connection, case_id)
    repo.audit(connection, "assistant", "case_reopened", f"case:{case_id}", status=row.status)
    return int(row.priority)


_FACTS = select(Case.channel, Case.language).where(Case.id == bindparam("case"))


def case_facts(connection: Connection, case_id: int) -> tuple[str, str | None]:
    """Return a case's channel and language (what a notice about it says)."""
    row = connection.execute(_FACTS, {"case": case_id}).one()
    return row.channel, row.language


_AVAILABLE = select(ConsultantAccount.role, ConsultantAccount.languages).where(
    ConsultantAccount.available.is_(True), ConsultantAccount.disabled.is_(False)
)


def any_available(connection: Connection, language: str | None) -> bool:
    """Tell whether an active, available consultant can answer a case in `language` now."""
    return any(
        row.role == "supervisor" or language is None or language in row.languages.split(",")
        for row in connection.execute(_AVAILABLE)
    )


@dataclass(frozen=True, slots=True)
class QueuedReply:
    """A consultant's answer in the outbox, as a channel will deliver it."""

    message_id: int
    outbox_id: int
    channel: str
    address: str
    draft: rows.Draft
    lease_until: dt.datetime | None


_ANSWERED = (
    update(Case)
    .where(Case.id == bindparam("case"))
    .values(
        first_response_at=func.coalesce(Case.first_response_at, bindparam("moment")),
        status="waiting",
        waiting_since=None,
    )
)


def queue_consultant_reply(
    connection: Connection,
    conversation_id: int,
    text: str,
    actor: str,
    fallback_language: str,
    lease: Callable[[str, dt.datetime], dt.datetime | None] | None = None,
) -> QueuedReply:
    """Queue a consultant's answer on the conversation's channel, threaded on the user's
    last message; the open case, if any, now waits for the user. `lease` says until when
    a row for a channel is leased to the caller's own dispatcher (None: not leased).

    Raise LookupError when the contact was erased.
    """
    situation = conversations.lock_conversation(connection, conversation_id)
    if situation.erased:
        raise LookupError(f"conversation {conversation_id} was erased")
    moment = now()
    details: dict[str, Any] = {
        "automatic": False,
        "consultant": actor,
        "reply_to": repo.last_inbound_details(connection, conversation_id),
    }
    language = situation.last_language or fallback_language
    draft = rows.Draft(text, language, details, situation.case_id)
    channel, address = situation.channel, situation.address
    lease_until = lease(channel, moment) if lease is not None else None
    [queued] = rows.add_outbound(
        connection, conversation_id, channel, address, [draft], moment, lease_until
    )
    if situation.case_id is not None:
        connection.execute(_ANSWERED, {"case": situation.case_id, "moment": moment})
        repo.stamp(connection, situation.case_id)
    repo.audit(
        connection,
        actor,
        "consultant_replied",
        f"conversation:{conversation_id}",
        case=situation.case_id,
        message=queued.message_id,
    )
    return QueuedReply(queued.message_id, queued.outbox_id, channel, address, draft, lease_until)


_HELD_BY = select(Case.id).where(
    Case.assignee_id == bindparam("consultant"), Case.status.in_(("assigned", "waiting"))
)
_RELEASE = (
    update(Case)
    .where(Case.id == bindparam("case"))
    .values(
        status="queued",
        assignee_id=None,
        waiting_since=func.coalesce(Case.waiting_since, bindparam("moment")),
    )
)


def release_cases_of(connection: Connection, consultant_id: int, actor: str) -> int:
    """Put a consultant's open cases back in the queue (when disabled); return how many."""
    case_ids = list(connection.scalars(_HELD_BY, {"consultant": consultant_id}))
    for case_id in case_ids:
        connection.execute(_RELEASE, {"case": case_id, "moment": now()})
        repo.stamp(connection, case_id)
        repo.audit(connection, actor, "case_released", f"case:{case_id}")
    return len(case_ids)


_NOTICE_CONTACT = select(Contact.id).where(
    Contact.channel == bindparam("channel"), Contact.address == bindparam("address")
)
_LAST_CONVERSATION = select(func.max(Conversation.id)).where(
    Conversation.contact_id == bindparam("contact")
)


def notice_conversation(connection: Connection, channel: str, address: str) -> int:
    """Return the conversation that carries notices to a staff address (the duty address),
    creating its contact and conversation the first time."""
    moment = now()
    contact_id = connection.scalar(_NOTICE_CONTACT, {"channel": channel, "address": address})
    if contact_id is None:
        contact_id = connection.execute(
            insert(Contact).returning(Contact.id),
            {"channel": channel, "address": address, "created_at": moment},
        ).scalar_one()
    conversation_id = connection.scalar(_LAST_CONVERSATION, {"contact": contact_id})
    if conversation_id is None:
        return int(
            connection.execute(
                insert(Conversation).returning(Conversation.id),
                {"contact_id": contact_id, "created_at": moment, "last_activity_at": moment},
            ).scalar_one()
        )
    connection.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_activity_at=moment)
    )
    return int(conversation_id)
