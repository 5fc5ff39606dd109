"""Compare quote and signature strippers on the mail corpus; print JSON.

Usage: .venv/bin/pip install -e '.[bench]' && .venv/bin/python -m bench.mailquotes
Each method gets the whole body text our parser extracts from every corpus file and
must return the new text; it is scored on expected.yml's contains / not_contains /
text_empty. "lost" counts files where some of the writer's own words went missing,
"kept_old" files where quoted, forwarded or signature text stayed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import quotequail
from email_reply_parser import EmailReplyParser as ZapierParser
from mailparser_reply import EmailReplyParser
from mailparser_reply import constants as reply_constants
from mailparser_reply.parser import EmailMessage

from infoline.mailbox.parse import parse_mail
from infoline.mailbox.quotes import QUOTED, new_text
from tests.mail.corpus import CORPUS, MAX_ATTACHMENT_BYTES, MAX_BYTES, OWN_ADDRESS, expectations

_QUOTE = reply_constants.QUOTED_MATCH_INCLUDE
# mail-parser-reply knows no Ukrainian or Russian: these entries add what the corpus
# shows (its own shape: "wrote" header, Outlook header block, phone line).
EXTRA_LANGUAGES = {
    "uk": {
        "wrote_header": r"^(" + _QUOTE + r".*\d.*\s(?:пише|написав\(ла\)|написала?):)$",
        "from_header": r"((?:(?:^|\n|\n"
        + _QUOTE
        + r")[* ]*(?:Від|Надіслано|Кому|Тема|Дата|Копія|Від кого):[ *]*(?:\s{,2}).*){2,}"
        r"(?:\n.*){,1})",
        "disclaimers": [],
        "signatures": [],
        "sent_from": "Надіслано з|Отримати Outlook",
    },
    "ru": {
        "wrote_header": r"^("
        + _QUOTE
        + r".*\d.*(?:\s(?:пишет|написал\(а\)|написала?)|<\S+@\S+>):)$",
        "from_header": r"((?:(?:^|\n|\n"
        + _QUOTE
        + r")[* ]*(?:От|Отправлено|Кому|Тема|Дата|Копия|От кого):[ *]*(?:\s{,2}).*){2,}"
        r"(?:\n.*){,1})",
        "disclaimers": [],
        "signatures": [],
        "sent_from": "Отправлено с|Отправлено из|Получить Outlook",
    },
}


def without_quoted_lines(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not QUOTED.match(line))


def mail_parser_reply(text: str) -> str:
    return EmailReplyParser(languages=["pl", "en"]).parse_reply(text) or ""


def mail_parser_reply_extended(text: str) -> str:
    reply_constants.MAIL_LANGUAGES.update(EXTRA_LANGUAGES)
    message = EmailMessage(text=text, languages=["pl", "uk", "ru", "en"], keep_hyphen_lists=True)
    replies = message.read().replies
    return without_quoted_lines(replies[0].body) if replies else ""


def quotequail_method(text: str) -> str:
    kept = [part for expanded, part in quotequail.quote(text) if expanded]
    return without_quoted_lines("\n".join(kept))


def email_reply_parser(text: str) -> str:
    return str(ZapierParser.parse_reply(text))


METHODS: dict[str, Callable[[str], str]] = {
    "infoline (mailbox/quotes.py)": new_text,
    "mail-parser-reply, pl+en": mail_parser_reply,
    "mail-parser-reply + uk/ru patterns, hyphen lists kept": mail_parser_reply_extended,
    "quotequail": quotequail_method,
    "email-reply-parser": email_reply_parser,
}


def score(method: Callable[[str], str], bodies: dict[str, str]) -> dict[str, object]:
    """Count the files whose new text meets every expectation, and how the rest fail."""
    expected = expectations()
    passed = lost = kept_old = 0
    started = time.perf_counter()
    for name, body in bodies.items():
        expect = expected[name]
        text = method(body)
        missing = any(word not in text for word in expect.get("contains", []))
        stayed = any(word in text for word in expect.get("not_contains", []))
        stayed = stayed or bool(expect.get("text_empty") and text.strip())
        passed += not (missing or stayed)
        lost += missing
        kept_old += stayed
    return {
        "files": len(bodies),
        "passed": passed,
        "lost": lost,
        "kept_old": kept_old,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def main() -> None:
    bodies = {
        name: parse_mail(
            (CORPUS / name).read_bytes(), OWN_ADDRESS, MAX_BYTES, MAX_ATTACHMENT_BYTES
        ).full_text
        for name in sorted(expectations())
    }
    print(json.dumps({name: score(method, bodies) for name, method in METHODS.items()}))


if __name__ == "__main__":
    main()
