"""Bot API objects as Telegram sends them: users, chats, messages and the files they carry.

Every builder returns the JSON dict of https://core.telegram.org/bots/api#available-types
(User, Chat, Message, MessageEntity, PhotoSize, Voice, Document, Sticker, Location) with the
fields Telegram fills in and without the optional ones it leaves out.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.botapi.html import utf16_len

JSON = dict[str, Any]

# Telegram marks a bot command where a word starts with '/'; in groups it may name the bot.
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")


def now() -> int:
    """Unix time in seconds, the unit of every Bot API date."""
    return int(time.time())


@dataclass
class Person:
    """A Telegram user a test plays; the id is also the id of the private chat with the bot."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def json(self) -> JSON:
        """The User object of this person."""
        return _without_none(
            id=self.id,
            is_bot=False,
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
            language_code=self.language_code,
        )

    def private_chat(self) -> JSON:
        """The Chat object of this person's private chat with the bot."""
        return _without_none(
            id=self.id,
            type="private",
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
        )


def group_chat(chat_id: int, title: str) -> JSON:
    """The Chat object of a basic group (negative id)."""
    return {"id": chat_id, "type": "group", "title": title}


@dataclass
class Chat:
    """A chat and the messages in it, numbered by the chat's own message id counter."""

    json: JSON
    messages: dict[int, JSON] = field(default_factory=dict)
    last_message_id: int = 0
    # A private chat reaches the bot only after the user wrote to it (or pressed Start).
    started: bool = False
    blocked: bool = False

    @property
    def id(self) -> int:
        return int(self.json["id"])

    @property
    def private(self) -> bool:
        return bool(self.json["type"] == "private")

    def add(self, sender: JSON, content: JSON) -> JSON:
        """Store a new message from `sender` with `content` (text, photo, ...) and return it."""
        self.last_message_id += 1
        message = {
            "message_id": self.last_message_id,
            "from": sender,
            "chat": self.json,
            "date": now(),
            **content,
        }
        self.messages[self.last_message_id] = message
        return message


def text_content(text: str, entities: list[JSON] | None = None) -> JSON:
    """The text part of a Message: `text` and, when there are any, `entities`."""
    content: JSON = {"text": text}
    if entities:
        content["entities"] = entities
    return content


def command_entities(text: str) -> list[JSON]:
    """The bot_command entities Telegram puts on a user's text."""
    entities = []
    for match in _COMMAND.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return entities


def quoted(message: JSON) -> JSON:
    """A message as it appears in reply_to_message (Telegram nests one level only)."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def _file_ids() -> JSON:
    # file_id may be reused to send the file again; file_unique_id names the file itself.
    return {"file_id": secrets.token_urlsafe(36), "file_unique_id": secrets.token_urlsafe(12)}


def photo_sizes(width: int, height: int) -> list[JSON]:
    """The sizes Telegram makes of one photo: two thumbnails and the photo, smallest first."""
    sizes = []
    for side in (90, 320, max(width, height)):
        scale = min(1.0, side / max(width, height))
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        sizes.append({**_file_ids(), "width": w, "height": h, "file_size": w * h // 8})
    return sizes


def voice(duration: int, file_size: int) -> JSON:
    """A Voice object (an OGG/Opus recording)."""
    return {**_file_ids(), "duration": duration, "mime_type": "audio/ogg", "file_size": file_size}


def document(file_name: str, mime_type: str, file_size: int) -> JSON:
    """A Document object."""
    return {**_file_ids(), "file_name": file_name, "mime_type": mime_type, "file_size": file_size}


def sticker(emoji: str) -> JSON:
    """A regular static Sticker object from a sticker set."""
    return {
        **_file_ids(),
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
        "set_name": "TestStickers",
        "file_size": 20480,
    }


def location(latitude: float, longitude: float) -> JSON:
    """A Location object."""
    return {"latitude": latitude, "longitude": longitude}


def caption(text: str | None) -> JSON:
    """The caption part of a media message (with its command entities, as Telegram adds)."""
    if not text:
        return {}
    content: JSON = {"caption": text}
    entities = command_entities(text)
    if entities:
        content["caption_entities"] = entities
    return content


def _without_none(**fields: Any) -> JSON:
    return {key: value for key, value in fields.items() if value is not None}
