"""Sending on Telegram: HTML-escaped text in parts of at most 4096 characters, buttons
under the last part, and the Bot API's errors turned into the outbox's two kinds."""

from __future__ import annotations

import datetime as dt
import html

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from infoline.bot.updates import CHANNEL
from infoline.core.messages import Button, Outgoing
from infoline.core.ports import PermanentDeliveryError, TemporaryDeliveryError

SEPARATORS = ("\n\n", "\n", " ")
SHORT_LABEL = 16  # buttons with labels this short sit two to a row


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji may count two)."""
    return len(text.encode("utf-16-le")) // 2


def split(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Cut text into parts that fit, at paragraph breaks first, then lines, then words."""
    if units(text) <= limit:
        return [text]
    for separator in SEPARATORS:
        pieces = text.split(separator)
        if len(pieces) > 1:
            break
    else:
        # One unbroken run of characters: cut it where it no longer fits.
        cut = limit
        while units(text[:cut]) > limit:
            cut -= 1
        return [text[:cut], *split(text[cut:], limit)]
    parts: list[str] = []
    current = ""
    for piece in pieces:
        joined = f"{current}{separator}{piece}" if current else piece
        if units(joined) <= limit:
            current = joined
            continue
        if current:
            parts.append(current)
        if units(piece) <= limit:
            current = piece
        else:
            *whole, current = split(piece, limit)
            parts.extend(whole)
    parts.append(current)
    return [part for part in parts if part.strip()]


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Lay buttons out: short labels two to a row, long ones (topics) one per row."""
    if not buttons:
        return None
    width = 2 if all(len(b.label) <= SHORT_LABEL for b in buttons) else 1
    keys = [InlineKeyboardButton(b.label, callback_data=b.action) for b in buttons]
    return InlineKeyboardMarkup([keys[i : i + width] for i in range(0, len(keys), width)])


class TelegramChannel:
    """Delivers outbox messages to private chats."""

    name = CHANNEL

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def send(self, message: Outgoing) -> None:
        parts = split(message.text)
        question = message.reply_to.get("message_id")
        quote = (
            ReplyParameters(question, allow_sending_without_reply=True)
            if isinstance(question, int)
            else None
        )
        try:
            await self._bot.initialize()  # once: checks the token (getMe); then a no-op
            for number, part in enumerate(parts, 1):
                await self._bot.send_message(
                    chat_id=int(message.address),
                    text=html.escape(part, quote=False),
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard(message.buttons) if number == len(parts) else None,
                    reply_parameters=quote if number == 1 else None,
                )
        except TelegramError as err:
            raise delivery_error(err) from err


def delivery_error(err: TelegramError) -> PermanentDeliveryError | TemporaryDeliveryError:
    """Sort a Bot API error: worth retrying later, or never."""
    if isinstance(err, RetryAfter):
        wait = err.retry_after
        seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
        return TemporaryDeliveryError(f"Telegram rate limit: {err.message}", seconds)
    if isinstance(err, Forbidden):
        # The user blocked the bot or deleted the account: nobody is there to read it.
        return PermanentDeliveryError(f"Telegram refused: {err.message}", unreachable=True)
    if isinstance(err, BadRequest):
        gone = "chat not found" in err.message.lower()
        return PermanentDeliveryError(f"Telegram bad request: {err.message}", unreachable=gone)
    if isinstance(err, NetworkError):
        return TemporaryDeliveryError(f"Telegram unreachable: {err.message}")
    return TemporaryDeliveryError(f"Telegram error: {err.message}")
