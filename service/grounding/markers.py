"""Citation markers ("[1]", "[2, 3]"): one pattern for every place that reads or strips them."""

from __future__ import annotations

import re

MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
"""A marker with the space before it; group 1 holds the numbers ("2, 3")."""


def strip_markers(text: str) -> str:
    """`text` without its citation markers ("[1]" is a citation, not a number)."""
    return MARKERS.sub("", text)


_ONE = re.compile(r"\[(\d+)\]")


def shift_markers(text: str, offset: int) -> str:
    """`text` with every marker [n] renumbered [n + offset] (parts joined into one text)."""
    return _ONE.sub(lambda m: f"[{int(m.group(1)) + offset}]", text)
