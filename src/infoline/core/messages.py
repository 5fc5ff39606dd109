"""Domain records that cross the boundary between channels and the dialogue engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# What arrived: text, or content the assistant cannot read.
Kind = Literal["text", "photo", "voice", "video", "document", "sticker", "location", "other"]
Command = Literal["start", "help", "language", "human", "forget", "topic"]
LANGUAGES = ("pl", "uk", "ru", "en")


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str
    name: str | None = None
    size: int | None = None
    mime: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a channel, as the adapter understood it."""

    channel: str
    address: str
    external_id: str
    text: str = ""
    kind: Kind = "text"
    language_hint: str | None = None
    display_name: str | None = None
    command: Command | None = None
    argument: str | None = None
    feedback: bool | None = None
    attachments: tuple[Attachment, ...] = ()
    no_reply: str | None = None  # why a robot's message must not be answered (auto-reply, ...)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str  # e.g. "feedback:yes", "language:uk"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for a channel to deliver."""

    outbox_id: int
    channel: str
    address: str
    text: str
    language: str
    buttons: tuple[Button, ...] = ()
    reply_to: dict[str, Any] = field(default_factory=dict)
    automatic: bool = True
