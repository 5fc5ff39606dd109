"""Replies thread, keep one "Re:", mark automatic answers, quote in the reply's language."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from infoline.mailbox.compose import compose_reply, reply_subject
from infoline.mailbox.parse import ParsedMail, parse_mail, reply_context
from infoline.mailbox.quotes import new_text
from tests.mail.corpus import CORPUS, MAX_ATTACHMENT_BYTES, MAX_BYTES, OWN_ADDRESS

ANSWER = {
    "pl": "Dzień dobry,\nzmiana pracodawcy wymaga nowego zezwolenia.\n\nInfolinia dla Migrantów",
    "uk": "Добрий день!\nЗміна роботодавця потребує нового дозволу.\n\nІнфолінія для мігрантів",
    "ru": "Здравствуйте!\nСмена работодателя требует нового разрешения.\n\nИнфолиния для мигрантов",
    "en": "Hello,\na new employer needs a new work permit.\n\nMigrant Infoline",
}
INTRO = {
    "pl": ("W dniu 3 marca 2025 o 11:02 użytkownik", "napisał:"),
    "uk": ("3 березня 2025", "пише:"),
    "ru": ("3 марта 2025", "написал(а):"),
    "en": ("On March 3, 2025 at 11:02", "wrote:"),
}


def context_of(name: str) -> dict[str, Any]:
    raw = (CORPUS / name).read_bytes()
    return reply_context(parse_mail(raw, OWN_ADDRESS, MAX_BYTES, MAX_ATTACHMENT_BYTES))


def sent(message: EmailMessage) -> ParsedMail:
    """Parse a composed reply the way the receiving side would see it."""
    raw = message.as_bytes(policy=policy.SMTP)
    return parse_mail(raw, "someone.else@example.net", MAX_BYTES, MAX_ATTACHMENT_BYTES)


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return plain.get_content(), html.get_content()


def test_reply_threads_and_answers_the_writer() -> None:
    context = context_of("gmail-pl-reply.eml")
    reply = compose_reply(
        context, ANSWER["pl"], from_address=OWN_ADDRESS, language="pl", automatic=True
    )
    mail = sent(reply)
    assert mail.sender == OWN_ADDRESS
    assert str(reply["To"]) == "Olena Kovalenko <olena.kovalenko@gmail.com>"
    assert mail.subject == "Re: Karta pobytu"
    assert mail.in_reply_to == "<CAJ8x1=gmailpl01@mail.gmail.com>"
    assert mail.references == (
        "<20250303091500.4711.reply@example.org>",
        "<CAJ8x1=gmailpl01@mail.gmail.com>",
    )
    assert mail.message_id == reply["Message-ID"]
    assert mail.message_id.endswith("@example.org>")
    assert mail.date is not None
    assert mail.language_hint == "pl"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert mail.automatic == "auto-reply"  # and any robot that reads it knows so
    assert mail.text == ANSWER["pl"]


def test_every_reply_has_a_fresh_message_id() -> None:
    context = context_of("gmail-en-reply.eml")
    ids = {
        compose_reply(context, "Hi", from_address=OWN_ADDRESS, language="en", automatic=True)[
            "Message-ID"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_consultants_answers_are_not_marked_automatic() -> None:
    reply = compose_reply(
        context_of("gmail-en-reply.eml"),
        ANSWER["en"],
        from_address=OWN_ADDRESS,
        language="en",
        automatic=False,
    )
    assert reply["Auto-Submitted"] is None
    assert sent(reply).automatic is None


def test_reply_goes_to_reply_to_without_the_senders_name() -> None:
    reply = compose_reply(
        context_of("reply-to-form.eml"), "Hello", from_address=OWN_ADDRESS, language="en",
        automatic=True,
    )  # fmt: skip
    assert str(reply["To"]) == "oksana.lysenko@example.com"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Karta pobytu", "Re: Karta pobytu"),
        ("Re: Re: Odp: Karta pobytu", "Re: Karta pobytu"),
        ("RE: AW: Karta", "Re: Karta"),
        ("Отв: Ответ: Карта побыту", "Re: Карта побыту"),
        ("Відп: Карта", "Re: Карта"),
        ("Re[2]: Re(3):Karta", "Re: Karta"),
        ("Fwd: Decyzja", "Re: Fwd: Decyzja"),
        ("Reklamacja: towar", "Re: Reklamacja: towar"),
        ("", "Re:"),
    ],
)
def test_subject_has_one_reply_prefix(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


@pytest.mark.parametrize("language", sorted(ANSWER))
def test_original_is_quoted_in_the_replys_language(language: str) -> None:
    context = context_of("gmail-pl-reply.eml")
    reply = compose_reply(
        context, ANSWER[language], from_address=OWN_ADDRESS, language=language, automatic=True
    )
    plain, html = parts(reply)
    start, end = INTRO[language]
    intro = next(line for line in plain.splitlines() if line.endswith(end))
    assert start in intro.replace("\u202f", " ")
    assert "Olena Kovalenko <olena.kovalenko@gmail.com>" in intro
    assert "> Dziękuję za odpowiedź." in plain
    assert '<blockquote type="cite"><p>Dziękuję za odpowiedź.' in html
    # When the writer answers again, our quote is recognised and left out.
    assert new_text(plain) == ANSWER[language]


def test_quote_without_a_date_names_only_the_writer() -> None:
    context = {**context_of("missing-from.eml"), "reply_address": "x@example.net", "date": None}
    reply = compose_reply(context, "Dzień dobry", from_address=OWN_ADDRESS, language="pl",
                          automatic=True)  # fmt: skip
    plain, _ = parts(reply)
    assert "Użytkownik x@example.net napisał:" in plain


def test_html_part_escapes_the_text_and_makes_paragraphs() -> None:
    text = "First <b>line</b> & more\nsecond line\n\nNew paragraph <script>x()</script>"
    reply = compose_reply(context_of("gmail-en-reply.eml"), text, from_address=OWN_ADDRESS,
                          language="en", automatic=False)  # fmt: skip
    plain, html = parts(reply)
    assert plain.startswith(text)
    assert "<p>First &lt;b&gt;line&lt;/b&gt; &amp; more<br>\nsecond line</p>" in html
    assert "<p>New paragraph &lt;script&gt;x()&lt;/script&gt;</p>" in html
    assert "<script>" not in html


def test_long_threads_keep_their_first_and_latest_references() -> None:
    context = context_of("gmail-en-reply.eml")
    context["references"] = [f"<ref{i}@example.net>" for i in range(40)]
    reply = compose_reply(context, "Hi", from_address=OWN_ADDRESS, language="en", automatic=True)
    references = str(reply["References"]).split()
    assert len(references) == 20
    assert references[0] == "<ref0@example.net>"
    assert references[-2:] == ["<ref39@example.net>", context["message_id"]]


def test_a_mail_without_any_address_cannot_be_answered() -> None:
    context = context_of("missing-from.eml")
    with pytest.raises(ValueError, match="no address"):
        compose_reply(context, "Hi", from_address=OWN_ADDRESS, language="en", automatic=True)
