"""Citation markers ("[1]", "[2, 3]"): one pattern for every place that reads or strips them."""

from __future__ import annotations

import re

MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
"""A marker with the space before it; group 1 holds the numbers ("2, 3")."""


def strip_markers(text: str) -> str:
    """`text` without its citation markers ("[1]" is a citation, not a number)."""
    return MARKERS.sub("", text)
