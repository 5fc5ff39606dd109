"""The Telegram a test plays: users, chats, what they write, and what the bot did.

The test side is synchronous where it can be: creating users and putting updates in
returns at once (ids), so a test can play hundreds of users without awaiting each one.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import defaultdict
from dataclasses import dataclass

from tests.support.botapi import objects
from tests.support.botapi.methods import METHODS
from tests.support.botapi.objects import JSON, Chat, Person
from tests.support.botapi.protocol import (
    BLOCKED,
    CHAT_ID_EMPTY,
    CHAT_NOT_FOUND,
    NOT_STARTED,
    ApiError,
    Params,
    has_button,
)
from tests.support.botapi.records import Call, CallbackAnswer, ChatAction, Edit, Faults, Sent
from tests.support.botapi.updates import Broadcast, UpdateQueue, Webhook

BOT_ID = 7_000_000_001
FIRST_USER_ID = 500_000_001
FIRST_GROUP_ID = -400_000_001


@dataclass(frozen=True)
class OpenQuery:
    """A callback query the bot has not answered yet."""

    user_id: int
    time: float


class World:
    """Users, chats, updates and the records of the bot's calls; no HTTP (see BotApi)."""

    def __init__(
        self,
        *,
        first_update_id: int = 100_000_001,
        callback_timeout: float = 15.0,
        webhook_retry_delay: float = 0.05,
        webhook_timeout: float = 5.0,
    ) -> None:
        self.token = f"{BOT_ID}:AA{secrets.token_urlsafe(25)[:33]}"
        self.bot_user: JSON = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Infoline Test",
            "username": "infoline_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.bot_from: JSON = {
            key: self.bot_user[key] for key in ("id", "is_bot", "first_name", "username")
        }
        self.updates = UpdateQueue(first_update_id)
        self.webhook = Webhook(self.updates, webhook_retry_delay, webhook_timeout)
        self.callback_timeout = callback_timeout
        self.faults = Faults()
        self.people: dict[int, Person] = {}
        self.chats: dict[int, Chat] = {}
        self.queries: dict[str, OpenQuery] = {}
        self.sent: list[Sent] = []
        self.edits: list[Edit] = []
        self.deleted: list[tuple[int, int]] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.chat_actions: list[ChatAction] = []
        self.calls: list[Call] = []
        self.commands: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._sent_by_chat: defaultdict[int, list[Sent]] = defaultdict(list)
        self._outgoing = Broadcast()
        self._user_ids = itertools.count(FIRST_USER_ID)
        self._group_ids = itertools.count(FIRST_GROUP_ID, -1)
        self._query_ids = itertools.count(4_200_000_000_000_000_001, 7)

    # Users and chats

    def user(
        self,
        language_code: str | None = "uk",
        first_name: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
    ) -> int:
        """Create a user with a private chat; return the user id (= that chat's id)."""
        user_id = next(self._user_ids)
        person = Person(user_id, first_name or f"User{user_id}", last_name, username, language_code)
        self.people[user_id] = person
        self.chats[user_id] = Chat(person.private_chat())
        return user_id

    def group(self, title: str = "Test group") -> int:
        """Create a basic group with the bot in it; return its (negative) chat id."""
        chat_id = next(self._group_ids)
        self.chats[chat_id] = Chat(objects.group_chat(chat_id, title), started=True)
        return chat_id

    # Updates a test puts in; each returns the update_id.

    def send(
        self, user: int, text: str, *, chat: int | None = None, reply_to: int | None = None
    ) -> int:
        """The user writes text (commands in it get bot_command entities)."""
        content = objects.text_content(text, objects.command_entities(text))
        if reply_to is not None:
            content["reply_to_message"] = objects.quoted(
                self._chat(chat or user).messages[reply_to]
            )
        return self._inbound(user, chat, content)

    def command(self, user: int, name: str, args: str = "", *, chat: int | None = None) -> int:
        """The user sends /name (with args after a space, if any)."""
        command = name if name.startswith("/") else f"/{name}"
        return self.send(user, f"{command} {args}".rstrip(), chat=chat)

    def photo(
        self,
        user: int,
        *,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        chat: int | None = None,
    ) -> int:
        """The user sends a photo (three PhotoSize objects, smallest first)."""
        content = {"photo": objects.photo_sizes(width, height), **objects.caption(caption)}
        return self._inbound(user, chat, content)

    def voice(
        self, user: int, *, duration: int = 4, file_size: int = 16_000, chat: int | None = None
    ) -> int:
        """The user sends a voice message."""
        return self._inbound(user, chat, {"voice": objects.voice(duration, file_size)})

    def document(
        self,
        user: int,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        file_size: int = 48_000,
        *,
        caption: str | None = None,
        chat: int | None = None,
    ) -> int:
        """The user sends a file."""
        content = {
            "document": objects.document(file_name, mime_type, file_size),
            **objects.caption(caption),
        }
        return self._inbound(user, chat, content)

    def sticker(self, user: int, emoji: str = "👍", *, chat: int | None = None) -> int:
        """The user sends a sticker."""
        return self._inbound(user, chat, {"sticker": objects.sticker(emoji)})

    def location(
        self,
        user: int,
        latitude: float = 52.2297,
        longitude: float = 21.0122,
        *,
        chat: int | None = None,
    ) -> int:
        """The user shares a location (Warsaw by default)."""
        return self._inbound(user, chat, {"location": objects.location(latitude, longitude)})

    def edit(self, user: int, message_id: int, text: str, *, chat: int | None = None) -> int:
        """The user edits a text message of theirs (an edited_message update)."""
        target = self._chat(chat or user)
        old = target.messages[message_id]
        if old["from"]["id"] != user or "text" not in old:
            raise LookupError(f"message {message_id} in chat {target.id} is not a text of {user}")
        new = {key: value for key, value in old.items() if key != "entities"}
        new.update(objects.text_content(text, objects.command_entities(text)))
        new["edit_date"] = objects.now()
        target.messages[message_id] = new
        return self.updates.put("edited_message", new)

    def press(
        self, user: int, message_id: int, callback_data: str, *, chat: int | None = None
    ) -> int:
        """The user presses the inline button with callback_data under a bot's message."""
        person, target = self._person(user), self._chat(chat or user)
        message = target.messages.get(message_id)
        if message is None or not has_button(message, callback_data):
            raise LookupError(f"no button {callback_data!r} under message {message_id}")
        query_id = str(next(self._query_ids))
        self.queries[query_id] = OpenQuery(user, asyncio.get_running_loop().time())
        query = {
            "id": query_id,
            "from": person.json(),
            "message": message,
            "chat_instance": str(target.id * 7919 + BOT_ID),
            "data": callback_data,
        }
        return self.updates.put("callback_query", query)

    # Injected conditions

    def block(self, user: int) -> None:
        """The user blocks the bot: sends to the chat get 403 until the user writes again."""
        self._chat(user).blocked = True

    def rate_limit(self, count: int, retry_after: int, method: str = "sendMessage") -> None:
        """The next `count` calls of `method` get 429 with parameters.retry_after."""
        self.faults.rate_limit(self._method(method), count, retry_after)

    def fail(self, method: str, count: int = 1, status: int = 500) -> None:
        """The next `count` calls of `method` get a server error with this HTTP status."""
        self.faults.fail(self._method(method), count, status)

    # What a test observes

    @property
    def confirmed(self) -> int:
        """The highest update_id Telegram may forget (confirmed by offset or a webhook 2xx)."""
        return self.updates.confirmed

    def pending(self) -> list[JSON]:
        """The updates not yet confirmed, oldest first."""
        return self.updates.pending()

    def sent_to(self, chat: int) -> list[Sent]:
        """The messages the bot sent to one chat, in order."""
        return list(self._sent_by_chat.get(chat, ()))

    async def wait_sent(
        self,
        chat: int,
        count: int = 1,
        # Kept over asyncio.timeout: on expiry the error lists what the chat did receive.
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Sent]:
        """Wait until the bot has sent `count` messages to the chat; return them all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self._sent_by_chat.get(chat, ())) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                texts = [sent.text for sent in self.sent_to(chat)]
                raise TimeoutError(f"chat {chat}: {len(texts)} of {count} messages: {texts}")
            await self._outgoing.wait(remaining)
        return self.sent_to(chat)

    def message(self, chat: int, message_id: int) -> JSON | None:
        """A message as it is now (after edits), or None if deleted or never sent."""
        return self._chat(chat).messages.get(message_id)

    def visible_commands(self, user: int, chat: int | None = None) -> list[tuple[str, str]]:
        """The command list the user's app shows in a chat, found as the Bot API documents.

        The administrator scopes are not modelled: nobody is an administrator here.
        """
        language = (self._person(user).language_code or "")[:2]
        target = self._chat(chat or user)
        if target.private:
            scopes = [f"chat:{target.id}", "all_private_chats", "default"]
        else:
            scopes = [f"chat_member:{target.id}:{user}", f"chat:{target.id}", "all_group_chats"]
            scopes.append("default")
        for scope in scopes:
            for code in dict.fromkeys((language, "")):
                if (scope, code) in self.commands:
                    return self.commands[(scope, code)]
        return []

    # Used by the methods

    def chat_of(self, p: Params) -> Chat:
        """The chat named by the chat_id parameter."""
        if p.text("chat_id") in (None, ""):
            raise ApiError(400, CHAT_ID_EMPTY)
        try:
            chat_id = int(p.values["chat_id"])
        except ValueError:
            raise ApiError(400, CHAT_NOT_FOUND) from None  # @username: no public chats here
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, CHAT_NOT_FOUND)
        return chat

    def check_reachable(self, chat: Chat) -> None:
        """Refuse sending to a private chat that blocked the bot or never started it."""
        if chat.blocked:
            raise ApiError(403, BLOCKED)
        if not chat.started:
            raise ApiError(403, NOT_STARTED)

    def record_sent(self, sent: Sent) -> None:
        self.sent.append(sent)
        self._sent_by_chat[sent.chat_id].append(sent)
        self._outgoing.notify()

    def record_edit(self, method: str, message: JSON, text: str | None, mode: str | None) -> None:
        loop_time = asyncio.get_running_loop().time()
        markup = message.get("reply_markup")
        chat_id = message["chat"]["id"]
        self.edits.append(
            Edit(method, chat_id, message["message_id"], text, mode, markup, loop_time)
        )

    def _inbound(self, user: int, chat: int | None, content: JSON) -> int:
        person, target = self._person(user), self._chat(chat or user)
        if target.private:
            # Writing to a bot starts the chat, and a user who blocked it must unblock first.
            target.started, target.blocked = True, False
        return self.updates.put("message", target.add(person.json(), content))

    def _person(self, user: int) -> Person:
        if user not in self.people:
            raise LookupError(f"no user {user}: create one with user()")
        return self.people[user]

    def _chat(self, chat: int) -> Chat:
        if chat not in self.chats:
            raise LookupError(f"no chat {chat}")
        return self.chats[chat]

    @staticmethod
    def _method(name: str) -> str:
        if name not in METHODS:
            raise KeyError(f"the double does not implement {name}")
        return name
