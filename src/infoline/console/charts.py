"""Charts as geometry: bars with positions and sizes that a template draws as inline SVG.

The arithmetic is here, where it can be tested; the markup is in templates/charts.html,
where Jinja2 escapes every label. No JavaScript library is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LABEL_WIDTH = 170  # horizontal charts: room for a topic id on the left
VALUE_WIDTH = 50  # and for the value on the right
ROW = 20
AXIS = 24  # column charts: room for the labels under the bars


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str  # the value as printed beside the bar
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    title: str
    kind: str  # "bars" (horizontal, one row each) or "columns" (vertical, e.g. by day)
    width: int
    height: int
    bars: tuple[Bar, ...]


def _shown(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def bar_chart(title: str, items: Sequence[tuple[str, float]], width: int = 520) -> Chart:
    """Lay out one horizontal bar per item, longest for the largest value."""
    top = max((value for _, value in items), default=0) or 1
    room = width - LABEL_WIDTH - VALUE_WIDTH
    bars = tuple(
        Bar(label, value, _shown(value), LABEL_WIDTH, i * ROW + 2, room * value / top, ROW - 4)
        for i, (label, value) in enumerate(items)
    )
    return Chart(title, "bars", width, max(len(items), 1) * ROW, bars)


def column_chart(
    title: str, items: Sequence[tuple[str, float]], width: int = 520, height: int = 180
) -> Chart:
    """Lay out one vertical column per item (a day, say), tallest for the largest value."""
    top = max((value for _, value in items), default=0) or 1
    slot = width / max(len(items), 1)
    room = height - AXIS - 12  # 12: the value printed above the tallest column
    bars = []
    for i, (label, value) in enumerate(items):
        tall = room * value / top
        bars.append(
            Bar(label, value, _shown(value), i * slot + 1, height - AXIS - tall, slot - 2, tall)
        )
    return Chart(title, "columns", width, height, tuple(bars))
