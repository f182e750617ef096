"""Citation markers ("[1]", "[2, 3]"): one pattern for every place that reads or strips them."""

from __future__ import annotations

import re

MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
"""A marker with the space before it; group 1 holds the numbers ("2, 3")."""


def strip_markers(text: str) -> str:
    """`text` without its citation markers ("[1]" is a citation, not a number)."""
    return MARKERS.sub("", text)


def shift_markers(text: str, offset: int) -> str:
    """`text` with every cited number raised by `offset` ("[1]" -> "[4]", "[1, 2]" -> "[4, 5]"):
    parts numbered on their own, joined into one text."""

    def shifted(marker: re.Match[str]) -> str:
        return re.sub(r"\d+", lambda n: str(int(n.group(0)) + offset), marker.group(0))

    return MARKERS.sub(shifted, text)
