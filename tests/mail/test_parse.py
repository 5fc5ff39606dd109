"""The parser on the corpus of real-world and hostile mail, and on mail made at run time."""

from __future__ import annotations

import json
import random
from email.message import EmailMessage

import pytest

from infoline.mailbox.parse import (
    FULL_TEXT_CHARS,
    HTML_CHARS,
    UNPARSABLE,
    ParsedMail,
    parse_mail,
    reply_context,
)
from tests.mail.corpus import (
    CORPUS,
    MAX_ATTACHMENT_BYTES,
    MAX_BYTES,
    OWN_ADDRESS,
    big_mail,
    expectations,
    mismatches,
)

EXPECTED = expectations()


def parse(raw: bytes, max_bytes: int = MAX_BYTES) -> ParsedMail:
    return parse_mail(raw, OWN_ADDRESS, max_bytes, MAX_ATTACHMENT_BYTES)


def test_every_corpus_file_is_described() -> None:
    files = {path.name for path in CORPUS.glob("*.eml")}
    assert files == set(EXPECTED)
    assert len(files) >= 60


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    mail = parse((CORPUS / name).read_bytes())
    assert mismatches(mail, EXPECTED[name]) == []
    assert mail.message_id.startswith("<") and mail.message_id.endswith(">")
    assert mail.sender == mail.sender.lower()
    assert all(line in mail.full_text for line in mail.text.splitlines())
    json.dumps(reply_context(mail))


def test_mail_without_message_id_gets_the_same_id_every_time() -> None:
    raw = (CORPUS / "missing-message-id.eml").read_bytes()
    first, again = parse(raw), parse(raw)
    assert first.message_id == again.message_id
    assert parse(raw + b"\n").message_id != first.message_id


def test_twenty_megabyte_attachment_is_kept_as_metadata() -> None:
    raw = big_mail(20_000_000)
    mail = parse(raw, max_bytes=40_000_000)
    assert mail.problems == ()
    assert "мой договор" in mail.text
    (attachment,) = mail.attachments
    assert (attachment.name, attachment.mime, attachment.size) == (
        "umowa.pdf",
        "application/pdf",
        20_000_000,
    )
    assert attachment.content is None
    # Base64 makes it 27 MB: over the default limit of 25 MB it is cut, never dropped.
    cut = parse(raw)
    assert "truncated" in cut.problems
    assert "мой договор" in cut.text
    assert 0 < cut.attachments[0].size < 20_000_000


def test_attachment_under_the_limit_keeps_its_content() -> None:
    raw = big_mail(3_000)
    (attachment,) = parse(raw).attachments
    assert attachment.content == random.Random(3_000).randbytes(3_000)


def test_mail_over_the_size_limit_is_parsed_from_its_start_and_flagged() -> None:
    mail = parse(big_mail(3_000_000), max_bytes=1_000_000)
    assert "truncated" in mail.problems
    assert mail.message_id == "<big-3000000@example.net>"
    assert "мой договор" in mail.text
    (attachment,) = mail.attachments
    assert 0 < attachment.size < 1_000_000


def test_very_long_text_is_capped_and_flagged() -> None:
    mail = parse(big_mail(10, text="Długi tekst. " * 30_000))
    assert len(mail.full_text) == FULL_TEXT_CHARS
    assert "text-cut" in mail.problems


def test_very_long_html_is_cut_before_it_is_laid_out() -> None:
    html = "".join(f"<p>Akapit {i} o pobycie.</p>" for i in range(30_000))
    mail = parse(big_mail(10, text=html, subtype="html"))
    assert len(html) > HTML_CHARS
    assert "text-cut" in mail.problems
    assert mail.text.startswith("Akapit 0 o pobycie.")
    assert "Akapit 29999" not in mail.full_text


def nested(depth: int) -> bytes:
    """A mail whose text sits inside `depth` nested multiparts."""
    opening = "".join(
        f'--b{i}\nContent-Type: multipart/mixed; boundary="b{i + 1}"\n\n' for i in range(depth)
    )
    closing = "".join(f"--b{i}--\n" for i in reversed(range(depth + 1)))
    return (
        "From: deep@example.net\nMessage-ID: <deep@example.net>\n"
        'Content-Type: multipart/mixed; boundary="b0"\n\n'
        f"{opening}--b{depth}\nContent-Type: text/plain\n\nGłęboko schowany tekst.\n{closing}"
    ).encode()


def test_deeply_nested_multiparts() -> None:
    mail = parse(nested(200))
    assert UNPARSABLE not in mail.problems
    assert mail.text == "Głęboko schowany tekst."


def test_nesting_beyond_the_standard_parser_keeps_headers_and_raw_body() -> None:
    """The standard library's parser recurses once per level and gives up near 1000."""
    mail = parse(nested(1500))
    assert UNPARSABLE in mail.problems
    assert mail.sender == "deep@example.net"
    assert mail.message_id == "<deep@example.net>"
    assert "Głęboko schowany tekst." in mail.full_text


MUTATIONS = 6


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mangled_corpus_mail_never_breaks_the_parser(name: str) -> None:
    """Cut, flipped and spliced bytes: parsed without raising and without the last resort."""
    raw = (CORPUS / name).read_bytes()
    rng = random.Random(name)
    junk = [b"\r", b"\n\n", b"--", b"=?utf-8?B?", b"?=", b"\x00", b"\xff\xfe", b"<", b"\t", b";"]
    for _ in range(MUTATIONS):
        mangled = bytearray(raw[: rng.randrange(len(raw) + 1)] if rng.random() < 0.5 else raw)
        for _ in range(rng.randrange(1, 20)):
            at = rng.randrange(len(mangled) + 1)
            if rng.random() < 0.5:
                mangled[at:at] = rng.choice(junk)
            elif mangled:
                mangled[min(at, len(mangled) - 1)] = rng.randrange(256)
        mail = parse(bytes(mangled))
        assert UNPARSABLE not in mail.problems, bytes(mangled)[:200]


def test_reply_context_holds_what_the_composer_needs() -> None:
    mail = parse((CORPUS / "reply-to-form.eml").read_bytes())
    context = reply_context(mail)
    assert json.loads(json.dumps(context)) == context
    assert context["reply_address"] == "oksana.lysenko@example.com"
    assert context["name"] == ""  # "Web form" is not the person the answer goes to
    assert context["message_id"] == "<form-0001@ngo.example.org>"
    assert context["date"] == "2025-03-06T11:00:00+01:00"
    assert "temporary protection" in context["quoted"]


def test_automatic_mail_from_our_own_address_needs_the_address() -> None:
    raw = (CORPUS / "own-address.eml").read_bytes()
    assert parse(raw).automatic == "own-address"
    assert parse_mail(raw, "", MAX_BYTES, MAX_ATTACHMENT_BYTES).automatic is None


def test_mail_whose_answer_would_come_back_to_us_is_not_answered() -> None:
    message = EmailMessage()
    message["From"] = "someone@example.net"
    message["Reply-To"] = "Infoline <INFOLINE@example.org>"
    message.set_content("Hello")
    assert parse(message.as_bytes()).automatic == "own-address"


def test_plain_text_is_preferred_over_html_unless_empty() -> None:
    message = EmailMessage()
    message["From"] = "a@example.net"
    message.set_content("\n\n")
    message.add_alternative("<p>Only the <b>HTML</b> says it.</p>", subtype="html")
    mail = parse(message.as_bytes())
    assert mail.text == "Only the HTML says it."
    assert mail.html_only
