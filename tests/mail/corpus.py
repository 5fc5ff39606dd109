"""The mail corpus and its expectations, shared by the tests and bench/mailbox.py."""

from __future__ import annotations

import random
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml

from infoline.mailbox.parse import ParsedMail

CORPUS = Path(__file__).resolve().parent / "corpus"
OWN_ADDRESS = "infoline@example.org"
MAX_BYTES = 25_000_000  # config.yml's mailbox.max_message_bytes
MAX_ATTACHMENT_BYTES = 5_000_000  # config.yml's mailbox.max_attachment_bytes


def expectations() -> dict[str, dict[str, Any]]:
    """Return expected.yml: file name -> what the parser must find in it."""
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(
        (CORPUS / "expected.yml").read_text(encoding="utf-8")
    )
    return loaded


def mismatches(mail: ParsedMail, expect: dict[str, Any]) -> list[str]:
    """Return every way in which a parsed mail differs from its expectations."""
    found: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            found.append(what)

    for word in expect.get("contains", []):
        check(word in mail.text, f"text lacks {word!r}")
        check(word in mail.full_text, f"full_text lacks {word!r}")
    for word in expect.get("not_contains", []):
        check(word not in mail.text, f"text holds {word!r}")
    for word in expect.get("full_contains", []):
        check(word in mail.full_text, f"full_text lacks {word!r}")
    for word in expect.get("subject_contains", []):
        check(word in mail.subject, f"subject lacks {word!r}")
    if expect.get("text_empty"):
        check(mail.text == "", f"text is not empty: {mail.text[:80]!r}")
    check(mail.automatic == expect.get("automatic"), f"automatic is {mail.automatic!r}")
    language = expect.get("language")
    if language:
        check(mail.language_hint in (None, language), f"language_hint is {mail.language_hint!r}")
    expected_problems = set(expect.get("problems", []))
    if expected_problems:
        check(expected_problems <= set(mail.problems), f"problems are {mail.problems}")
    else:
        check(not mail.problems, f"unexpected problems {mail.problems}")
    counts = {
        "attachments": len(mail.attachments),
        "recipients": mail.recipients_count,
        "references": len(mail.references),
    }
    for key, value in counts.items():
        if key in expect:
            check(value == expect[key], f"{key} is {value}")
    if "attachment_names" in expect:
        names = [a.name for a in mail.attachments]
        check(names == expect["attachment_names"], f"attachment names are {names}")
    exact = ("sender", "sender_name", "reply_to", "subject", "message_id", "in_reply_to")
    for key in (*exact, "language_hint", "html_only"):
        if key in expect:
            value = getattr(mail, key)
            check(value == expect[key], f"{key} is {value!r}")
    generated = mail.message_id.endswith("@infoline.invalid>")
    check(generated == bool(expect.get("message_id_generated")), f"message_id {mail.message_id}")
    return found


def big_mail(
    attachment_bytes: int,
    text: str = "Проверьте, пожалуйста, мой договор.",
    subtype: str = "plain",
) -> bytes:
    """A mail with a text (or HTML) body and one attachment of the given size.

    Made at run time: megabytes are never committed.
    """
    message = EmailMessage()
    message["From"] = "Big Sender <big.sender@example.net>"
    message["To"] = OWN_ADDRESS
    message["Subject"] = "Umowa"
    message["Message-ID"] = f"<big-{attachment_bytes}@example.net>"
    message["Date"] = "Sat, 08 Mar 2025 10:00:00 +0100"
    message.set_content(text, subtype=subtype)
    content = random.Random(attachment_bytes).randbytes(attachment_bytes)
    message.add_attachment(content, maintype="application", subtype="pdf", filename="umowa.pdf")
    return message.as_bytes()
