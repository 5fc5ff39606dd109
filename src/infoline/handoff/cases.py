"""The case desk: the queue, a case's view, and what a consultant does with a case.

Every view of a case and every action is written to the audit log. Claiming is one
conditional UPDATE (`... WHERE status = 'queued'`), so that of any number of consultants
claiming at once exactly one gets the case. Actions that change a case lock its
conversation first, as the engine does, so that a user's message and a consultant's
action never cross (a message cannot join a case being resolved at that moment).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import ColumnElement, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from infoline.core.i18n import Catalogs
from infoline.core.kb import Contacts, KnowledgeBase
from infoline.core.strings import TOPIC_NAMES
from infoline.core.topics import Topics
from infoline.handoff.errors import (
    CaseClosed,
    CaseNotFound,
    InvalidInput,
    NotAllowed,
    UnknownConsultant,
)
from infoline.handoff.records import (
    HANDED_BACK,
    OTHER,
    AttachmentFile,
    AttachmentInfo,
    CannedAnswer,
    CaseSummary,
    CaseView,
    Changes,
    Consultant,
    Delivery,
    Note,
    Queue,
    TranscriptEntry,
)
from infoline.store import casework, conversations
from infoline.store import repository as repo
from infoline.store.db import Database, in_session, now
from infoline.store.repository import OPEN_CASE_STATES
from infoline.store.schema import (
    Case,
    CaseClock,
    CaseNote,
    ConsultantAccount,
    Contact,
    Conversation,
    Message,
    Outbox,
    StoredAttachment,
)

PREVIEW_CHARS = 200
MAX_NOTE_CHARS = 10_000
MAX_REPLY_CHARS = 20_000


class CaseDesk:
    """What the console calls; every method opens its own transaction."""

    def __init__(
        self,
        database: Database,
        topics: Topics,
        kb: KnowledgeBase,
        contacts: Contacts,
        catalogs: Catalogs,
        default_language: str,
        outbox_wake: asyncio.Event | None = None,
    ) -> None:
        self._db = database
        self._topics = topics
        self._kb = kb
        self._contacts = contacts
        self._catalogs = catalogs
        self._default_language = default_language
        self._outbox_wake = outbox_wake

    async def queue_for(self, consultant: Consultant) -> Queue:
        """Return the consultant's own open cases, the queued cases they can take, and for
        a supervisor everybody else's open cases; urgent first, then longest waiting."""
        async with self._db.transaction() as session:
            rows = await _summaries(session, Case.status.in_(OPEN_CASE_STATES))
        mine = tuple(c for c in rows if c.assignee == consultant.username)
        queued = tuple(c for c in rows if c.takeable_by(consultant))
        others = tuple(
            c
            for c in rows
            if consultant.is_supervisor
            and c.status != "queued"
            and c.assignee != consultant.username
        )
        return Queue(mine, queued, others)

    async def case_view(self, case_id: int, consultant: Consultant) -> CaseView:
        """Return a case with the whole conversation, delivery states and notes (audited)."""
        async with self._db.transaction() as session:
            await _active(session, consultant)
            found = await _summaries(session, Case.id == case_id)
            if not found:
                raise CaseNotFound(f"There is no case {case_id}.")
            summary = found[0]
            contact = await session.scalar(
                select(Contact)
                .join(Conversation, Conversation.contact_id == Contact.id)
                .where(Conversation.id == summary.conversation_id)
            )
            assert contact is not None  # a conversation always has its contact
            others = await _summaries(
                session, Case.conversation_id == summary.conversation_id, Case.id != case_id
            )
            view = CaseView(
                case=summary,
                contact_address=contact.address,
                erased=contact.erased,
                unreachable=contact.unreachable,
                transcript=await _transcript(session, summary.conversation_id),
                notes=await _notes(session, case_id),
                other_cases=tuple(sorted(others, key=lambda c: c.id)),
            )
            await in_session(
                session, repo.audit, consultant.actor, "case_viewed", f"case:{case_id}"
            )
        return view

    async def attachment(self, attachment_id: int, consultant: Consultant) -> AttachmentFile:
        """Return a stored attachment's content (audited); CaseNotFound when it has none."""
        async with self._db.transaction() as session:
            await _active(session, consultant)
            row = await session.get(StoredAttachment, attachment_id)
            if row is None or row.content is None:
                raise CaseNotFound(f"There is no stored attachment {attachment_id}.")
            await in_session(
                session,
                repo.audit,
                consultant.actor,
                "attachment_viewed",
                f"attachment:{attachment_id}",
            )
            return AttachmentFile(row.name, row.mime, row.content)

    async def claim(self, case_id: int, consultant: Consultant) -> bool:
        """Take a queued case; False when it is no longer queued (someone else was faster)
        or the consultant cannot take it (another language, disabled)."""
        language_fits = (
            Case.language.is_(None) | Case.language.in_(consultant.languages)
            if not consultant.is_supervisor
            else true()
        )
        active = (
            select(ConsultantAccount.id)
            .where(ConsultantAccount.id == consultant.id, ConsultantAccount.disabled.is_(False))
            .exists()
        )
        async with self._db.transaction() as session:
            # One statement decides: the row's own lock makes every other claim see the
            # case assigned and update nothing.
            result = await session.execute(
                update(Case)
                .where(Case.id == case_id, Case.status == "queued", language_fits, active)
                .values(status="assigned", assignee_id=consultant.id)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            case = await session.get(Case, case_id)
            assert case is not None
            case.revision = await in_session(session, repo.tick)
            await in_session(
                session, repo.audit, consultant.actor, "case_claimed", f"case:{case_id}"
            )
        return True

    async def reply(self, case_id: int, consultant: Consultant, text: str) -> int:
        """Send an answer on the case's channel through the outbox; return its message id.

        Only the case's consultant may answer, and only while the case is open.
        """
        text = _written(text, "reply", MAX_REPLY_CHARS)
        async with self._db.transaction() as session:
            case = await self._owned(session, case_id, consultant)
            try:
                queued = await in_session(
                    session,
                    casework.queue_consultant_reply,
                    case.conversation_id,
                    text,
                    consultant.actor,
                    case.language or self._default_language,
                )
            except LookupError as err:
                raise CaseClosed(
                    "The user asked to be forgotten; no reply can reach them."
                ) from err
            message_id = queued.message_id
        if self._outbox_wake is not None:
            self._outbox_wake.set()
        return message_id

    async def note(self, case_id: int, consultant: Consultant, text: str) -> int:
        """Add an internal note (never sent to the user); any active consultant may."""
        text = _written(text, "note", MAX_NOTE_CHARS)
        async with self._db.transaction() as session:
            await _active(session, consultant)
            case = await _locked_case(session, case_id)
            note = CaseNote(
                case_id=case_id,
                author_id=consultant.id,
                text=repo.clean_text(text, MAX_NOTE_CHARS),
                created_at=now(),
            )
            session.add(note)
            await session.flush()
            case.revision = await in_session(session, repo.tick)
            await in_session(
                session, repo.audit, consultant.actor, "case_noted", f"case:{case_id}", note=note.id
            )
            return note.id

    async def transfer(self, case_id: int, consultant: Consultant, to: str | None) -> None:
        """Give an open case to another active consultant, or back to the queue (`to` None).

        The case's consultant may, and any supervisor.
        """
        async with self._db.transaction() as session:
            case = await self._changeable(session, case_id, consultant)
            target = None
            if to is not None:
                target = await session.scalar(
                    select(ConsultantAccount).where(ConsultantAccount.username == to)
                )
                if target is None or target.disabled:
                    raise UnknownConsultant(f"There is no active consultant {to!r}.")
            if target is None:
                case.status, case.assignee_id = "queued", None
            else:
                case.assignee_id = target.id
                case.status = "assigned" if case.status == "queued" else case.status
            case.revision = await in_session(session, repo.tick)
            await in_session(
                session, repo.audit, consultant.actor, "case_transferred", f"case:{case_id}", to=to
            )

    async def hand_back(self, case_id: int, consultant: Consultant) -> None:
        """Close the case and let the assistant answer the user again (never reopened)."""
        async with self._db.transaction() as session:
            case = await self._changeable(session, case_id, consultant)
            conversation = await session.get(Conversation, case.conversation_id)
            assert conversation is not None
            # The assistant starts afresh: no rephrasing count, no question pending.
            conversation.low_confidence_turns = 0
            conversation.awaiting_feedback = None
            await _close(session, case, HANDED_BACK)
            await in_session(
                session, repo.audit, consultant.actor, "case_handed_back", f"case:{case_id}"
            )

    async def resolve(self, case_id: int, consultant: Consultant, resolution: str) -> None:
        """Close the case with a category: a topic id or "other" (see `resolutions`)."""
        if resolution not in self.resolutions():
            raise InvalidInput(f"a resolution is a topic id or {OTHER!r}; got {resolution!r}")
        async with self._db.transaction() as session:
            case = await self._changeable(session, case_id, consultant)
            await _close(session, case, resolution)
            await in_session(
                session,
                repo.audit,
                consultant.actor,
                "case_resolved",
                f"case:{case_id}",
                resolution=resolution,
            )

    async def changes_since(self, revision: int) -> Changes:
        """Return the cases changed after `revision` and the revision to ask from next.

        Cheap when nothing changed (one indexed query); works across processes, since
        revisions come from the database. Start with 0, or with `current_revision()`.
        """
        async with self._db.transaction() as session:
            current = int(await session.scalar(select(CaseClock.revision)) or 0)
            if current <= revision:
                return Changes(current, ())
            changed = await _summaries(session, Case.revision > revision)
        return Changes(current, changed)

    async def current_revision(self) -> int:
        """Return the case clock: the revision of the latest change to any case."""
        async with self._db.transaction() as session:
            return int(await session.scalar(select(CaseClock.revision)) or 0)

    def resolutions(self) -> tuple[str, ...]:
        """The resolution categories: every topic id, then "other"."""
        return (*self._topics.ids(), OTHER)

    def canned_answers(self, language: str) -> tuple[CannedAnswer, ...]:
        """The knowledge base's answers in `language`, to insert and edit before sending."""
        text = self._catalogs.text
        return tuple(
            CannedAnswer(
                topic,
                text(language, TOPIC_NAMES[topic]) if topic in TOPIC_NAMES else topic,
                self._kb.answer(topic, language, self._contacts),
            )
            for topic in self._topics.with_answers()
            if topic in self._kb.entries
        )

    async def _owned(self, session: AsyncSession, case_id: int, consultant: Consultant) -> Case:
        """Lock an open case that the consultant holds."""
        await _active(session, consultant)
        case = await _locked_case(session, case_id)
        if case.status == "resolved":
            raise CaseClosed(f"Case {case_id} is resolved.")
        if case.assignee_id != consultant.id:
            raise NotAllowed(f"Case {case_id} is not yours; claim it first.")
        return case

    async def _changeable(
        self, session: AsyncSession, case_id: int, consultant: Consultant
    ) -> Case:
        """Lock an open case that the consultant holds, or any open case for a supervisor."""
        account = await _active(session, consultant)
        case = await _locked_case(session, case_id)
        if case.status == "resolved":
            raise CaseClosed(f"Case {case_id} is resolved.")
        if case.assignee_id != consultant.id and account.role != "supervisor":
            raise NotAllowed(f"Case {case_id} is not yours.")
        return case


async def _active(session: AsyncSession, consultant: Consultant) -> ConsultantAccount:
    """Return the consultant's account as stored now; refuse a disabled one."""
    account = await session.get(ConsultantAccount, consultant.id)
    if account is None or account.disabled:
        raise NotAllowed(f"Consultant {consultant.username!r} is disabled.")
    return account


async def _locked_case(session: AsyncSession, case_id: int) -> Case:
    """Lock the case's conversation (as the engine does), then return the case."""
    conversation_id = await session.scalar(select(Case.conversation_id).where(Case.id == case_id))
    if conversation_id is None:
        raise CaseNotFound(f"There is no case {case_id}.")
    await in_session(session, conversations.lock_conversation, conversation_id)
    case = await session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise CaseNotFound(f"There is no case {case_id}.")
    return case


async def _close(session: AsyncSession, case: Case, resolution: str) -> None:
    case.status = "resolved"
    case.resolution = resolution
    case.resolved_at = now()
    case.waiting_since = None
    case.revision = await in_session(session, repo.tick)


async def _summaries(session: AsyncSession, *where: ColumnElement[bool]) -> tuple[CaseSummary, ...]:
    """Return summaries of the cases matching `where`, urgent first, then longest waiting."""
    latest = (
        select(Message.text)
        .where(Message.conversation_id == Case.conversation_id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(1)
        .correlate(Case)
        .scalar_subquery()
    )
    assignee = aliased(ConsultantAccount)
    rows = await session.execute(
        select(Case, Contact.display_name, assignee.username, assignee.display_name, latest)
        .join(Conversation, Conversation.id == Case.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(assignee, assignee.id == Case.assignee_id)
        .where(*where)
        .order_by(
            Case.priority,
            Case.waiting_since.is_(None),
            Case.waiting_since,
            Case.created_at,
            Case.id,
        )
    )
    return tuple(
        _summary(case, contact_name, username, name, text)
        for case, contact_name, username, name, text in rows
    )


def _summary(
    case: Case,
    contact_name: str | None,
    assignee: str | None,
    assignee_name: str | None,
    text: str | None,
) -> CaseSummary:
    return CaseSummary(
        id=case.id,
        conversation_id=case.conversation_id,
        status=case.status,  # type: ignore[arg-type]
        priority=case.priority,
        reason=case.reason,
        channel=case.channel,
        language=case.language,
        topic=case.topic,
        confidence=case.confidence,
        contact_name=contact_name,
        assignee=assignee,
        assignee_name=assignee_name,
        created_at=case.created_at,
        waiting_since=case.waiting_since,
        first_response_at=case.first_response_at,
        resolved_at=case.resolved_at,
        resolution=case.resolution,
        revision=case.revision,
        preview=(text or "")[:PREVIEW_CHARS],
    )


async def _transcript(session: AsyncSession, conversation_id: int) -> tuple[TranscriptEntry, ...]:
    rows = (
        await session.execute(
            select(Message, Outbox)
            .outerjoin(Outbox, Outbox.message_id == Message.id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id)
        )
    ).all()
    files: dict[int, list[AttachmentInfo]] = {}
    ids = [message.id for message, _ in rows]
    for row in await session.scalars(
        select(StoredAttachment)
        .where(StoredAttachment.message_id.in_(ids))
        .order_by(StoredAttachment.id)
    ):
        files.setdefault(row.message_id, []).append(
            AttachmentInfo(row.id, row.name, row.mime, row.size, row.content is not None)
        )
    return tuple(_entry(message, outbox, files.get(message.id, ())) for message, outbox in rows)


def _entry(
    message: Message, outbox: Outbox | None, files: Sequence[AttachmentInfo]
) -> TranscriptEntry:
    details = message.details or {}
    outgoing = message.direction == "out"
    author = None
    if outgoing:
        consultant = details.get("consultant")
        author = str(consultant).removeprefix("consultant:") if consultant else "assistant"
    return TranscriptEntry(
        id=message.id,
        direction="out" if outgoing else "in",
        at=message.created_at,
        kind=message.kind,
        text=message.text,
        language=message.language,
        topic=message.topic,
        confidence=message.confidence,
        case_id=message.case_id,
        author=author,
        delivery=(
            Delivery(outbox.status, outbox.attempts, outbox.last_error, outbox.sent_at)  # type: ignore[arg-type]
            if outbox is not None
            else None
        ),
        attachments=tuple(files),
    )


async def _notes(session: AsyncSession, case_id: int) -> tuple[Note, ...]:
    rows = await session.execute(
        select(CaseNote, ConsultantAccount.username, ConsultantAccount.display_name)
        .join(ConsultantAccount, ConsultantAccount.id == CaseNote.author_id)
        .where(CaseNote.case_id == case_id)
        .order_by(CaseNote.id)
    )
    return tuple(
        Note(note.id, username, name, note.text, note.created_at) for note, username, name in rows
    )


def _written(text: str, what: str, limit: int) -> str:
    """Return a consultant's text without outer blanks; refuse it empty or too long."""
    text = text.strip()
    if not text:
        raise InvalidInput(f"the {what} is empty")
    if len(text) > limit:
        raise InvalidInput(f"a {what} has at most {limit} characters")
    return text
