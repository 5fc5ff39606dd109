"""The Telegram adapter's pure parts: splitting long answers, keyboards, and what each kind
of update means to the assistant (updates built from Bot API JSON, as Telegram sends it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from telegram import Bot, Update
from telegram.error import BadRequest, Forbidden, RetryAfter, TimedOut

from infoline.bot.channel import delivery_error, keyboard, split, units
from infoline.bot.updates import GroupNotice, translate
from infoline.core.messages import Button, Inbound
from infoline.core.ports import PermanentDeliveryError, TemporaryDeliveryError

BOT = "InfolineBot"
USER = {"id": 42, "is_bot": False, "first_name": "Olena", "language_code": "uk"}
PRIVATE = {"id": 42, "type": "private", "first_name": "Olena"}
GROUP = {"id": -100, "type": "group", "title": "Volunteers"}


def update(kind: str = "message", **message: Any) -> Update:
    body = {"message_id": 7, "date": 1_764_000_000, "chat": PRIVATE, "from": USER, **message}
    return Update.de_json({"update_id": 1, kind: body}, Bot("1:x"))


def test_short_text_is_one_part() -> None:
    assert split("Привіт") == ["Привіт"]


def test_long_text_splits_on_paragraphs_and_keeps_every_word() -> None:
    paragraphs = [f"Абзац {n}: " + "слово " * 150 for n in range(12)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    parts = split(text, 4096)
    assert len(parts) > 1 and all(units(p) <= 4096 for p in parts)
    assert all(p.startswith("Абзац") for p in parts)  # each part begins a paragraph
    assert " ".join(parts).split() == text.split()


def test_unbroken_text_and_emoji_are_cut_within_the_limit() -> None:
    for text in ("x" * 10_000, "🙂" * 3000):
        parts = split(text, 4096)
        assert all(units(p) <= 4096 for p in parts) and "".join(parts) == text


def test_short_buttons_pair_up_long_ones_stack() -> None:
    short = keyboard((Button("Так", "feedback:yes"), Button("Ні", "feedback:no")))
    assert short is not None and len(short.inline_keyboard) == 1
    long = keyboard(tuple(Button(f"Legal stay and residence {n}", f"topic:{n}") for n in range(3)))
    assert long is not None and [len(row) for row in long.inline_keyboard] == [1, 1, 1]
    assert keyboard(()) is None


def test_text_message() -> None:
    inbound = translate(update(text="Де зробити PESEL?"), BOT)
    assert isinstance(inbound, Inbound)
    assert (inbound.address, inbound.external_id, inbound.text) == (
        "42",
        "42:7",
        "Де зробити PESEL?",
    )
    assert inbound.language_hint == "uk" and inbound.display_name == "Olena"


@pytest.mark.parametrize(
    ("text", "command", "argument"),
    [
        ("/start", "start", None),
        ("/language pl", "language", "pl"),
        (f"/help@{BOT}", "help", None),
        ("/human", "human", None),
        ("/forget", "forget", None),
        ("/weather", "help", None),  # unknown commands show the help
    ],
)
def test_commands(text: str, command: str, argument: str | None) -> None:
    inbound = translate(update(text=text), BOT)
    assert isinstance(inbound, Inbound)
    assert (inbound.command, inbound.argument, inbound.text) == (command, argument, "")


def test_command_for_another_bot_is_plain_text() -> None:
    inbound = translate(update(text="/start@OtherBot"), BOT)
    assert isinstance(inbound, Inbound) and inbound.command is None


def test_photo_document_voice_sticker_location() -> None:
    photo = translate(
        update(
            photo=[
                {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
                {
                    "file_id": "big",
                    "file_unique_id": "b",
                    "width": 900,
                    "height": 900,
                    "file_size": 5000,
                },
            ],
            caption="мій паспорт",
        ),
        BOT,
    )
    assert isinstance(photo, Inbound) and photo.kind == "photo" and photo.text == "мій паспорт"
    assert photo.details["file_ids"] == ["big"] and photo.attachments[0].size == 5000
    document = translate(
        update(
            document={
                "file_id": "d",
                "file_unique_id": "d",
                "file_name": "umowa.pdf",
                "mime_type": "application/pdf",
                "file_size": 1200,
            }
        ),
        BOT,
    )
    assert isinstance(document, Inbound) and document.kind == "document"
    assert document.attachments[0].name == "umowa.pdf"
    voice = translate(
        update(
            voice={"file_id": "v", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}
        ),
        BOT,
    )
    assert isinstance(voice, Inbound) and voice.kind == "voice"
    sticker = translate(
        update(
            sticker={
                "file_id": "st",
                "file_unique_id": "st",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
                "emoji": "👍",
            }
        ),
        BOT,
    )
    assert isinstance(sticker, Inbound) and sticker.kind == "sticker"
    place = translate(update(location={"latitude": 52.23, "longitude": 21.01}), BOT)
    assert isinstance(place, Inbound) and place.kind == "location"
    assert place.details["location"] == [52.23, 21.01]


def test_edited_message_is_a_new_message_with_its_own_id() -> None:
    edited = translate(
        update("edited_message", text="Де зробити PESEL UKR?", edit_date=1_764_000_100), BOT
    )
    assert isinstance(edited, Inbound) and edited.details["edited"] is True
    assert edited.external_id == "42:7:edit:1764000100"


def test_group_chat_is_left_alone_unless_addressed() -> None:
    assert translate(update(chat=GROUP, text="who is going tomorrow?"), BOT) is None
    notice = translate(update(chat=GROUP, text=f"@{BOT} help"), BOT)
    assert notice == GroupNotice(-100, "uk")
    joined = Update.de_json(
        {
            "update_id": 2,
            "my_chat_member": {
                "chat": GROUP,
                "from": USER,
                "date": 1_764_000_000,
                "old_chat_member": {
                    "status": "left",
                    "user": {"id": 1, "is_bot": True, "first_name": "Bot"},
                },
                "new_chat_member": {
                    "status": "member",
                    "user": {"id": 1, "is_bot": True, "first_name": "Bot"},
                },
            },
        },
        Bot("1:x"),
    )
    assert translate(joined, BOT) == GroupNotice(-100, "uk")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("feedback:yes", {"feedback": True}),
        ("feedback:no", {"feedback": False}),
        ("language:ru", {"command": "language", "argument": "ru"}),
        ("topic:work", {"command": "topic", "argument": "work"}),
        ("forget:yes", {"command": "forget", "argument": "yes"}),
    ],
)
def test_buttons(data: str, expected: dict[str, Any]) -> None:
    pressed = Update.de_json(
        {
            "update_id": 3,
            "callback_query": {
                "id": "q1",
                "from": USER,
                "chat_instance": "c",
                "data": data,
                "message": {"message_id": 9, "date": 1_764_000_000, "chat": PRIVATE, "text": "?"},
            },
        },
        Bot("1:x"),
    )
    inbound = translate(pressed, BOT)
    assert isinstance(inbound, Inbound) and inbound.external_id == "button:q1"
    assert {key: getattr(inbound, key) for key in expected} == expected


def test_errors_sorted_for_the_outbox() -> None:
    limited = delivery_error(RetryAfter(dt.timedelta(seconds=7)))
    assert isinstance(limited, TemporaryDeliveryError) and limited.retry_after == 7
    blocked = delivery_error(Forbidden("Forbidden: bot was blocked by the user"))
    assert isinstance(blocked, PermanentDeliveryError) and blocked.unreachable
    gone = delivery_error(BadRequest("Bad Request: chat not found"))
    assert isinstance(gone, PermanentDeliveryError) and gone.unreachable
    assert isinstance(delivery_error(TimedOut()), TemporaryDeliveryError)
