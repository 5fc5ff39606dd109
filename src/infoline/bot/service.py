"""The Telegram channel at work: updates in by long polling or webhook, each stored before
Telegram may forget it; bot commands registered in the four languages.

Long polling calls getUpdates itself instead of python-telegram-bot's Updater, which
confirms a batch on its next request whether or not the batch was processed: here the
offset moves past an update only once the engine has committed it. In webhook mode the
200 answer is that confirmation, so it is given after the commit too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from infoline.bot.channel import TelegramChannel
from infoline.bot.updates import ALLOWED_UPDATES, COMMANDS, GroupNotice, translate
from infoline.config import TelegramSettings
from infoline.core.i18n import Catalogs
from infoline.core.messages import LANGUAGES, Inbound
from infoline.core.ports import ChannelSetupError

log = logging.getLogger(__name__)
# With no retries of its own, the rate limiter logs every 429 as an error with a traceback;
# the outbox retries after retry_after and logs that in one line.
logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
Receive = Callable[[Inbound], Awaitable[object]]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram"
MAX_BACKOFF = 30.0


class TelegramService:
    """Owns the bot: start-up, the update loop and the channel that sends."""

    def __init__(
        self, settings: TelegramSettings, token: str, catalogs: Catalogs, default_language: str
    ) -> None:
        self._settings = settings
        self._catalogs = catalogs
        self._default_language = default_language
        poll = settings.poll_timeout
        self.bot = ExtBot(
            token,
            base_url=settings.base_url,
            request=HTTPXRequest(connection_pool_size=64),
            # A long poll must not time out on our side before Telegram answers it.
            get_updates_request=HTTPXRequest(read_timeout=poll + 10.0),
            rate_limiter=AIORateLimiter(),
        )
        self.channel = TelegramChannel(self.bot)
        # Telegram sends this header with every webhook call; derived from the token so
        # that it survives restarts without being stored anywhere.
        self.secret = hashlib.sha256(b"infoline-webhook:" + token.encode()).hexdigest()

    async def _start(self) -> None:
        """Check the token (getMe) and register the commands in each language."""
        await self.bot.initialize()
        text = self._catalogs.text
        for language in (*LANGUAGES, None):
            lang = language or self._default_language
            commands = [BotCommand(name, text(lang, f"command_{name}")) for name in COMMANDS]
            await self.bot.set_my_commands(commands, language_code=language)
        log.info("Telegram bot @%s ready (%s)", self.bot.username, self._settings.mode)

    async def run(self, receive: Receive) -> None:
        """Start, then take updates until cancelled, in the configured mode."""
        try:
            await self._retrying("Telegram start-up", self._start)
            if self._settings.mode == "webhook":
                await self._serve_webhook(receive)
            else:
                await self._poll(receive)
        except InvalidToken as err:
            raise ChannelSetupError(
                "Telegram refused the token in INFOLINE_TELEGRAM_TOKEN; check it with @BotFather."
            ) from err
        finally:
            await self.bot.shutdown()

    @staticmethod
    async def _retrying(what: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` until it succeeds, waiting longer after each failure (not a bad token)."""
        failures = 0
        while True:
            try:
                await step()
                return
            except (asyncio.CancelledError, InvalidToken):
                raise
            except Exception as err:
                # Telegram unreachable, or the store: the same updates come again.
                failures += 1
                delay = min(2.0**failures, MAX_BACKOFF)
                log.warning("%s: %s; trying again in %.0f s", what, err, delay)
                await asyncio.sleep(delay)

    async def handle(self, update: Update, receive: Receive) -> None:
        """Store what the update says (raises when that fails), then acknowledge buttons."""
        item = translate(update, self.bot.username)
        if isinstance(item, Inbound):
            await receive(item)
        elif isinstance(item, GroupNotice):
            await self._tell_group(item)
        if update.callback_query is not None:
            try:
                await update.callback_query.answer()
            except TelegramError as err:  # the spinner stops by itself; nothing is lost
                log.info("Could not answer a button press: %s", err)

    async def _poll(self, receive: Receive) -> None:
        offset: int | None = None

        async def batch() -> None:
            nonlocal offset
            updates = await self.bot.get_updates(
                offset=offset,
                timeout=dt.timedelta(seconds=self._settings.poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
            )
            for update in updates:
                await self.handle(update, receive)
                offset = update.update_id + 1  # confirmed by the next getUpdates

        await self._retrying("Telegram webhook removal", self._delete_webhook)
        while True:
            await self._retrying("Telegram updates", batch)

    async def _delete_webhook(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def _serve_webhook(self, receive: Receive) -> None:
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, self._webhook_handler(receive))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._settings.webhook_listen, self._settings.webhook_port)
        await site.start()
        try:
            await self._retrying("Telegram webhook", self._set_webhook)
            await asyncio.Event().wait()
        finally:
            # The webhook stays set: Telegram keeps the updates until we are back.
            await runner.cleanup()

    async def _set_webhook(self) -> None:
        await self.bot.set_webhook(
            self._settings.webhook_url, secret_token=self.secret, allowed_updates=ALLOWED_UPDATES
        )

    def _webhook_handler(
        self, receive: Receive
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def webhook(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                return web.Response(status=403, text="wrong secret token")
            try:
                update = Update.de_json(await request.json(), self.bot)
            except ValueError:
                return web.Response(status=400, text="not an update")
            try:
                await self.handle(update, receive)
            except Exception:
                log.exception("Could not store update %s", update.update_id)
                return web.Response(status=500, text="not stored; send it again")
            return web.Response(text="ok")

        return webhook

    async def _tell_group(self, notice: GroupNotice) -> None:
        hint = (notice.language_hint or "").split("-")[0]
        language = hint if hint in LANGUAGES else self._default_language
        try:
            await self.bot.send_message(
                notice.chat_id, self._catalogs.text(language, "private_only")
            )
        except TelegramError as err:
            log.info("Could not tell group %s to write privately: %s", notice.chat_id, err)
