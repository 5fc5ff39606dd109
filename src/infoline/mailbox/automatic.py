"""Mail that must never be answered, so that two robots can never answer each other.

Such mail is still stored and shown to consultants; only the automatic answer is left
out. The reasons follow RFC 3834 (automatic responses), RFC 3464 and RFC 6522 (delivery
and other reports), RFC 2369 and RFC 2919 (list headers), and what Exchange and the
common webmails write instead.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

OWN_ADDRESS = "own-address"
BOUNCE = "bounce"
MAILER_DAEMON = "mailer-daemon"
AUTO_REPLY = "auto-reply"
MAILING_LIST = "mailing-list"
BULK = "bulk"

# The headers `reason` reads, lower-cased; the parser hands over their decoded values.
HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-autoresponder",
    "x-auto-response-suppress",
    "precedence",
    "return-path",
    "x-failed-recipients",
    "list-id",
    "list-unsubscribe",
    "list-post",
    "mailing-list",
    "x-mailing-list",
)
# RFC 6522 reports, RFC 3464 delivery status, RFC 8098 read receipts.
REPORT_TYPES = frozenset(
    {
        "multipart/report",
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
    }
)
DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "mailing-list", "x-mailing-list")
# X-Auto-Response-Suppress values (Exchange) that mark the mail itself as automatic.
SUPPRESS = re.compile(r"\b(?:all|oof|autoreply)\b", re.IGNORECASE)
# Subjects of out-of-office replies whose sender sets no header at all.
AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto[- ]?reply|auto[- ]?response|automatic response"
    r"|out of (?:the )?office|odpowiedź automatyczna|automatyczna odpowiedź|autoodpowiedź"
    r"|автоматический ответ|автоответ|автоматична відповідь|автовідповідь)\b",
    re.IGNORECASE,
)


def reason(
    headers: Mapping[str, str],
    content_types: Collection[str],
    sender: str,
    reply_to: str,
    subject: str,
    own_address: str,
) -> str | None:
    """Return why a mail must not be answered, or None when a person may have written it.

    `headers` maps lower-cased names from HEADERS to decoded values; `content_types`
    holds the content types of all MIME parts; addresses are lower-cased.
    """
    # From us, or an answer would come back to us: either way one robot talks to itself.
    if own_address and own_address.strip().lower() in (sender, reply_to):
        return OWN_ADDRESS
    if _is_report(headers, content_types):
        return BOUNCE
    if sender.partition("@")[0] in DAEMONS:
        return MAILER_DAEMON
    if _is_auto_reply(headers, subject):
        return AUTO_REPLY
    precedence = headers.get("precedence", "").strip().lower()
    if any(headers.get(name) for name in LIST_HEADERS) or precedence == "list":
        return MAILING_LIST
    if precedence in ("bulk", "junk"):
        return BULK
    return None


def _is_report(headers: Mapping[str, str], content_types: Collection[str]) -> bool:
    # RFC 5321 4.5.5: notifications are sent with the null reverse-path, "<>".
    null_sender = headers.get("return-path", "").replace(" ", "") == "<>"
    return (
        null_sender
        or bool(headers.get("x-failed-recipients"))
        or any(kind in REPORT_TYPES for kind in content_types)
    )


def _is_auto_reply(headers: Mapping[str, str], subject: str) -> bool:
    # RFC 3834 5.1: any Auto-Submitted value but "no" marks automatic mail.
    submitted = headers.get("auto-submitted", "").partition(";")[0].strip().lower()
    if submitted and submitted != "no":
        return True
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        value = headers.get(name, "").strip().lower()
        if value and value not in ("no", "false", "0"):
            return True
    if SUPPRESS.search(headers.get("x-auto-response-suppress", "")):
        return True
    if headers.get("precedence", "").strip().lower() == "auto_reply":
        return True
    return bool(AUTO_SUBJECT.match(subject))
