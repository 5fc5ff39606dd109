"""What the bot did, as the double saw it, and the failures a test asks the double to inject."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support.botapi.protocol import ApiError

JSON = dict[str, Any]


@dataclass(frozen=True)
class Sent:
    """One message the bot sent (sendMessage that succeeded)."""

    chat_id: int
    message_id: int
    text: str  # as the user sees it: tags removed, entities decoded
    raw_text: str  # the text parameter as the bot sent it
    parse_mode: str | None
    entities: list[JSON]
    reply_markup: JSON | None  # as sent: inline keyboard, reply keyboard, remove, force reply
    reply_to_message_id: int | None
    disable_notification: bool
    link_preview_options: JSON | None
    time: float  # event loop time (monotonic seconds)


@dataclass(frozen=True)
class Edit:
    """One successful editMessageText or editMessageReplyMarkup."""

    method: str
    chat_id: int
    message_id: int
    text: str | None  # the new visible text; None for a markup-only edit
    parse_mode: str | None
    reply_markup: JSON | None
    time: float


@dataclass(frozen=True)
class CallbackAnswer:
    """One successful answerCallbackQuery."""

    query_id: str
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    time: float


@dataclass(frozen=True)
class ChatAction:
    """One successful sendChatAction."""

    chat_id: int
    action: str
    time: float


@dataclass
class Call:
    """One request to a known method; status stays None while it is being answered."""

    method: str
    params: JSON
    time: float
    status: int | None = None


@dataclass
class Faults:
    """Failures to inject: per method, a count of 5xx answers and of 429 answers."""

    server_errors: dict[str, list[int]] = field(default_factory=dict)
    rate_limits: dict[str, list[int]] = field(default_factory=dict)

    def fail(self, method: str, count: int, status: int) -> None:
        self.server_errors.setdefault(method, []).extend([status] * count)

    def rate_limit(self, method: str, count: int, retry_after: int) -> None:
        self.rate_limits.setdefault(method, []).extend([retry_after] * count)

    def check(self, method: str) -> None:
        """Raise the next injected failure for this method, if any is left."""
        statuses = self.server_errors.get(method)
        if statuses:
            raise ApiError.server(statuses.pop(0))
        delays = self.rate_limits.get(method)
        if delays:
            retry_after = delays.pop(0)
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
