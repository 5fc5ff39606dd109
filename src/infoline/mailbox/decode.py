"""Best-effort decoding of mail bytes and header values; never raises.

Migrants' mail arrives in UTF-8 and in the legacy charsets of Polish, Ukrainian and
Russian mail clients, often declared wrongly or not at all. Valid UTF-8 is taken as
UTF-8; otherwise charset-normalizer picks the most plausible of the legacy charsets,
and a declared charset wins whenever its text is about as plausible as the best one.
"""

from __future__ import annotations

import binascii
import codecs
import quopri
import re

from charset_normalizer import from_bytes

# The legacy charsets of Polish, Ukrainian, Russian and Western mail clients.
LEGACY = ("cp1250", "iso8859_2", "cp1251", "koi8_r", "koi8_u", "cp1252")
# How much more "mess" (charset-normalizer's chaos ratio) the declared charset may
# show than the best candidate and still be believed.
DECLARED_SLACK = 0.1
# RFC 2047 encoded word; whitespace between two adjacent words is not part of the text.
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
ADJACENT_WORDS = re.compile(r"(\?=)\s+(=\?)")

MISMATCH = "charset-mismatch"  # a charset was declared, and the bytes are in another
GUESSED = "charset-guessed"  # 8-bit bytes without any declared charset


def codec_name(charset: str | None) -> str | None:
    """Return Python's name for a declared charset, or None when no codec knows it."""
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip('"').lower()).name
    except (LookupError, ValueError):
        return None


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode bytes in the declared charset or the most plausible one.

    Returns the text and a problem code (MISMATCH or GUESSED), or None when the
    declared charset (or plain ASCII or UTF-8) read the bytes cleanly.
    """
    if data.isascii():
        return data.decode("ascii"), None
    codec = codec_name(declared)
    problem = MISMATCH if declared else GUESSED
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text.removeprefix("\ufeff"), problem if codec != "utf-8" and declared else None
    candidates = list(LEGACY)
    if codec and codec != "utf-8" and codec not in (codec_name(c) for c in candidates):
        candidates.append(codec)
    matches = list(from_bytes(data, cp_isolation=candidates))
    if not matches:
        return data.decode(codec or "cp1252", errors="replace"), problem
    best = matches[0]
    for match in matches:
        if (
            codec
            and codec_name(match.encoding) == codec
            and match.chaos <= best.chaos + DECLARED_SLACK
        ):
            return data.decode(codec, errors="replace"), None
    return data.decode(best.encoding, errors="replace"), problem


def decode_header_value(raw: str, charset: str | None = None) -> str:
    """Decode a raw header value: raw 8-bit bytes, then RFC 2047 encoded words.

    `raw` is the value as the parser stored it, with undecodable bytes kept as
    surrogate escapes. Raw 8-bit bytes are read in `charset` when it fits them (clients
    that write such headers use their body's charset). Broken encoded words are
    decoded as far as they go.
    """
    if any("\udc80" <= ch <= "\udcff" for ch in raw):
        raw, _ = decode_text(raw.encode("ascii", "surrogateescape"), charset)
    unfolded = re.sub(r"\r?\n[ \t]+", " ", raw)
    joined = ADJACENT_WORDS.sub(r"\1\2", unfolded)
    return ENCODED_WORD.sub(_decode_word, joined).strip()


def _decode_word(match: re.Match[str]) -> str:
    charset, kind, payload = match.groups()
    if kind in "bB":
        alphabet = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        if len(alphabet) % 4 == 1:  # a lone last character carries no whole byte
            alphabet = alphabet[:-1]
        alphabet += "=" * (-len(alphabet) % 4)
        try:
            data = binascii.a2b_base64(alphabet.encode("ascii"))
        except binascii.Error:
            return match.group(0)
    else:
        data = quopri.decodestring(payload.encode("ascii", "replace"), header=True)
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*pl
    text, _ = decode_text(data, charset)
    return text
