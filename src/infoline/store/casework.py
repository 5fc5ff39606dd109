"""Case changes that both the dialogue engine and the consultant side make.

The engine reopens cases and hands the user's new messages to them; consultants answer
them. Both go through these functions, so that a case's state, its revision and the
audit log change the same way whoever changes them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from infoline.store import repository as repo
from infoline.store.db import now
from infoline.store.schema import Case, ConsultantAccount, Contact, Conversation, Message

HANDED_BACK = "handed_back"  # the resolution of a case given back to the assistant


async def user_wrote(session: AsyncSession, case: Case) -> None:
    """Note that the user wrote to an open case: it needs its consultant again."""
    if case.status == "waiting":
        case.status = "assigned"
    if case.waiting_since is None:
        case.waiting_since = now()
    await repo.tick(session, case)


async def reopenable_case(
    session: AsyncSession, conversation_id: int, since: dt.datetime
) -> Case | None:
    """Return the conversation's last case if a consultant resolved it after `since`."""
    case = await session.scalar(
        select(Case)
        .where(Case.conversation_id == conversation_id)
        .order_by(Case.id.desc())
        .limit(1)
    )
    if (
        case is None
        or case.status != "resolved"
        or case.resolution == HANDED_BACK
        or case.resolved_at is None
        or case.resolved_at <= since
    ):
        return None
    return case


async def reopen(session: AsyncSession, case: Case) -> None:
    """Open a resolved case again: back to its consultant if at work, else to the queue."""
    owner = (
        await session.get(ConsultantAccount, case.assignee_id)
        if case.assignee_id is not None
        else None
    )
    back_to_owner = owner is not None and owner.available and not owner.disabled
    case.status = "assigned" if back_to_owner else "queued"
    if not back_to_owner:
        case.assignee_id = None
    case.resolved_at = None
    case.resolution = None
    case.waiting_since = now()
    await repo.tick(session, case)
    await repo.audit(session, "assistant", "case_reopened", f"case:{case.id}", status=case.status)


async def any_available(session: AsyncSession, language: str | None) -> bool:
    """Tell whether an active, available consultant can answer a case in `language` now."""
    accounts = await session.scalars(
        select(ConsultantAccount).where(
            ConsultantAccount.available.is_(True), ConsultantAccount.disabled.is_(False)
        )
    )
    return any(
        account.role == "supervisor" or language is None or language in account.languages.split(",")
        for account in accounts
    )


async def queue_consultant_reply(
    session: AsyncSession, conversation_id: int, text: str, actor: str, fallback_language: str
) -> Message:
    """Queue a consultant's answer on the conversation's channel, threaded on the user's
    last message; the open case, if any, now waits for the user.

    Raise LookupError when the contact was erased.
    """
    conversation = await repo.lock_conversation(session, conversation_id)
    contact = await repo.contact_of(session, conversation)
    if contact.erased:
        raise LookupError(f"conversation {conversation_id} was erased")
    language = conversation.last_language or fallback_language
    last = await repo.last_inbound(session, conversation_id)
    details = {
        "automatic": False,
        "consultant": actor,
        "reply_to": dict(last.details or {}) if last is not None else {},
    }
    to = (contact.channel, contact.address)
    message = await repo.add_outbound(session, conversation_id, to, text, language, details)
    case = await repo.open_case(session, conversation_id)
    if case is not None:
        message.case_id = case.id
        moment = now()
        case.first_response_at = case.first_response_at or moment
        case.status = "waiting"
        case.waiting_since = None
        await repo.tick(session, case)
    await repo.audit(
        session,
        actor,
        "consultant_replied",
        f"conversation:{conversation_id}",
        case=case.id if case is not None else None,
        message=message.id,
    )
    return message


async def release_cases_of(session: AsyncSession, consultant_id: int, actor: str) -> int:
    """Put a consultant's open cases back in the queue (when disabled); return how many."""
    cases = (
        await session.scalars(
            select(Case).where(
                Case.assignee_id == consultant_id, Case.status.in_(("assigned", "waiting"))
            )
        )
    ).all()
    for case in cases:
        case.status = "queued"
        case.assignee_id = None
        case.waiting_since = case.waiting_since or now()
        await repo.tick(session, case)
        await repo.audit(session, actor, "case_released", f"case:{case.id}")
    return len(cases)


async def notice_conversation(session: AsyncSession, channel: str, address: str) -> int:
    """Return the conversation that carries notices to a staff address (the duty address),
    creating its contact and conversation the first time."""
    contact = await session.scalar(
        select(Contact).where(Contact.channel == channel, Contact.address == address)
    )
    moment = now()
    if contact is None:
        contact = Contact(channel=channel, address=address, created_at=moment)
        session.add(contact)
        await session.flush()
    conversation_id = await session.scalar(
        select(Conversation.id)
        .where(Conversation.contact_id == contact.id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if conversation_id is None:
        conversation = Conversation(
            contact_id=contact.id, created_at=moment, last_activity_at=moment
        )
        session.add(conversation)
        await session.flush()
        conversation_id = conversation.id
    else:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_activity_at=moment)
        )
    return conversation_id
