"""Raw mail bytes to a ParsedMail: headers, the new text, attachments, and whether to answer.

Pure: no I/O. The standard library's parser with the modern policy reads the structure;
where its header objects raise or give up on broken input, the raw values are decoded
here instead (`decode`). `parse_mail` never raises, whatever the bytes.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email import errors, policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from infoline.core.messages import LANGUAGES
from infoline.mailbox import automatic
from infoline.mailbox.decode import decode_header_value, decode_text
from infoline.mailbox.headers import MAX_NAME_CHARS, Headers
from infoline.mailbox.htmltext import html_to_text
from infoline.mailbox.quotes import new_text

log = logging.getLogger(__name__)

# The whole body is kept for consultants up to this many characters (the engine's
# default max_text_chars); the new text is part of it.
FULL_TEXT_CHARS = 100_000
# HTML larger than this is cut before it is laid out: inscriptis takes time quadratic
# in the length of one paragraph (about 1.5 s for 500 kB of a single <p>), and the
# text of real mail fits far below it.
HTML_CHARS = 500_000
# The reply context quotes the new text up to this many characters.
QUOTE_CHARS = 5_000
# A thread keeps its first message id and this many of the latest (RFC 5322 3.6.4).
MAX_REFERENCES = 50

TRUNCATED = "truncated"  # larger than max_bytes: parsed from the first max_bytes
MALFORMED = "malformed-mime"
MISSING_ID = "missing-message-id"
MISSING_FROM = "missing-from"
BROKEN_HEADER = "broken-header"  # an address had to be dug out of a broken header
TEXT_CUT = "text-cut"  # the body was longer than FULL_TEXT_CHARS
UNPARSABLE = "unparsable"  # the MIME structure defeated the parser: headers and raw body only

_MALFORMED_DEFECTS = (
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
    errors.NoBoundaryInMultipartDefect,
    errors.MultipartInvariantViolationDefect,
    errors.MissingHeaderBodySeparatorDefect,
    errors.InvalidBase64PaddingDefect,
    errors.InvalidBase64CharactersDefect,
    errors.InvalidBase64LengthDefect,
)
_MSG_ID = re.compile(r"<[^<>\s]+>")
# The charset an HTML body declares in <meta charset=...> or http-equiv Content-Type.
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
# Control characters other than tab and line ends: never part of a reader's text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True, slots=True)
class MailAttachment:
    name: str  # "" when the part names no file
    mime: str
    size: int  # decoded bytes
    content: bytes | None  # None when larger than the attachment limit


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """One incoming mail, as the channel and the engine need it."""

    message_id: str  # as sent, or "<sha256-prefix@infoline.invalid>" when missing
    sender: str  # lower-cased address from From, "" when none
    sender_name: str
    reply_to: str  # lower-cased address from Reply-To, "" when none
    recipients_count: int  # addresses in To and Cc
    subject: str
    date: dt.datetime | None  # aware
    in_reply_to: str
    references: tuple[str, ...]
    text: str  # the new text only: for the NLU and the reply
    full_text: str  # the whole body as text, for consultants (capped)
    html_only: bool
    language_hint: str | None  # from Content-Language, when pl, uk, ru or en
    attachments: tuple[MailAttachment, ...] = ()
    automatic: str | None = None  # why it must not be answered (see `automatic`)
    problems: tuple[str, ...] = ()

    @property
    def reply_address(self) -> str:
        """Where an answer goes: Reply-To when given (RFC 5322 3.6.2), else From."""
        return self.reply_to or self.sender


def parse_mail(
    raw: bytes, own_address: str, max_bytes: int, max_attachment_bytes: int
) -> ParsedMail:
    """Parse raw mail bytes; bigger mail is parsed from its first max_bytes and flagged."""
    try:
        return _parse(raw, own_address, max_bytes, max_attachment_bytes)
    except Exception:  # e.g. RecursionError on a thousand nested multiparts
        log.warning("MIME structure of a mail could not be parsed", exc_info=True)
    try:  # the headers, and the body as raw text
        return _parse(raw, own_address, max_bytes, max_attachment_bytes, headers_only=True)
    except Exception:  # the contract is to never raise: keep at least the mail's identity
        log.exception("Mail of %d bytes could not be parsed", len(raw))
        return ParsedMail(
            message_id=stable_id(raw),
            sender="",
            sender_name="",
            reply_to="",
            recipients_count=0,
            subject="",
            date=None,
            in_reply_to="",
            references=(),
            text="",
            full_text="",
            html_only=False,
            language_hint=None,
            problems=(UNPARSABLE,),
        )


def stable_id(raw: bytes) -> str:
    """A Message-ID made from the bytes, so that fetching the same mail again dedupes."""
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@infoline.invalid>"


def reply_context(mail: ParsedMail) -> dict[str, Any]:
    """Return what `compose.compose_reply` needs later, as JSON-able values."""
    return {
        "message_id": mail.message_id,
        "references": list(mail.references),
        "subject": mail.subject,
        "reply_address": mail.reply_address,
        "name": mail.sender_name if mail.reply_address == mail.sender else "",
        "date": mail.date.isoformat() if mail.date else None,
        "quoted": (mail.text or mail.full_text)[:QUOTE_CHARS],
    }


@dataclass
class _Body:
    """What the MIME walk collects."""

    max_attachment_bytes: int
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[MailAttachment] = field(default_factory=list)
    content_types: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    language: str | None = None


def _parse(
    raw: bytes,
    own_address: str,
    max_bytes: int,
    max_attachment_bytes: int,
    headers_only: bool = False,
) -> ParsedMail:
    problems = [UNPARSABLE] if headers_only else []
    if len(raw) > max_bytes:
        problems.append(TRUNCATED)
    message = BytesParser(policy=policy.default).parsebytes(raw[:max_bytes], headers_only)
    assert isinstance(message, EmailMessage)  # the default policy's message factory

    headers = Headers(message)
    senders, broken_from = headers.addresses("From")
    sender_name, sender = senders[0] if senders else ("", "")
    reply_tos, _ = headers.addresses("Reply-To")
    reply_to = reply_tos[0][1] if reply_tos else ""
    recipients = headers.count("To") + headers.count("Cc")
    message_id = _message_id(headers.text("Message-ID"))
    if not message_id:
        message_id = stable_id(raw)
        problems.append(MISSING_ID)
    if not sender:
        problems.append(MISSING_FROM)
    elif broken_from:
        problems.append(BROKEN_HEADER)

    body = _Body(max_attachment_bytes)
    _walk(message, body)
    problems.extend(body.problems)
    if any(isinstance(d, _MALFORMED_DEFECTS) for part in message.walk() for d in part.defects):
        problems.append(MALFORMED)
    full_text = "\n\n".join(t for t in (body.plain or body.html) if t.strip()).strip()
    if len(full_text) > FULL_TEXT_CHARS:
        full_text = full_text[:FULL_TEXT_CHARS]
        problems.append(TEXT_CUT)
    subject = headers.text("Subject")
    references = tuple(dict.fromkeys(_MSG_ID.findall(headers.text("References"))))
    if len(references) > MAX_REFERENCES:
        references = references[:1] + references[-(MAX_REFERENCES - 1) :]
    signals = {name: headers.text(name) for name in automatic.HEADERS}
    return ParsedMail(
        message_id=message_id,
        sender=sender,
        sender_name=sender_name,
        reply_to=reply_to,
        recipients_count=recipients,
        subject=subject,
        date=_date(headers.text("Date")),
        in_reply_to=_message_id(headers.text("In-Reply-To")),
        references=references,
        text=new_text(full_text),
        full_text=full_text,
        html_only=not body.plain and bool(body.html),
        language_hint=_language(headers.text("Content-Language")) or body.language,
        attachments=tuple(body.attachments),
        automatic=automatic.reason(
            signals, body.content_types, sender, reply_to, subject, own_address
        ),
        problems=tuple(dict.fromkeys(problems)),
    )


def _message_id(value: str) -> str:
    """Return the first <id> of a header; a bare id@domain is given its brackets."""
    found = _MSG_ID.search(value)
    if found:
        return found.group(0)
    token = value.strip()
    return f"<{token}>" if token and "@" in token and " " not in token else ""


def _date(value: str) -> dt.datetime | None:
    """Return a Date header value as an aware datetime (UTC when the zone is unknown)."""
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _language(value: str) -> str | None:
    """Return pl, uk, ru or en from a Content-Language value such as "uk-UA, en"."""
    primary = value.split(",")[0].strip().lower().split("-")[0]
    primary = {"ua": "uk"}.get(primary, primary)  # "ua" is a country, often written for uk
    return primary if primary in LANGUAGES else None


# --- body --------------------------------------------------------------------------


def _walk(part: Message, body: _Body, text_wanted: bool = True) -> None:
    """Collect the body text and attachments of a part and its children."""
    kind = part.get_content_type()
    body.content_types.add(kind)
    if part.get_content_maintype() == "message":
        _attach(part, body)
    elif part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        chosen = _alternative(children) if kind == "multipart/alternative" else None
        for child in children:
            _walk(child, body, text_wanted and (chosen is None or child is chosen))
    elif kind in ("text/plain", "text/html") and not _is_file(part):
        if text_wanted:
            _add_text(part, body, kind)
    elif part.get_content_maintype() == "multipart":  # no boundary: read it as text
        if text_wanted:
            _add_text(part, body, "text/plain")
    else:
        _attach(part, body)


def _alternative(children: list[Message]) -> Message | None:
    """Pick the plain-text alternative when it has text, else the last one (RFC 2046 5.1.4)."""
    for child in children:
        if child.get_content_type() == "text/plain" and _payload(child).strip():
            return child
    return children[-1] if children else None


def _is_file(part: Message) -> bool:
    """Tell whether a text part is a file rather than the body (attachment, or named)."""
    return part.get_content_disposition() == "attachment" or bool(_filename(part))


def _add_text(part: Message, body: _Body, kind: str) -> None:
    charset = part.get_param("charset")
    if isinstance(charset, tuple):  # RFC 2231 form
        charset = email.utils.collapse_rfc2231_value(charset)
    data = _payload(part)
    if kind == "text/html" and not charset:
        declared = _META_CHARSET.search(data[:4096])
        charset = declared.group(1).decode("ascii") if declared else None
    text, problem = decode_text(data, charset)
    text = _CONTROL.sub("", text)
    if problem:
        body.problems.append(problem)
    if kind == "text/html":
        if len(text) > HTML_CHARS:
            body.problems.append(TEXT_CUT)
        body.html.append(html_to_text(text[:HTML_CHARS]))
    else:
        body.plain.append(text)
    if body.language is None:
        body.language = _language(Headers(part).text("Content-Language"))


def _payload(part: Message) -> bytes:
    """The decoded bytes of a leaf part (base64 and quoted-printable undone)."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return b""
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _attach(part: Message, body: _Body) -> None:
    name = _filename(part)
    if part.get_content_maintype() == "message":
        data = _message_bytes(part)
        if not name and part.get_content_type() in ("message/rfc822", "message/global"):
            inner = part.get_payload(0) if part.is_multipart() else None
            subject = Headers(inner).text("Subject") if isinstance(inner, Message) else ""
            name = _safe_name(f"{subject or 'message'}.eml")
    else:
        data = _payload(part)
    keep = len(data) <= body.max_attachment_bytes
    body.attachments.append(
        MailAttachment(name, part.get_content_type(), len(data), data if keep else None)
    )


def _message_bytes(part: Message) -> bytes:
    """The bytes of an attached message (or report block) as it was sent."""
    try:
        return b"".join(
            child.as_bytes(policy=policy.compat32) if isinstance(child, Message) else b""
            for child in part.get_payload()
        )
    except Exception:
        return b""


def _filename(part: Message) -> str:
    """Return the part's file name: RFC 2231 or 2047 decoded, without a path."""
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:
        name = None
    if isinstance(name, tuple):  # an RFC 2231 value the policy left undecoded
        name = email.utils.collapse_rfc2231_value(name)
    return _safe_name(decode_header_value(name)) if isinstance(name, str) else ""


def _safe_name(name: str) -> str:
    """Keep the last path component, without control characters, at most 200 characters."""
    return _UNSAFE_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()[
        :MAX_NAME_CHARS
    ]
