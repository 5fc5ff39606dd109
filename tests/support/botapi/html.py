"""Telegram's HTML parse mode: text with tags -> plain text and MessageEntity dicts.

The parser follows tdlib's `parse_html` (td/telegram/MessageEntity.cpp), which the Bot API
server runs: the same supported tags, the same attribute rules and the same error texts with
UTF-8 byte offsets. One deliberate difference: tdlib leaves a bare `&` or `>` as it is, but
the Bot API documentation says every `<`, `>` and `&` outside a tag or an entity must be
escaped, and a bare one here is refused, so code that forgets to escape fails in tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Tag -> the MessageEntity type it makes (span and pre/code/a/tg-emoji are special-cased).
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
SUPPORTED_TAGS = frozenset({*_SIMPLE, "a", "tg-emoji"})
# tdlib's is_space; the end of the text counts as a space there too (its strings end in NUL).
_SPACES = " \t\r\n\v\f"
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_REFERENCE = re.compile(r"&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([a-zA-Z]+));?")


class HtmlError(ValueError):
    """The text is not valid Telegram HTML; the message is tdlib's wording."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of MessageEntity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the text as the user sees it and its entities, or raise HtmlError."""
    return _Parser(text).run()


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the output where the entity starts
    start: int  # index in the output list where the entity's text starts


@dataclass
class _Parser:
    text: str
    out: list[str] = field(default_factory=list)
    utf16: int = 0
    stack: list[_Open] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        i = 0
        while i < len(self.text):
            char = self.text[i]
            if char == "&":
                i = self._reference(i)
            elif char == ">":
                raise HtmlError(f'Unescaped ">" at byte offset {self._byte(i)}')
            elif char != "<":
                self._emit(char)
                i += 1
            elif self._at(i + 1) == "/":
                i = self._end_tag(i)
            else:
                i = self._start_tag(i)
        if self.stack:
            tag = self.stack[-1].tag
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def _at(self, i: int) -> str:
        return self.text[i] if i < len(self.text) else ""

    def _is_space(self, i: int) -> bool:
        return i >= len(self.text) or self.text[i] in _SPACES

    def _byte(self, i: int) -> int:
        return len(self.text[:i].encode())

    def _emit(self, chars: str) -> None:
        self.out.append(chars)
        self.utf16 += utf16_len(chars)

    def _reference(self, i: int) -> int:
        decoded = _decode_reference(self.text, i)
        if decoded is None:
            raise HtmlError(f'Unescaped "&" at byte offset {self._byte(i)}')
        char, end = decoded
        self._emit(char)
        return end

    def _skip_spaces(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in _SPACES:
            i += 1
        return i

    def _start_tag(self, begin: int) -> int:
        i = begin + 1
        while not self._is_space(i) and self.text[i] != ">":
            i += 1
        if i >= len(self.text):
            raise HtmlError(f"Unclosed start tag at byte offset {self._byte(begin)}")
        tag = self.text[begin + 1 : i].lower()
        where = f'the tag "{tag}" at byte offset {self._byte(begin)}'
        if tag not in SUPPORTED_TAGS:
            raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {self._byte(begin)}')
        argument = ""
        while True:
            i = self._skip_spaces(i)
            if i >= len(self.text):
                raise HtmlError(f"Unclosed start tag at byte offset {self._byte(begin)}")
            if self.text[i] == ">":
                break
            name_start = i
            while not self._is_space(i) and self.text[i] not in "=>":
                i += 1
            name = self.text[name_start:i].lower()
            if not name:
                raise HtmlError(f"Empty attribute name in {where}")
            i = self._skip_spaces(i)
            if self._at(i) != "=":
                if tag == "blockquote" and name == "expandable":
                    argument = "expandable"
                    continue
                if i >= len(self.text):
                    raise HtmlError(
                        f'Unclosed start tag "{tag}" at byte offset {self._byte(begin)}'
                    )
                raise HtmlError(f"Expected equal sign in declaration of an attribute of {where}")
            i = self._skip_spaces(i + 1)
            if i >= len(self.text):
                raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {self._byte(begin)}')
            value, i = self._attribute_value(i)
            if i >= len(self.text):
                raise HtmlError(f"Unclosed start tag at byte offset {self._byte(begin)}")
            argument = _argument(tag, name, value, argument)
        if tag == "span" and argument != "spoiler":
            raise HtmlError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte(begin)}'
            )
        self.stack.append(_Open(tag, argument, self.utf16, len(self.out)))
        return i + 1

    def _attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.text[i]
        if quote not in "'\"":
            # A name token: letters, digits, periods, hyphens; not case-sensitive.
            start = i
            while i < len(self.text) and (self.text[i].isalnum() or self.text[i] in ".-"):
                i += 1
            if not self._is_space(i) and self.text[i] != ">":
                raise HtmlError(f"Unexpected end of name token at byte offset {self._byte(start)}")
            return self.text[start:i].lower(), i
        value: list[str] = []
        i += 1
        while i < len(self.text) and self.text[i] != quote:
            decoded = _decode_reference(self.text, i) if self.text[i] == "&" else None
            if decoded is None:
                value.append(self.text[i])
                i += 1
            else:
                value.append(decoded[0])
                i = decoded[1]
        return "".join(value), i + 1 if i < len(self.text) else i

    def _end_tag(self, begin: int) -> int:
        if not self.stack:
            raise HtmlError(f"Unexpected end tag at byte offset {self._byte(begin)}")
        i = begin + 2
        while not self._is_space(i) and self.text[i] != ">":
            i += 1
        name = self.text[begin + 2 : i].lower()
        i = self._skip_spaces(i)
        if self._at(i) != ">":
            raise HtmlError(f"Unclosed end tag at byte offset {self._byte(begin)}")
        opened = self.stack.pop()
        if name and name != opened.tag:
            raise HtmlError(
                f"Unmatched end tag at byte offset {self._byte(begin)}, "
                f'expected "</{opened.tag}>", found "</{name}>"'
            )
        if self.utf16 > opened.offset:
            self._close(opened)
        return i + 1

    def _close(self, opened: _Open) -> None:
        entity: dict[str, Any] = {"offset": opened.offset, "length": self.utf16 - opened.offset}
        tag, argument = opened.tag, opened.argument
        if tag == "a":
            entity.update(type="text_link", url=argument or "".join(self.out[opened.start :]))
        elif tag == "tg-emoji":
            if not argument.isdigit() or int(argument) == 0:
                raise HtmlError("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=argument)
        elif tag == "blockquote" and argument == "expandable":
            entity["type"] = "expandable_blockquote"
        elif tag == "pre" and self._last_is_code_over(entity):
            # <pre><code class="language-x">: one pre entity with the language.
            self.entities[-1]["type"] = "pre"
            return
        elif tag == "code" and argument and self._last_is(entity, "pre"):
            self.entities[-1]["language"] = argument
            return
        else:
            entity["type"] = _SIMPLE[tag]
            if tag == "code" and argument:
                entity["language"] = argument  # kept only if a <pre> closes over it
        self.entities.append(entity)

    def _last_is(self, entity: dict[str, Any], kind: str) -> bool:
        last = self.entities[-1] if self.entities else None
        return (
            last is not None
            and last["type"] == kind
            and (last["offset"], last["length"]) == (entity["offset"], entity["length"])
        )

    def _last_is_code_over(self, entity: dict[str, Any]) -> bool:
        return self._last_is(entity, "code") and "language" in self.entities[-1]


def _argument(tag: str, name: str, value: str, current: str) -> str:
    """The one attribute each tag keeps (tdlib ignores all others)."""
    if tag == "a" and name == "href":
        return value
    if tag == "code" and name == "class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if tag == "span" and name == "class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if tag == "tg-emoji" and name == "emoji-id":
        return value
    return current


def _decode_reference(text: str, i: int) -> tuple[str, int] | None:
    """Decode the character reference at text[i] ('&'): (character, index after it)."""
    match = _REFERENCE.match(text, i)
    if match is None:
        return None
    hexadecimal, decimal, name = match.groups()
    if name is not None:
        char = _NAMED.get(name)
        return None if char is None else (char, match.end())
    digits = hexadecimal or decimal
    code = int(digits, 16 if hexadecimal else 10) if len(digits) < 8 else 0
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()
