"""The Telegram Bot API double, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
)
from telegram.ext import filters as tg_filters

from tests.support.botapi import BotApi
from tests.support.botapi.html import HtmlError, parse_html


@pytest.fixture(autouse=True)
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to python-telegram-bot's timedelta periods (RetryAfter.retry_after, durations).

    Without PTB_TIMEDELTA the library warns (PTBDeprecationWarning) whenever such an attribute
    is read, and RetryAfter reads its own in __init__: under `filterwarnings = error` a 429
    would surface as that warning instead of RetryAfter.
    """
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[BotApi]:
    async with BotApi(webhook_retry_delay=0.05) as server:
        yield server


@pytest.fixture
async def bot(api: BotApi) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(api.token, base_url=api.base_url) as client:
        yield client


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait for a condition that another task makes true."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def texts(updates: tuple[telegram.Update, ...]) -> list[str | None]:
    return [u.message.text if u.message else None for u in updates]


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(item, callback_data=item) for item in data]])


# getUpdates


async def test_get_updates_confirms_only_below_the_offset(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    ids = [api.send(user, f"m{n}") for n in range(5)]

    first = await bot.get_updates(limit=2)
    assert [u.update_id for u in first] == ids[:2]
    again = await bot.get_updates(limit=2)  # nothing confirmed: the same two again
    assert [u.update_id for u in again] == ids[:2]
    assert api.confirmed == ids[0] - 1 and len(api.pending()) == 5

    rest = await bot.get_updates(offset=ids[1] + 1)
    assert texts(rest) == ["m2", "m3", "m4"]
    assert api.confirmed == ids[1] and [u["update_id"] for u in api.pending()] == ids[2:]

    # Confirmed updates are gone for good, even for a lower offset.
    older = await bot.get_updates(offset=ids[0])
    assert [u.update_id for u in older] == ids[2:]

    # A negative offset keeps only the last -offset updates.
    last = await bot.get_updates(offset=-1)
    assert [u.update_id for u in last] == ids[4:] and api.confirmed == ids[3]


async def test_long_poll_answers_when_an_update_arrives(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, api.send, user, "late")
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    waited = time.monotonic() - started
    assert texts(updates) == ["late"]
    assert 0.25 < waited < 2.0


async def test_long_poll_without_updates_waits_the_timeout(api: BotApi, bot: telegram.Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 2.5


async def test_a_second_instance_polling_ends_the_first_with_a_conflict(
    api: BotApi, bot: telegram.Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await until(lambda: len(api.calls) == 2)  # getMe, getUpdates
    async with telegram.Bot(api.token, base_url=api.base_url) as second:
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_allowed_updates_drop_other_kinds(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    api.send(user, "hello")
    sent = await bot.send_message(user, "Pick", reply_markup=keyboard("a"))
    await bot.get_updates(allowed_updates=["callback_query"])
    dropped = api.send(user, "not wanted")
    pressed = api.press(user, sent.message_id, "a")
    updates = await bot.get_updates(offset=dropped)
    assert [u.update_id for u in updates] == [pressed]


# Updates of every kind parse into telegram.Update


async def test_every_update_kind_parses(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user(language_code="pl", first_name="Ola", username="ola_k")
    group = api.group("Volunteers")
    api.send(user, "Dzień dobry")
    api.command(user, "human", "please")
    api.photo(user, caption="my card", width=800, height=600)
    api.voice(user, duration=7)
    api.document(user, "wniosek.pdf", "application/pdf", 123_456)
    api.sticker(user, "🙂")
    api.location(user, 50.06, 19.94)
    api.edit(user, 1, "Dzień dobry!")
    api.send(user, "/start@infoline_test_bot", chat=group)

    text, command, photo, voice, doc, sticker, place, edited, in_group = await bot.get_updates()

    assert text.effective_user is not None and text.effective_user.username == "ola_k"
    assert text.effective_user.language_code == "pl" and text.effective_chat is not None
    assert text.effective_chat.id == user and text.effective_chat.type == "private"
    assert command.message is not None and command.message.text == "/human please"
    assert command.message.parse_entities(["bot_command"]) == {
        command.message.entities[0]: "/human"
    }
    assert photo.message is not None and [p.width for p in photo.message.photo] == [90, 320, 800]
    assert photo.message.caption == "my card"
    assert voice.message is not None and voice.message.voice is not None
    assert voice.message.voice.duration == dtm.timedelta(seconds=7)
    assert doc.message is not None and doc.message.document is not None
    assert (doc.message.document.file_name, doc.message.document.file_size) == (
        "wniosek.pdf",
        123_456,
    )
    assert doc.message.document.mime_type == "application/pdf"
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.sticker.emoji == "🙂"
    assert place.message is not None and place.message.location is not None
    assert place.message.location.latitude == 50.06
    assert edited.edited_message is not None and edited.effective_message is not None
    assert edited.effective_message.text == "Dzień dobry!" and edited.message is None
    assert in_group.effective_chat is not None and in_group.effective_chat.id == group < 0
    assert in_group.effective_chat.type == "group" and in_group.effective_user is not None
    assert in_group.effective_user.id == user


async def test_a_press_is_a_callback_query_with_the_bots_message(
    api: BotApi, bot: telegram.Bot
) -> None:
    user = api.user()
    api.send(user, "hi")
    question = await bot.send_message(user, "Talk to a person?", reply_markup=keyboard("yes", "no"))
    api.press(user, question.message_id, "yes")
    *_, update = await bot.get_updates()
    query = update.callback_query
    assert query is not None and query.data == "yes" and query.from_user.id == user
    assert query.message is not None and query.message.message_id == question.message_id
    assert update.effective_message is not None
    assert update.effective_message.text == "Talk to a person?"
    with pytest.raises(LookupError):
        api.press(user, question.message_id, "maybe")  # no such button: a test's mistake


# sendMessage and the text checks


async def test_send_message_returns_the_message_as_telegram_does(
    api: BotApi, bot: telegram.Bot
) -> None:
    user = api.user()
    asked = api.send(user, "Where do I apply?")
    asked_id = api.pending()[-1]["message"]["message_id"]
    message = await bot.send_message(
        user,
        '👋 <b>Urząd</b> &amp; <a href="https://example.org/?a=1&b=2">form</a>',
        parse_mode="HTML",
        reply_markup=keyboard("ok"),
        reply_parameters=ReplyParameters(asked_id),
        disable_notification=True,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert isinstance(message, telegram.Message) and asked > 0
    assert message.from_user is not None and message.from_user.id == bot.id
    assert message.chat.id == user and message.text == "👋 Urząd & form"
    bold, link = message.entities
    # Offsets count UTF-16 code units: the emoji takes two.
    assert (bold.type, bold.offset, bold.length) == ("bold", 3, 5)
    assert (link.type, link.url) == ("text_link", "https://example.org/?a=1&b=2")
    assert message.parse_entity(link) == "form"
    assert message.reply_markup == keyboard("ok")
    assert message.reply_to_message is not None
    assert message.reply_to_message.text == "Where do I apply?"
    [sent] = api.sent_to(user)
    assert (sent.message_id, sent.parse_mode, sent.disable_notification) == (
        message.message_id,
        "HTML",
        True,
    )
    assert sent.raw_text.startswith("👋 <b>") and sent.reply_to_message_id == asked_id
    assert sent.link_preview_options == {"is_disabled": True}
    assert sent.reply_markup == {"inline_keyboard": [[{"text": "ok", "callback_data": "ok"}]]}


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("Привіт <x>", 'Unsupported start tag "x" at byte offset 13'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("x </b>", "Unexpected end tag at byte offset 2"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("Tom & Jerry", 'Unescaped "&" at byte offset 4'),
        ("a&nbsp;b", 'Unescaped "&" at byte offset 1'),
        ("1 > 0", 'Unescaped ">" at byte offset 2'),
    ],
)
async def test_invalid_html_is_refused(
    api: BotApi, bot: telegram.Bot, text: str, description: str
) -> None:
    user = api.user()
    api.send(user, "hi")
    with pytest.raises(BadRequest) as raised:
        await bot.send_message(user, text, parse_mode="HTML")
    # python-telegram-bot drops "Bad Request: " and capitalizes the rest: compare the raw text.
    assert api.calls[-1].status == 400
    assert parse_error(text) == description
    assert raised.value.message.lower() == f"can't parse entities: {description}".lower()
    assert api.sent_to(user) == []


def parse_error(text: str) -> str:
    with pytest.raises(HtmlError) as raised:
        parse_html(text)
    return str(raised.value)


def test_every_supported_tag_makes_its_entity() -> None:
    text, entities = parse_html(
        "<b>a</b><strong>b</strong><i>c</i><em>d</em><u>e</u><ins>f</ins><s>g</s>"
        '<strike>h</strike><del>i</del><span class="tg-spoiler">j</span><tg-spoiler>k</tg-spoiler>'
        '<a href="https://example.org">l</a><code>m</code>'
        '<pre><code class="language-python">n</code></pre><pre>o</pre>'
        "<blockquote>p</blockquote><blockquote expandable>q</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        "&lt;&gt;&amp;&quot;&#39;&#x41;"
    )
    assert text == "abcdefghijklmnopq👍<>&\"'A"
    kinds = [(e["type"], e["offset"], e["length"]) for e in entities]
    assert kinds == [
        ("bold", 0, 1),
        ("bold", 1, 1),
        ("italic", 2, 1),
        ("italic", 3, 1),
        ("underline", 4, 1),
        ("underline", 5, 1),
        ("strikethrough", 6, 1),
        ("strikethrough", 7, 1),
        ("strikethrough", 8, 1),
        ("spoiler", 9, 1),
        ("spoiler", 10, 1),
        ("text_link", 11, 1),
        ("code", 12, 1),
        ("pre", 13, 1),
        ("pre", 14, 1),
        ("blockquote", 15, 1),
        ("expandable_blockquote", 16, 1),
        ("custom_emoji", 17, 2),
    ]
    assert entities[13]["language"] == "python" and "language" not in entities[14]
    assert entities[17]["custom_emoji_id"] == "5368324170671202286"


async def test_text_length_and_emptiness(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    api.send(user, "hi")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(user, "<b> </b>\n", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(user, "я" * 4097)
    # The limit counts the text after entity parsing, in UTF-16 units (an emoji is two).
    await bot.send_message(user, "<b>" + "я" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(user, "😀" * 2049)
    # Leading and trailing spaces and newlines go, as in Telegram.
    trimmed = await bot.send_message(user, "\n  <i>hi</i> \n", parse_mode="HTML")
    assert trimmed.text == "hi" and trimmed.entities[0].offset == 0


async def test_chat_and_keyboard_errors(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    api.send(user, "hi")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(123, "hello")
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(user, "x", reply_markup=keyboard("ą" * 33))  # 66 bytes
    text_only = InlineKeyboardMarkup([[InlineKeyboardButton("just text")]])
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed"):
        await bot.send_message(user, "x", reply_markup=text_only)
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(user, "x", reply_parameters=ReplyParameters(999))
    assert api.sent_to(user) == []
    await bot.send_message(user, "x", reply_markup=keyboard("ą" * 32))  # 64 bytes: allowed


async def test_json_bodies_are_accepted(api: BotApi) -> None:
    user = api.user()
    api.send(user, "hi")
    url = f"{api.base_url}{api.token}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "ok", "callback_data": "ok"}]]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"chat_id": user, "text": "hey", "reply_markup": markup}) as resp,
    ):
        body = await resp.json()
    assert body["ok"] is True and body["result"]["reply_markup"] == markup
    assert api.calls[-1].params["chat_id"] == user


# Errors a bot must handle


async def test_blocked_and_never_started_chats_are_forbidden(
    api: BotApi, bot: telegram.Bot
) -> None:
    silent, blocker = api.user(), api.user()
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(silent, "hello")
    api.send(blocker, "hi")
    api.block(blocker)
    with pytest.raises(Forbidden, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(blocker, "hello")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(blocker, "typing")
    api.send(blocker, "I am back")  # writing again means the user unblocked the bot
    await bot.send_message(blocker, "welcome back")
    assert [s.text for s in api.sent_to(blocker)] == ["welcome back"]


async def test_rate_limit_raises_retry_after(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    api.send(user, "hi")
    api.rate_limit(2, retry_after=3)
    for _ in range(2):
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(user, "hello")
        assert raised.value.retry_after == dtm.timedelta(seconds=3)
    await bot.send_chat_action(user, "typing")  # other methods are not limited
    await bot.send_message(user, "hello")
    assert [c.status for c in api.calls if c.method == "sendMessage"] == [429, 429, 200]


async def test_server_errors_are_network_errors(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    api.send(user, "hi")
    api.fail("sendMessage", count=1, status=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(user, "hello")
    api.fail("getUpdates")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.get_updates()
    await bot.send_message(user, "hello")
    with pytest.raises(KeyError):
        api.fail("sendMesage")


async def test_wrong_token_and_unknown_method(api: BotApi, bot: telegram.Bot) -> None:
    with pytest.raises(InvalidToken) as raised:
        async with telegram.Bot(api.token[:-1] + "x", base_url=api.base_url):
            pass
    assert isinstance(raised.value.__cause__, InvalidToken)
    assert raised.value.__cause__.message == "Unauthorized"
    with pytest.raises(telegram.error.EndPointNotFound):
        await bot.do_api_request("sendTeleport")
    me = await bot.do_api_request("GETME")  # method names are case-insensitive
    assert me["id"] == bot.id


# Edits, deletions, callback answers, chat actions


async def test_edits_deletes_and_not_modified(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    api.send(user, "hi")
    message = await bot.send_message(user, "Choose", reply_markup=keyboard("a", "b"))
    edited = await bot.edit_message_text(
        "Chosen: <b>a</b>", user, message.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, telegram.Message) and edited.text == "Chosen: a"
    assert edited.reply_markup is None  # an edit without reply_markup removes the keyboard
    assert edited.edit_date is not None
    current = api.message(user, message.message_id)
    assert current is not None and current["text"] == "Chosen: a"
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Chosen: <b>a</b>", user, message.message_id, parse_mode="HTML")
    await bot.edit_message_reply_markup(user, message.message_id, reply_markup=keyboard("undo"))
    assert [e.method for e in api.edits] == ["editMessageText", "editMessageReplyMarkup"]
    assert api.edits[-1].reply_markup == keyboard("undo").to_dict()
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("mine now", user, 1)  # the user's own message
    assert await bot.delete_message(user, message.message_id) is True
    assert (
        api.deleted == [(user, message.message_id)]
        and api.message(user, message.message_id) is None
    )
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(user, message.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("gone", user, message.message_id)


async def test_callback_queries_are_answered_once_and_in_time(
    api: BotApi, bot: telegram.Bot
) -> None:
    user = api.user()
    api.send(user, "hi")
    message = await bot.send_message(user, "Choose", reply_markup=keyboard("a"))
    api.press(user, message.message_id, "a")
    api.press(user, message.message_id, "a")
    *_, first, late = await bot.get_updates()
    assert first.callback_query is not None and late.callback_query is not None
    assert await first.callback_query.answer("Noted", show_alert=True) is True
    [answer] = api.callback_answers
    assert (answer.user_id, answer.text, answer.show_alert) == (user, "Noted", True)
    too_old = "Query is too old and response timeout expired or query id is invalid"
    with pytest.raises(BadRequest, match=too_old):
        await first.callback_query.answer()  # a second answer
    api.callback_timeout = 0.2  # Telegram's clients wait a few seconds; a test need not
    await asyncio.sleep(0.3)
    with pytest.raises(BadRequest, match=too_old):
        await late.callback_query.answer()
    with pytest.raises(BadRequest, match=too_old):
        await bot.answer_callback_query("12345")


async def test_chat_actions(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    api.send(user, "hi")
    assert await bot.send_chat_action(user, "typing") is True
    assert [(a.chat_id, a.action) for a in api.chat_actions] == [(user, "typing")]
    with pytest.raises(BadRequest, match="Wrong parameter action in request"):
        await bot.send_chat_action(user, "dancing")


# Commands


async def test_commands_per_scope_and_language(api: BotApi, bot: telegram.Bot) -> None:
    ukrainian, polish = api.user("uk"), api.user("pl")
    english = [("start", "Start"), ("human", "Talk to a person")]
    ukrainian_commands = [("start", "Почати"), ("human", "Поговорити з людиною")]
    await bot.set_my_commands(english)
    await bot.set_my_commands(ukrainian_commands, language_code="uk")
    private = telegram.BotCommandScopeAllPrivateChats()
    await bot.set_my_commands([("help", "Pomoc")], scope=private, language_code="pl")

    assert api.commands[("default", "")] == english
    assert api.commands[("default", "uk")] == ukrainian_commands
    got = await bot.get_my_commands(language_code="uk")
    assert [(c.command, c.description) for c in got] == ukrainian_commands
    assert await bot.get_my_commands(language_code="de") == ()  # no fallback in getMyCommands
    assert api.visible_commands(ukrainian) == ukrainian_commands
    assert api.visible_commands(polish) == [("help", "Pomoc")]  # all_private_chats beats default

    await bot.delete_my_commands(scope=private, language_code="pl")
    assert api.visible_commands(polish) == english
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Start!", "x")])


# Webhook


@dataclass
class Receiver:
    """A bot's webhook endpoint: records what Telegram posts; can answer errors first."""

    url: str = ""
    errors_first: int = 0
    received: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        status = 500 if len(self.answers) < self.errors_first else 200
        self.answers.append(status)
        if status == 200:
            secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
            self.received.append((secret, await request.json()))
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    application = web.Application()
    application.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield hook
    await runner.cleanup()


async def test_webhook_delivers_in_order_and_retries(
    api: BotApi, bot: telegram.Bot, receiver: Receiver
) -> None:
    user = api.user()
    receiver.errors_first = 2
    ids = [api.send(user, f"m{n}") for n in range(3)]
    assert await bot.set_webhook(receiver.url, secret_token="s3cret-Token_1") is True
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()

    await until(lambda: len(receiver.received) == 3)
    assert [body["update_id"] for _, body in receiver.received] == ids
    assert {secret for secret, _ in receiver.received} == {"s3cret-Token_1"}
    assert receiver.answers == [500, 500, 200, 200, 200]
    update = telegram.Update.de_json(receiver.received[0][1], bot)
    assert update.message is not None and update.message.text == "m0"
    assert api.confirmed == ids[-1] and api.pending() == []

    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (receiver.url, 0)
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"

    assert await bot.delete_webhook() is True
    later = api.send(user, "polling again")
    assert [u.update_id for u in await bot.get_updates()] == [later]


async def test_webhook_keeps_updates_until_acknowledged(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    first = api.send(user, "waiting")
    # Nothing listens on port 9 (discard): delivery fails and the update stays pending.
    await bot.set_webhook("http://127.0.0.1:9/hook")
    await until(lambda: api.webhook.last_error_message is not None)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and info.last_error_message == "Connection refused"
    assert api.confirmed < first
    await bot.delete_webhook(drop_pending_updates=True)
    assert api.pending() == [] and api.confirmed == first


# A real Application against the double


async def test_application_polls_and_answers_many_users(api: BotApi) -> None:
    async def greet(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Welcome")

    async def echo(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(update.effective_message.text.upper())

    application: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    )
    application.add_handler(CommandHandler("start", greet))
    application.add_handler(MessageHandler(tg_filters.TEXT & ~tg_filters.COMMAND, echo))
    users = [api.user() for _ in range(200)]
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=dtm.timedelta(seconds=1))
        for user in users:
            api.command(user, "start")
            api.send(user, f"hello {user}")
            api.send(user, "bye")
        for user in users:
            sent = await api.wait_sent(user, 3, timeout=60)
            assert [s.text for s in sent] == ["Welcome", f"HELLO {user}", "BYE"]
        await application.updater.stop()
        await application.stop()

    methods = [call.method for call in api.calls]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert set(methods) == {"getMe", "deleteWebhook", "getUpdates", "sendMessage"}
    # On stop the library confirms what it fetched: nothing is left for a restart.
    assert api.pending() == [] and api.confirmed == api.updates.last_id
    assert len(api.sent) == 600


async def test_wait_sent_names_what_arrived_on_timeout(api: BotApi, bot: telegram.Bot) -> None:
    user = api.user()
    api.send(user, "hi")
    await bot.send_message(user, "only one")
    with pytest.raises(TimeoutError, match=r"1 of 2 messages: \['only one'\]"):
        await api.wait_sent(user, 2, timeout=0.2)
