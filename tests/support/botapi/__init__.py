"""A Telegram Bot API test double: an in-process aiohttp server that plays Telegram.

python-telegram-bot runs against it unchanged (`base_url=api.base_url`); a test plays the
users (`user()`, `send()`, `press()`, ...) and inspects what the bot did (`sent`, `calls`).
"""

from tests.support.botapi.objects import JSON
from tests.support.botapi.protocol import ApiError
from tests.support.botapi.records import Call, CallbackAnswer, ChatAction, Edit, Sent
from tests.support.botapi.server import BotApi

__all__ = ["JSON", "ApiError", "BotApi", "Call", "CallbackAnswer", "ChatAction", "Edit", "Sent"]
