"""Text normalisation shared by the infoline's Rasa components.

Migrants write Ukrainian and Russian in Cyrillic or in Latin letters and Polish with or
without diacritics; mapping all of these onto one plain Latin spelling lets one example
teach the model every way of writing it.
"""

from __future__ import annotations

import unicodedata
from typing import Dict, List, Tuple

# Latin spellings people use for Cyrillic letters; several per letter, the first being
# the most common, so that the model sees "shcho", "scho" and "sho" alike.
UK_LATIN: Dict[str, List[str]] = {
    "а": ["a"], "б": ["b"], "в": ["v", "w"], "г": ["h", "g"], "ґ": ["g"], "д": ["d"],
    "е": ["e"], "є": ["ye", "je", "ie"], "ж": ["zh", "z", "j"], "з": ["z"],
    "и": ["y", "y", "i"], "і": ["i"], "ї": ["yi", "ji", "i"], "й": ["y", "j", "i"],
    "к": ["k"], "л": ["l"], "м": ["m"], "н": ["n"], "о": ["o"], "п": ["p"], "р": ["r"],
    "с": ["s"], "т": ["t"], "у": ["u"], "ф": ["f"], "х": ["kh", "h", "x"],
    "ц": ["ts", "c"], "ч": ["ch", "4"], "ш": ["sh", "w"], "щ": ["shch", "sch", "sh"],
    "ь": ["", "'"], "ю": ["yu", "ju", "iu"], "я": ["ya", "ja", "ia"], "'": ["", "'"],
    "’": ["", "'"], "ʼ": ["", "'"],
}
RU_LATIN: Dict[str, List[str]] = {
    "а": ["a"], "б": ["b"], "в": ["v", "w"], "г": ["g"], "д": ["d"], "е": ["e"],
    "ё": ["e", "yo", "jo"], "ж": ["zh", "j", "z"], "з": ["z"], "и": ["i"],
    "й": ["y", "j", "i"], "к": ["k"], "л": ["l"], "м": ["m"], "н": ["n"], "о": ["o"],
    "п": ["p"], "р": ["r"], "с": ["s"], "т": ["t"], "у": ["u"], "ф": ["f"],
    "х": ["h", "kh", "x"], "ц": ["ts", "c"], "ч": ["ch", "4"], "ш": ["sh", "w"],
    "щ": ["sch", "shch", "w"], "ъ": ["", "'"], "ы": ["y", "i"], "ь": ["", "'"],
    "э": ["e"], "ю": ["yu", "ju", "iu"], "я": ["ya", "ja", "ia"],
}
TRANSLITERATIONS = {"uk": UK_LATIN, "ru": RU_LATIN}
# One spelling for any Cyrillic text, whichever of the two languages it is.
_ANY_CYRILLIC = {**RU_LATIN, **UK_LATIN}


def transliterate(text: str, table: Dict[str, List[str]], variant: int = 0) -> str:
    """Write Cyrillic text in Latin letters the way people type it (variant picks spellings)."""
    out = []
    for index, char in enumerate(text):
        lower = char.lower()
        options = table.get(lower)
        if options is None:
            out.append(char)
            continue
        latin = options[(variant + index) % len(options)] if variant else options[0]
        out.append(latin.upper() if char != lower and latin else latin)
    return "".join(out)


def strip_diacritics(text: str) -> str:
    """Drop accents the way Polish is typed on a phone without a Polish keyboard."""
    text = text.replace("ł", "l").replace("Ł", "L")
    decomposed = unicodedata.normalize("NFD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", plain)


def plain_latin(text: str) -> str:
    """Lower-case, transliterate and strip accents: one spelling for every way of writing."""
    return strip_diacritics(transliterate(text.lower(), _ANY_CYRILLIC))


def script_counts(text: str) -> Tuple[int, int, int]:
    """Count the Latin, Cyrillic and other letters in a text."""
    latin = cyrillic = other = 0
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        if name.startswith("LATIN"):
            latin += 1
        elif name.startswith("CYRILLIC"):
            cyrillic += 1
        else:
            other += 1
    return latin, cyrillic, other
