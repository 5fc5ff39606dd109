"""Which paragraphs of a message the NLU is asked about on their own."""

from __future__ import annotations

import pytest

from infoline.core.understanding import paragraphs

QUESTION = "Where can I find a Polish language course?"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{QUESTION}\n\nDo I need a work permit?", (QUESTION, "Do I need a work permit?")),
        # Greetings and signatures of fewer than three words are not questions of their own.
        (f"Hello,\n\n{QUESTION}\n\nThank you\n\nOlena", ()),
        (
            f"Hello,\n \t\r\n{QUESTION}\r\n\r\nDo I need a permit?\r\n\r\nOlena",
            (QUESTION, "Do I need a permit?"),
        ),
        (f"{QUESTION}\nDo I need a work permit?", ()),  # one paragraph over two lines
        (
            f"Do I need\n  a permit?\n\n{QUESTION}",
            ("Do I need a permit?", QUESTION),
        ),
        ("\n\n".join([QUESTION] * 6), (QUESTION,) * 6),
        ("\n\n".join([QUESTION] * 7), ()),  # a document, not a list of questions
        ("", ()),
    ],
    ids=[
        "two",
        "greeting-and-signature",
        "crlf-and-blank-spaces",
        "one",
        "lines-joined",
        "six",
        "seven",
        "empty",
    ],
)
def test_paragraphs(text: str, expected: tuple[str, ...]) -> None:
    assert paragraphs(text) == expected
