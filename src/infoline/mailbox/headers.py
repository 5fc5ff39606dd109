"""Header values of a parsed message, decoded by the modern policy or, where it fails, by hand.

The header registry of `email.policy.default` decodes well-formed headers, RFC 2047
words included, but raises on some broken values, keeps raw 8-bit bytes as escapes
and mangles addresses it cannot parse. Those values are decoded here from the raw
header instead, and addresses are dug out of what is left.
"""

from __future__ import annotations

import email.utils
import re
from email.headerregistry import AddressHeader
from email.message import Message

from infoline.mailbox.decode import decode_header_value

MAX_NAME_CHARS = 200
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_NAME_JUNK = re.compile(r"[<>\"()]")


class Headers:
    """Header values of one message, decoded by the policy or, where it fails, by hand."""

    def __init__(self, message: Message) -> None:
        self.message = message
        # Clients that write raw 8-bit headers write them in their body's charset.
        self.charset = next(
            (c for c in (p.get_content_charset() for p in message.walk()) if c), None
        )

    def text(self, name: str) -> str:
        """Return the decoded value of the first `name` header, "" when absent."""
        try:
            value = self.message.get(name)
            text = None if value is None else str(value)
        except Exception:  # the header registry raises on some broken values
            text = None
        if text is None or _undecoded(text):
            raw = next(iter(self._raw(name)), None)
            text = "" if raw is None else decode_header_value(raw, self.charset)
        return " ".join(text.split())

    def addresses(self, name: str) -> tuple[list[tuple[str, str]], bool]:
        """Return (display name, lower-cased address) pairs of all `name` headers.

        The second value tells whether an address had to be dug out of a broken header.
        """
        found: list[tuple[str, str]] = []
        broken = False
        for index, raw in enumerate(self._raw(name)):
            pairs = self._parsed(name, index)
            if pairs is None or any(not _ADDRESS.fullmatch(a) for _, a in pairs):
                pairs = _dig_addresses(decode_header_value(raw, self.charset))
                broken = broken or bool(pairs)
            elif any(_undecoded(display) for display, _ in pairs):
                pairs = _reparsed(decode_header_value(raw, self.charset)) or pairs
            found.extend((" ".join(d.split())[:MAX_NAME_CHARS], a.lower()) for d, a in pairs)
        return found, broken

    def count(self, name: str) -> int:
        """Count the addresses in all `name` headers, quickly (no display names needed)."""
        values = [decode_header_value(raw, self.charset) for raw in self._raw(name)]
        return sum(1 for _, address in email.utils.getaddresses(values) if "@" in address)

    def _raw(self, name: str) -> list[str]:
        """The `name` headers as they were in the mail (8-bit bytes escaped)."""
        return [v for k, v in self.message.raw_items() if k.lower() == name.lower()]

    def _parsed(self, name: str, index: int) -> list[tuple[str, str]] | None:
        """The header registry's addresses of the index-th `name` header, None if it raised."""
        try:
            header = (self.message.get_all(name) or [])[index]
            if not isinstance(header, AddressHeader):
                return None
            return [(a.display_name, a.addr_spec) for a in header.addresses]
        except Exception:
            return None


def _undecoded(text: str) -> bool:
    """Tell whether the policy left raw bytes, replacement marks or encoded words."""
    return "\ufffd" in text or "=?" in text or any("\udc80" <= c <= "\udcff" for c in text)


def _reparsed(text: str) -> list[tuple[str, str]]:
    """Parse an address list again after its raw 8-bit bytes were decoded."""
    pairs = email.utils.getaddresses([text])
    return pairs if all(_ADDRESS.fullmatch(a) for _, a in pairs) else []


def _dig_addresses(text: str) -> list[tuple[str, str]]:
    """Find the addresses in a broken header; the rest of the text is the name."""
    addresses = _ADDRESS.findall(text)
    if len(addresses) != 1:
        return [("", address) for address in addresses]
    name = _NAME_JUNK.sub(" ", text.replace(addresses[0], " "))
    return [(name, addresses[0])]
