"""Telegram updates -> inbound records: what each kind of update means to the assistant.

Pure translation, no I/O. The bot works in private chats only: in a group it answers a
command or a mention with one notice and leaves the group's talk alone, unstored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatMemberStatus, ChatType

from infoline.core.messages import Attachment, Command, Inbound, Kind

CHANNEL = "telegram"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
COMMANDS: dict[str, Command] = {
    "start": "start",
    "help": "help",
    "language": "language",
    "human": "human",
    "forget": "forget",
}
# Button actions (callback data "name:value") that work like a command with an argument.
BUTTON_COMMANDS: dict[str, Command] = {
    "language": "language",
    "topic": "topic",
    "forget": "forget",
}


@dataclass(frozen=True, slots=True)
class GroupNotice:
    """A group spoke to the bot: tell it, once, that the bot answers in private only."""

    chat_id: int
    language_hint: str | None


def translate(update: Update, bot_username: str) -> Inbound | GroupNotice | None:
    """Return what the update means, or None when it means nothing to the assistant."""
    if update.callback_query is not None:
        return _button(update.callback_query)
    if update.my_chat_member is not None:
        member = update.my_chat_member
        joined = member.new_chat_member.status in (
            ChatMemberStatus.MEMBER,
            ChatMemberStatus.ADMINISTRATOR,
        )
        if member.chat.type != ChatType.PRIVATE and joined:
            return GroupNotice(member.chat.id, member.from_user.language_code)
        return None
    message = update.message or update.edited_message
    if message is None:
        return None
    if message.chat.type != ChatType.PRIVATE:
        if _addressed(message, bot_username):
            user = message.from_user
            return GroupNotice(message.chat.id, user.language_code if user else None)
        return None
    return _private(message, edited=update.edited_message is not None, bot_username=bot_username)


def _private(message: Message, edited: bool, bot_username: str) -> Inbound:
    user = message.from_user
    kind, attachments, details = _content(message)
    text = message.text or message.caption or ""
    command, argument = _command(message.text or "", bot_username)
    external_id = f"{message.chat.id}:{message.message_id}"
    details["message_id"] = message.message_id  # the answer quotes the question
    if edited:
        # An edit is a new message for the assistant (usually a corrected question).
        stamp = int(message.edit_date.timestamp()) if message.edit_date else 0
        external_id += f":edit:{stamp}"
        details["edited"] = True
    return Inbound(
        channel=CHANNEL,
        address=str(message.chat.id),
        external_id=external_id,
        text="" if command else text,
        kind=kind,
        language_hint=user.language_code if user else None,
        display_name=user.full_name if user else None,
        command=command,
        argument=argument,
        attachments=attachments,
        details=details,
    )


def _command(text: str, bot_username: str) -> tuple[Command | None, str | None]:
    """Read "/language pl" or "/help@InfolineBot"; an unknown command shows the help."""
    if not text.startswith("/"):
        return None, None
    word, _, rest = text.partition(" ")
    name, _, addressee = word[1:].partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None, None
    return COMMANDS.get(name.lower(), "help"), rest.strip().lower() or None


def _content(message: Message) -> tuple[Kind, tuple[Attachment, ...], dict[str, Any]]:
    """Name what arrived besides text, keeping what a consultant needs to fetch it."""
    if message.photo:
        largest = message.photo[-1]
        return _file("photo", largest.file_id, largest.file_size, "image/jpeg", None)
    if message.voice or message.audio:
        sound = message.voice or message.audio
        assert sound is not None
        return _file("voice", sound.file_id, sound.file_size, sound.mime_type, None)
    if message.video or message.video_note:
        video = message.video or message.video_note
        assert video is not None
        return _file("video", video.file_id, video.file_size, None, None)
    if message.document:
        doc = message.document
        return _file("document", doc.file_id, doc.file_size, doc.mime_type, doc.file_name)
    if message.sticker:
        return "sticker", (Attachment("sticker"),), {"emoji": message.sticker.emoji}
    if message.location or message.venue:
        place = message.location or (message.venue.location if message.venue else None)
        assert place is not None
        return "location", (), {"location": [place.latitude, place.longitude]}
    if message.text is not None:
        return "text", (), {}
    return "other", (), {}


def _file(
    kind: Kind, file_id: str, size: int | None, mime: str | None, name: str | None
) -> tuple[Kind, tuple[Attachment, ...], dict[str, Any]]:
    return kind, (Attachment(kind, name, size, mime),), {"file_ids": [file_id]}


def _button(query: CallbackQuery) -> Inbound | None:
    """A pressed button: feedback, a language, a topic or the erasure confirmation."""
    name, _, value = (query.data or "").partition(":")
    chat = query.message.chat.id if query.message is not None else query.from_user.id
    common: dict[str, Any] = {
        "channel": CHANNEL,
        "address": str(chat),
        "external_id": f"button:{query.id}",
        "language_hint": query.from_user.language_code,
        "display_name": query.from_user.full_name,
    }
    if name == "feedback" and value in ("yes", "no"):
        return Inbound(feedback=value == "yes", **common)
    if name in BUTTON_COMMANDS and value:
        return Inbound(command=BUTTON_COMMANDS[name], argument=value, **common)
    return None


def _addressed(message: Message, bot_username: str) -> bool:
    """Tell whether a group message is a command or mentions the bot by name."""
    text = message.text or ""
    return text.startswith("/") or f"@{bot_username}".lower() in text.lower()
