"""The Bot API's request and error conventions: parameters in, `{"ok": false, ...}` out.

Requests carry parameters in the query string, as form data (urlencoded or multipart, nested
objects JSON-encoded: python-telegram-bot sends them so) or as a JSON body; all three are
read here. Error texts are the ones the Bot API server answers with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web

from tests.support.botapi.html import HtmlError, parse_html, utf16_len

JSON = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64

UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
CHAT_NOT_FOUND = "Bad Request: chat not found"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CANT_PARSE = "Bad Request: can't parse entities: "
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
TEXT_BUTTON = (
    "Bad Request: can't parse inline keyboard button: "
    "Text buttons are unallowed in the inline keyboard"
)
BAD_MARKUP = "Bad Request: can't parse reply keyboard markup JSON object"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"
NOT_STARTED = "Forbidden: bot can't initiate conversation with a user"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
OTHER_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
CANT_EDIT = "Bad Request: message can't be edited"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
NO_MESSAGE_ID = "Bad Request: message identifier is not specified"

# The buttons of an inline keyboard that do something; one without any is a "text button".
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status = error_code, and the documented description."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    @classmethod
    def server(cls, status: int) -> ApiError:
        """An error of Telegram's own servers (5xx), described by the HTTP reason phrase."""
        return cls(status, HTTPStatus(status).phrase)

    def response(self) -> web.Response:
        """The HTTP answer Telegram gives for this error."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.status)


class Params:
    """One request's parameters, typed on access (form values arrive as strings)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    @classmethod
    async def read(cls, request: web.Request) -> Params:
        """Collect the query string and the body (form, multipart or JSON) of a request."""
        values: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as err:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from err
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON request body must be an object")
            values.update(body)
        elif request.can_read_body:
            # Uploaded files (multipart file parts) are not kept: the double has no file store.
            form = await request.post()
            values.update({key: value for key, value in form.items() if isinstance(value, str)})
        return cls(values)

    def logged(self) -> JSON:
        """The parameters for the calls log, nested objects decoded from their JSON."""
        return {key: self._decoded(value) for key, value in self.values.items()}

    @staticmethod
    def _decoded(value: Any) -> Any:
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError) as err:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from err

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError) as err:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from err

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str, what: str) -> Any:
        """A nested object or array: JSON-decoded from a form value, as is from a JSON body."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as err:
            raise ApiError(400, f"Bad Request: can't parse {what} JSON object") from err


def message_text(params: Params, name: str = "text") -> tuple[str, list[JSON]]:
    """The text a message will show and its entities, checked as sendMessage checks them."""
    raw = params.text(name) or ""
    mode = (params.text("parse_mode") or "").lower()
    if not raw:
        raise ApiError(400, TEXT_EMPTY)
    if mode == "html":
        try:
            text, entities = parse_html(raw)
        except HtmlError as err:
            raise ApiError(400, CANT_PARSE + str(err)) from err
    elif mode:
        # Markdown and MarkdownV2 exist in Telegram but not in this double: say so.
        raise ApiError(400, CANT_PARSE + f"the test double implements only HTML, not {mode!r}")
    else:
        text, entities = raw, list(params.obj("entities", "message entities") or [])
    text, entities = _trimmed(text, entities)
    if not text:
        raise ApiError(400, TEXT_EMPTY)
    # Counted in UTF-16 code units, the unit of entity offsets: the stricter reading of
    # "1-4096 characters after entities parsing".
    if utf16_len(text) > MAX_TEXT_LENGTH:
        raise ApiError(400, TEXT_TOO_LONG)
    return text, entities


def _trimmed(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Drop leading and trailing spaces and newlines as Telegram does, keeping entities right."""
    first_entity = min((int(e["offset"]) for e in entities), default=len(text))
    cut = min(len(text) - len(text.lstrip(" \n")), first_entity)
    text = text[cut:].rstrip(" \n")
    end = utf16_len(text)
    kept = []
    for entity in entities:
        offset = int(entity["offset"]) - cut
        length = min(int(entity["length"]), end - offset)
        if length > 0:
            kept.append({**entity, "offset": offset, "length": length})
    return text, kept


def reply_markup(params: Params) -> tuple[JSON | None, JSON | None]:
    """Check reply_markup; return (the markup as sent, the inline keyboard a message keeps)."""
    markup = params.obj("reply_markup", "reply keyboard markup")
    if markup is None:
        return None, None
    if not isinstance(markup, dict):
        raise ApiError(400, BAD_MARKUP)
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
        return markup, markup
    if "keyboard" in markup or markup.get("remove_keyboard") or markup.get("force_reply"):
        return markup, None
    raise ApiError(400, BAD_MARKUP)


def _check_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array of Arrays')
    for button in (button for row in rows for button in row):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button")
        if not any(action in button for action in _BUTTON_ACTIONS):
            raise ApiError(400, TEXT_BUTTON)
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise ApiError(400, BUTTON_DATA_INVALID)


def has_button(message: JSON, callback_data: str) -> bool:
    """Whether the message's inline keyboard has a button with this callback_data."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return any(button.get("callback_data") == callback_data for row in rows for button in row)
