"""A Telegram Bot API test double: an in-process aiohttp server that plays Telegram.

python-telegram-bot runs against it unchanged; a test plays the users and inspects what
the bot did:

    async with BotApi() as api:
        bot = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
        user = api.user(language_code="uk")
        api.command(user, "start")
        ...
        [reply] = await api.wait_sent(user, 1)

Set PTB_TIMEDELTA=true in tests: python-telegram-bot 22 otherwise warns when RetryAfter is
made, and under `filterwarnings = error` a 429 surfaces as that warning.
"""

from tests.support.botapi.objects import JSON
from tests.support.botapi.protocol import ApiError
from tests.support.botapi.records import Call, CallbackAnswer, ChatAction, Edit, Sent
from tests.support.botapi.server import BotApi

__all__ = ["JSON", "ApiError", "BotApi", "Call", "CallbackAnswer", "ChatAction", "Edit", "Sent"]
