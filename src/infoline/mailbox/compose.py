"""Threaded replies: the answer as text and simple HTML, the writer's words quoted below.

Pure: builds the message, sends nothing. The reply threads in every client through
In-Reply-To and References (RFC 5322 3.6.4), keeps one "Re:" before the subject,
and marks automatic answers with Auto-Submitted (RFC 3834) so that other robots leave
them alone. The quoting line follows each language's mail-client convention, which
`quotes` recognises when the writer answers again.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from typing import Any

from babel.dates import format_date, format_time

# At most this many ids in References: the thread's first and the latest (RFC 5322 3.6.4).
MAX_REFERENCES = 20
# Reply prefixes of the clients our writers use: en, de (AW), pl (Odp), uk and ru.
REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|odp|отв|ответ|відп|відповідь|sv|vs|antw)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
# "On DATE at TIME, NAME wrote:" in the reply's language, and without a date.
ATTRIBUTION = {
    "pl": ("W dniu {date} o {time} użytkownik {who} napisał:", "Użytkownik {who} napisał:"),
    "uk": ("{date} о {time} {who} пише:", "{who} пише:"),
    "ru": ("{date} в {time} {who} написал(а):", "{who} написал(а):"),
    "en": ("On {date} at {time}, {who} wrote:", "{who} wrote:"),
}
# Non-ASCII text goes out as quoted-printable or base64, never raw 8-bit, so that
# servers without 8BITMIME (RFC 6152) take it too.
_POLICY = policy.default.clone(cte_type="7bit")


def compose_reply(
    context: dict[str, Any], text: str, *, from_address: str, language: str, automatic: bool
) -> EmailMessage:
    """Return the reply to the mail described by `context` (see parse.reply_context)."""
    if not context.get("reply_address"):
        raise ValueError("the mail has no address to reply to")
    message = EmailMessage(policy=_POLICY)
    message["From"] = from_address
    message["To"] = _recipient(context)
    message["Subject"] = reply_subject(str(context.get("subject") or ""))
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = new_message_id(from_address)
    original = str(context.get("message_id") or "")
    if original:
        message["In-Reply-To"] = original
        message["References"] = " ".join(_references(context.get("references") or [], original))
    if automatic:
        message["Auto-Submitted"] = "auto-replied"  # RFC 3834 5.2
        message["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office to this
    intro = attribution(context, language)
    quoted = str(context.get("quoted") or "").strip()
    message.set_content(_plain(text, intro, quoted))
    message.add_alternative(_html(text, intro, quoted, language), subtype="html")
    message["Content-Language"] = language  # after set_content, which clears Content-*
    return message


def reply_subject(subject: str) -> str:
    """Return "Re: " and the subject without the reply prefixes it already has."""
    return f"Re: {REPLY_PREFIX.sub('', subject).strip()}".rstrip()


def new_message_id(from_address: str) -> str:
    """Return a fresh Message-ID on the domain of our own address."""
    domain = from_address.rpartition("@")[2].strip(" >") or "infoline.invalid"
    return f"<{uuid.uuid4().hex}@{domain}>"


def attribution(context: dict[str, Any], language: str) -> str:
    """Return the line that introduces the quoted mail, in the reply's language."""
    with_date, without_date = ATTRIBUTION.get(language, ATTRIBUTION["en"])
    address = str(context.get("reply_address") or "")
    name = str(context.get("name") or "")
    who = f"{name} <{address}>" if name and address else name or address
    try:
        moment = dt.datetime.fromisoformat(str(context.get("date")))
    except ValueError:
        return without_date.format(who=who)
    locale = language if language in ATTRIBUTION else "en"
    return with_date.format(
        date=format_date(moment, "long", locale=locale),
        time=format_time(moment, "short", locale=locale),
        who=who,
    )


def _recipient(context: dict[str, Any]) -> Address | str:
    """The writer as an address header value; the name only when it is theirs."""
    address = str(context.get("reply_address") or "")
    username, _, domain = address.rpartition("@")
    name = str(context.get("name") or "")
    try:
        return Address(display_name=name, username=username, domain=domain)
    except (ValueError, TypeError, IndexError, HeaderParseError):
        return address


def _references(references: list[str], original: str) -> list[str]:
    """The original's References plus its own id, the thread's first id kept when cut."""
    chain = [r for r in references if r != original] + [original]
    if len(chain) > MAX_REFERENCES:
        chain = chain[:1] + chain[-(MAX_REFERENCES - 1) :]
    return chain


def _plain(text: str, intro: str, quoted: str) -> str:
    lines = [text.strip(), ""]
    if quoted:
        lines += [intro] + [f"> {line}".rstrip() for line in quoted.splitlines()]
    return "\n".join(lines).strip() + "\n"


def _html(text: str, intro: str, quoted: str, language: str) -> str:
    body = _paragraphs(text)
    if quoted:
        body += f"<div>{escape(intro)}</div>\n"
        body += f'<blockquote type="cite">{_paragraphs(quoted)}</blockquote>\n'
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(language)}"><head><meta charset="utf-8"></head>'
        f"<body>\n{body}</body></html>\n"
    )


def _paragraphs(text: str) -> str:
    """Escape text and lay it out: blank lines part paragraphs, line ends become <br>."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>\n".join(escape(line) for line in p.splitlines()) + "</p>\n"
        for p in paragraphs
    )
