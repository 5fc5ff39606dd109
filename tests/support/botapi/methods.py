"""The Bot API methods the double answers, each as https://core.telegram.org/bots/api says.

Every method takes the simulated Telegram (World) and the request's Params and returns the
documented result object, or raises ApiError with the Bot API's description.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tests.support.botapi.objects import Chat, now, quoted, text_content
from tests.support.botapi.protocol import (
    BAD_MARKUP,
    CANT_EDIT,
    DELETE_NOT_FOUND,
    EDIT_NOT_FOUND,
    NO_MESSAGE_ID,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    REPLY_NOT_FOUND,
    WEBHOOK_ACTIVE,
    ApiError,
    Params,
    message_text,
    reply_markup,
)
from tests.support.botapi.records import CallbackAnswer, ChatAction, Sent

if TYPE_CHECKING:
    from tests.support.botapi.world import World

JSON = dict[str, Any]
Method = Callable[["World", Params], Awaitable[Any]]
METHODS: dict[str, Method] = {}

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LANGUAGE = re.compile(r"[a-z]{2}")


def method(name: str) -> Callable[[Method], Method]:
    """Register a function as the Bot API method `name`."""

    def register(function: Method) -> Method:
        METHODS[name] = function
        return function

    return register


@method("getMe")
async def get_me(world: World, p: Params) -> JSON:
    return world.bot_user


@method("getUpdates")
async def get_updates(world: World, p: Params) -> list[JSON]:
    if world.webhook.url:
        raise ApiError(409, WEBHOOK_ACTIVE)
    world.updates.set_allowed(_allowed_updates(p))
    # The Bot API server clamps both: limit to 1..100 (default 100), timeout to 0..50 s.
    limit = min(max(p.integer("limit") or 100, 1), 100)
    timeout = min(max(p.number("timeout") or 0.0, 0.0), 50.0)
    return await world.updates.poll(p.integer("offset") or 0, limit, timeout)


@method("setWebhook")
async def set_webhook(world: World, p: Params) -> bool:
    url = p.text("url") or ""
    secret = p.text("secret_token")
    if url and not url.startswith(("https://", "http://")):
        raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    if secret is not None and not _SECRET.fullmatch(secret):
        raise ApiError(400, "Bad Request: secret token contains unallowed characters")
    if p.flag("drop_pending_updates"):
        world.updates.drop_pending()
    if not url:
        await world.webhook.delete()
        return True
    world.updates.set_allowed(_allowed_updates(p))
    world.webhook.ip_address = p.text("ip_address")
    await world.webhook.set(url, secret, p.integer("max_connections"))
    return True


@method("deleteWebhook")
async def delete_webhook(world: World, p: Params) -> bool:
    if p.flag("drop_pending_updates"):
        world.updates.drop_pending()
    await world.webhook.delete()
    return True


@method("getWebhookInfo")
async def get_webhook_info(world: World, p: Params) -> JSON:
    return world.webhook.info()


@method("sendMessage")
async def send_message(world: World, p: Params) -> JSON:
    chat = world.chat_of(p)
    text, entities = message_text(p)
    markup, inline = reply_markup(p)
    replied = _reply_target(chat, p)
    world.check_reachable(chat)
    content = text_content(text, entities)
    if replied is not None:
        content["reply_to_message"] = quoted(replied)
    if inline is not None:
        content["reply_markup"] = inline
    message = chat.add(world.bot_from, content)
    world.record_sent(
        Sent(
            chat_id=chat.id,
            message_id=message["message_id"],
            text=text,
            raw_text=p.text("text") or "",
            parse_mode=p.text("parse_mode"),
            entities=entities,
            reply_markup=markup,
            reply_to_message_id=None if replied is None else replied["message_id"],
            disable_notification=p.flag("disable_notification"),
            link_preview_options=p.obj("link_preview_options", "link preview options"),
            time=_clock(),
        )
    )
    return message


@method("editMessageText")
async def edit_message_text(world: World, p: Params) -> JSON:
    chat, old = _editable(world, p)
    if "text" not in old:
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    text, entities = message_text(p)
    new = _replaced(old, text_content(text, entities), _inline_only(p))
    chat.messages[old["message_id"]] = new
    world.record_edit("editMessageText", new, text, p.text("parse_mode"))
    return new


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(world: World, p: Params) -> JSON:
    chat, old = _editable(world, p)
    content: JSON = {key: old[key] for key in ("text", "entities") if key in old}
    new = _replaced(old, content, _inline_only(p))
    chat.messages[old["message_id"]] = new
    world.record_edit("editMessageReplyMarkup", new, None, None)
    return new


@method("deleteMessage")
async def delete_message(world: World, p: Params) -> bool:
    chat = world.chat_of(p)
    message_id = p.integer("message_id")
    if message_id is None:
        raise ApiError(400, NO_MESSAGE_ID)
    if chat.messages.pop(message_id, None) is None:
        raise ApiError(400, DELETE_NOT_FOUND)
    world.deleted.append((chat.id, message_id))
    return True


@method("answerCallbackQuery")
async def answer_callback_query(world: World, p: Params) -> bool:
    query_id = p.text("callback_query_id") or ""
    query = world.queries.pop(query_id, None)
    # A query can be answered once, and only within the time the user's client waits.
    if query is None or _clock() - query.time > world.callback_timeout:
        raise ApiError(400, QUERY_TOO_OLD)
    world.callback_answers.append(
        CallbackAnswer(
            query_id=query_id,
            user_id=query.user_id,
            text=p.text("text"),
            show_alert=p.flag("show_alert"),
            url=p.text("url"),
            cache_time=p.integer("cache_time"),
            time=_clock(),
        )
    )
    return True


@method("sendChatAction")
async def send_chat_action(world: World, p: Params) -> bool:
    chat = world.chat_of(p)
    action = p.text("action") or ""
    if action not in CHAT_ACTIONS:
        raise ApiError(400, "Bad Request: wrong parameter action in request")
    world.check_reachable(chat)
    world.chat_actions.append(ChatAction(chat.id, action, _clock()))
    return True


@method("setMyCommands")
async def set_my_commands(world: World, p: Params) -> bool:
    commands = p.obj("commands", "commands")
    if not isinstance(commands, list):
        raise ApiError(400, 'Bad Request: field "commands" must be an Array')
    listed = []
    for entry in commands:
        command, description = _command(entry)
        listed.append((command, description))
    key = _commands_key(world, p)
    if listed:
        world.commands[key] = listed
    else:
        world.commands.pop(key, None)
    return True


@method("getMyCommands")
async def get_my_commands(world: World, p: Params) -> list[JSON]:
    listed = world.commands.get(_commands_key(world, p), [])
    return [{"command": command, "description": text} for command, text in listed]


@method("deleteMyCommands")
async def delete_my_commands(world: World, p: Params) -> bool:
    world.commands.pop(_commands_key(world, p), None)
    return True


def _clock() -> float:
    return asyncio.get_running_loop().time()


def _allowed_updates(p: Params) -> list[str] | None:
    kinds = p.obj("allowed_updates", "allowed updates")
    if kinds is not None and not (
        isinstance(kinds, list) and all(isinstance(kind, str) for kind in kinds)
    ):
        raise ApiError(400, "Bad Request: can't parse allowed updates JSON object")
    return kinds


def _reply_target(chat: Chat, p: Params) -> JSON | None:
    """The message to reply to (reply_parameters, or the older reply_to_message_id)."""
    reply = p.obj("reply_parameters", "reply parameters")
    if isinstance(reply, dict):
        message_id, allow = reply.get("message_id"), bool(reply.get("allow_sending_without_reply"))
    else:
        message_id, allow = p.integer("reply_to_message_id"), p.flag("allow_sending_without_reply")
    if message_id is None:
        return None
    replied = chat.messages.get(int(message_id))
    if replied is None and not allow:
        raise ApiError(400, REPLY_NOT_FOUND)
    return replied


def _editable(world: World, p: Params) -> tuple[Chat, JSON]:
    if p.text("inline_message_id"):
        raise ApiError(400, "Bad Request: the test double has no inline messages")
    chat = world.chat_of(p)
    message_id = p.integer("message_id")
    if message_id is None:
        raise ApiError(400, NO_MESSAGE_ID)
    message = chat.messages.get(message_id)
    if message is None:
        raise ApiError(400, EDIT_NOT_FOUND)
    if message["from"]["id"] != world.bot_user["id"]:
        raise ApiError(400, CANT_EDIT)
    return chat, message


def _inline_only(p: Params) -> JSON | None:
    markup, inline = reply_markup(p)
    if markup is not None and inline is None:
        raise ApiError(400, BAD_MARKUP)  # edits take inline keyboards only
    return inline


def _replaced(old: JSON, content: JSON, inline: JSON | None) -> JSON:
    """The edited message; refused when nothing would change, as Telegram refuses it."""
    visible = ("text", "entities", "reply_markup")
    new = {key: value for key, value in old.items() if key not in visible} | content
    if inline is not None:
        new["reply_markup"] = inline
    if all(old.get(key) == new.get(key) for key in visible):
        raise ApiError(400, NOT_MODIFIED)
    new["edit_date"] = now()
    return new


def _command(entry: Any) -> tuple[str, str]:
    if not isinstance(entry, dict):
        raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
    command, description = entry.get("command"), entry.get("description")
    if not isinstance(command, str) or not _COMMAND.fullmatch(command):
        raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
    if not isinstance(description, str) or not 1 <= len(description) <= 256:
        raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
    return command, description


def _commands_key(world: World, p: Params) -> tuple[str, str]:
    """(scope, language_code): Telegram keeps one command list for each pair."""
    language = p.text("language_code") or ""
    if language and not _LANGUAGE.fullmatch(language):
        raise ApiError(400, "Bad Request: invalid language code specified")
    scope = p.obj("scope", "bot command scope") or {"type": "default"}
    kind = scope.get("type") if isinstance(scope, dict) else None
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return kind, language
    if kind in ("chat", "chat_administrators", "chat_member"):
        chat = world.chat_of(Params(scope))
        if kind != "chat_member":
            return f"{kind}:{chat.id}", language
        user_id = Params(scope).integer("user_id")
        if user_id not in world.people:
            raise ApiError(400, "Bad Request: user not found")
        return f"chat_member:{chat.id}:{user_id}", language
    raise ApiError(400, "Bad Request: unsupported bot command scope type")
