"""The frozen records the consultant side hands to the console."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from infoline.store.casework import HANDED_BACK as HANDED_BACK  # resolution of a hand-back

Role = Literal["consultant", "supervisor"]
Status = Literal["queued", "assigned", "waiting", "resolved"]
# Outbox states of an outgoing message, as the consultant sees them.
DeliveryStatus = Literal["pending", "sent", "failed"]
OTHER = "other"  # the resolution category for what no topic covers


@dataclass(frozen=True, slots=True)
class Consultant:
    """A console account, as it was when read."""

    id: int
    username: str
    display_name: str
    role: Role
    languages: tuple[str, ...]
    available: bool
    disabled: bool
    console_language: str
    created_at: dt.datetime

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def actor(self) -> str:
        """How the audit log names this consultant."""
        return f"consultant:{self.username}"

    def speaks(self, language: str | None) -> bool:
        """Tell whether the consultant can answer a case in `language` (None: unknown, yes)."""
        return language is None or language in self.languages or self.is_supervisor


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One line of the queue: enough to choose a case without opening it."""

    id: int
    conversation_id: int
    status: Status
    priority: int  # 0 urgent, 1 normal
    reason: str  # why the assistant opened it: emergency, request_human, low_confidence, ...
    channel: str  # telegram, email, ...
    language: str | None
    topic: str | None  # the assistant's guess
    confidence: float | None
    contact_name: str | None
    assignee: str | None  # user name
    assignee_name: str | None  # display name
    created_at: dt.datetime
    waiting_since: dt.datetime | None  # the user waits for a consultant since then
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolution: str | None
    revision: int
    preview: str  # the start of the user's latest message

    @property
    def urgent(self) -> bool:
        return self.priority == 0

    def takeable_by(self, consultant: Consultant) -> bool:
        """Tell whether the consultant may claim this case now (a queued one they speak)."""
        return (
            self.status == "queued" and not consultant.disabled and consultant.speaks(self.language)
        )

    def notifies(self, consultant: Consultant) -> bool:
        """Tell whether the console should alert this consultant: available and can take it."""
        return consultant.available and self.takeable_by(consultant)


@dataclass(frozen=True, slots=True)
class Queue:
    """What one consultant sees: their own open cases, the queued cases they can take, and
    (for supervisors) everybody else's open cases. Each urgent first, then longest waiting."""

    mine: tuple[CaseSummary, ...]
    queued: tuple[CaseSummary, ...]
    others: tuple[CaseSummary, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    """How far the outbox got with one outgoing message."""

    status: DeliveryStatus
    attempts: int
    last_error: str | None
    sent_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: int
    name: str
    mime: str
    size: int
    stored: bool  # False when only its name and size were kept (over the size limit)


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    name: str
    mime: str
    content: bytes


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One message of the conversation, in or out."""

    id: int
    direction: Literal["in", "out"]
    at: dt.datetime
    kind: str  # text, photo, voice, document, ...
    text: str | None  # None once erased
    language: str | None
    topic: str | None
    confidence: float | None
    case_id: int | None  # the case it joined (inbound) or answered (outbound)
    author: str | None  # outgoing: "assistant" or the consultant's user name
    delivery: Delivery | None  # outgoing only
    attachments: tuple[AttachmentInfo, ...]


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    author: str  # user name
    author_name: str
    text: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case opened in the console: its summary, the whole transcript, the notes."""

    case: CaseSummary
    contact_address: str  # the Telegram chat id or the e-mail address
    erased: bool  # the contact asked to be forgotten: no replies possible
    unreachable: bool  # the channel said the user cannot be reached (blocked the bot, ...)
    transcript: tuple[TranscriptEntry, ...]
    notes: tuple[Note, ...]
    other_cases: tuple[CaseSummary, ...]  # the conversation's earlier and later cases


@dataclass(frozen=True, slots=True)
class CannedAnswer:
    """A knowledge-base answer the console can insert into a reply and edit before sending."""

    topic: str
    title: str  # the topic's name in the answer's language
    text: str


@dataclass(frozen=True, slots=True)
class Changes:
    """The cases that changed after a revision, and the revision to ask from next time."""

    revision: int
    cases: tuple[CaseSummary, ...]
