"""The new text of a mail: without the quoted earlier messages, forwards and signatures.

Mail clients introduce what they quote in their own words and languages. These are the
introductions that Gmail, Outlook, Apple Mail, Thunderbird and the Polish, Ukrainian
and Russian webmails write in Polish, Ukrainian, Russian and English, checked against
tests/mail/corpus. Everything after such an introduction is old, unless it was quoted
with '> ' and the writer answered below it (bottom posting), which is kept.
"""

from __future__ import annotations

import re

# An introduction may be wrapped over up to this many lines (Gmail wraps at 78).
MAX_WRAP = 3
MAX_INTRO_CHARS = 300

_ADDRESS = r"<?[^\s<>@]+@[^\s<>@]+>?"
# "On <date>, <name> wrote:" and its siblings. Each needs a digit (a date or a time) so
# that a sentence such as "My employer wrote:" in the writer's own text is not taken.
_ATTRIBUTIONS = [
    r"On\b.*\bwrote:",  # Gmail, Apple Mail, Thunderbird (en)
    r"W dniu\b.*\b(?:napisał\(a\)|napisała?|pisze):",  # Gmail, Thunderbird (pl)
    r"Wiadomość napisana przez\b.*:",  # Apple Mail (pl)
    r"(?:Dnia|Dn\.)\b.*\b(?:napisał\(a\)|napisała?|pisze|nadesłał):",  # older Polish clients
    r".*\b(?:пише|написав\(ла\)|написала?|написав):",  # uk: Gmail, Thunderbird, Apple Mail
    r".*\b(?:пишет|написал\(а\)|написала?):",  # ru: Thunderbird, Apple Mail, old Gmail
    r".*\d{1,2}:\d{2}.*" + _ADDRESS + r":",  # Gmail ru, mail.ru, Yandex: "…, NAME <address>:"
    r"\d{4}-\d{2}-\d{2}.*" + _ADDRESS + r"\s*(?:napisał\(a\))?:?",  # Gmail, ISO dates
]
ATTRIBUTION = re.compile(r"^(?=.*\d)(?:" + "|".join(_ATTRIBUTIONS) + r")$", re.IGNORECASE)

_FORWARD_TITLES = (
    r"Forwarded message|Forwarded Message|Original Message|Original message"
    r"|Wiadomość przekazana dalej|Przekazana wiadomość|Wiadomość oryginalna|Oryginalna wiadomość"
    r"|Przesłana wiadomość|Переслане повідомлення|Пересилане повідомлення|Оригінальне повідомлення"
    r"|Пересылаемое сообщение|Пересланное сообщение|Исходное сообщение|Оригинальное сообщение"
)
FORWARD = re.compile(
    r"^(?:-{2,}\s*(?:" + _FORWARD_TITLES + r")\s*-{2,}"
    r"|(?:Begin forwarded message|Początek przekazywanej wiadomości"
    r"|Початок пересланого повідомлення|Начало переадресованного сообщения"
    r"|Пересылаемое сообщение|Переслане повідомлення):)$",
    re.IGNORECASE,
)
# Outlook's block of the quoted message's headers, in the four languages, and the
# webmails' "Від кого:"/"От кого:". A block needs a sender line and another header.
_FROM = r"From|Od|Від|Від кого|От|От кого"
_OTHER = (
    r"Sent|Date|To|Subject|Cc|Wysłano|Wysłane|Data|Do|Temat|DW|Надіслано|Дата|Кому|Тема"
    r"|Копія|Отправлено|Копия"
)
HEADER_FROM = re.compile(r"^\*?(?:" + _FROM + r")\s?:\*?\s+\S", re.IGNORECASE)
HEADER_OTHER = re.compile(r"^\*?(?:" + _OTHER + r")\s?:\*?(?:\s|$)", re.IGNORECASE)
SEPARATOR = re.compile(r"^(?:_{10,}|-{5,}\s*(?:Original Message|Oryginalna wiadomość)?\s*-{0,})$")
QUOTED = re.compile(r"^\s*>")
BLANK_RUN = re.compile(r"\n{3,}")
SIGNATURE = re.compile(r"^(?:-- ?|--|— )$")
# The lines phones and mail apps append. Only removed near the end of the text.
APP_LINE = re.compile(
    r"^(?:Sent from|Sent with|Sent via|Get Outlook for|Wysłane z|Wysłano z|Pobierz Outlook"
    r"|Pobierz aplikację Outlook|Надіслано з|Надіслано від|Отримати Outlook|Отримайте Outlook"
    r"|Отправлено с|Отправлено из|Получить Outlook|Получите Outlook)\b.{0,80}$",
    re.IGNORECASE,
)
APP_LINE_REACH = 3  # an app line counts among the last this many non-blank lines


def new_text(text: str) -> str:
    """Return what the writer added: no quotes, forwarded messages or signature."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = _drop_old(lines)
    lines = [line for line in lines if not QUOTED.match(line)]
    lines = _drop_signature(lines)
    return BLANK_RUN.sub("\n\n", "\n".join(lines)).strip("\n")


def _drop_old(lines: list[str]) -> list[str]:
    """Cut at the first introduction of an earlier message; keep text below a '> ' quote."""
    index = 0
    while index < len(lines):
        found = _separator_at(lines, index)
        if found is None:
            found = _attribution_at(lines, index)
            # A wrapped "On … wrote:" found from this line may begin on the next: the
            # writer's last line can stand right above it without a blank line.
            while found is not None and _attribution_at(lines, index + 1) == found:
                index += 1
        if found is None:
            index += 1
            continue
        after = found
        while after < len(lines) and not lines[after].strip():
            after += 1
        if after < len(lines) and QUOTED.match(lines[after]):
            # A '> ' quote: the writer may have answered below it (bottom posting).
            while after < len(lines) and (QUOTED.match(lines[after]) or not lines[after].strip()):
                after += 1
            return lines[:index] + _drop_old(lines[after:])
        return lines[:index]
    return lines


def _separator_at(lines: list[str], index: int) -> int | None:
    """If a forward or a quoted header block starts at `index`, return where it ends."""
    line = lines[index].strip()
    if FORWARD.match(line):
        return index + 1
    if SEPARATOR.match(line):
        return _header_block(lines, index + 1)
    if HEADER_FROM.match(line):
        return _header_block(lines, index)
    return None


def _attribution_at(lines: list[str], index: int) -> int | None:
    """If an "On … wrote:" line, wrapped or not, starts at `index`, return where it ends."""
    joined = ""
    for end in range(index, min(index + MAX_WRAP, len(lines))):
        if not lines[end].strip():
            break
        joined = f"{joined} {lines[end].strip()}".strip()
        if len(joined) > MAX_INTRO_CHARS:
            break
        if joined.endswith(":") and ATTRIBUTION.match(joined.removeprefix(">").strip()):
            return end + 1
    return None


def _header_block(lines: list[str], index: int) -> int | None:
    """Return the end of an Outlook-style header block starting at `index`, if one is there."""
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines) or not HEADER_FROM.match(lines[index].strip()):
        return None
    end = index + 1
    others = 0
    while end < len(lines) and end <= index + 6:
        candidate = lines[end].strip()
        if HEADER_OTHER.match(candidate):
            others += 1
        elif others and candidate:
            break  # a wrapped header value ends the block only after a header was seen
        elif not candidate:
            break
        end += 1
    return end if others else None


def _drop_signature(lines: list[str]) -> list[str]:
    """Cut the '-- ' signature and the app line a phone appends near the end."""
    for index, line in enumerate(lines):
        if SIGNATURE.match(line):
            lines = lines[:index]
            break
    filled = [index for index, line in enumerate(lines) if line.strip()]
    for index in filled[-APP_LINE_REACH:]:
        if APP_LINE.match(lines[index].strip()):
            return lines[:index]
    return lines
