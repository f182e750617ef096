"""Numbers in generated text must appear in the sources: extraction and comparison."""

from __future__ import annotations

import re

# 10, 3.5, 1,000, 93.5%, 10x ... (digits with optional decimal/thousands parts), with the
# unit that changes their meaning: percent or times. "2D", "2.5D", "6DoF" name a kind of
# thing (a 2D track, a 6DoF pose), not a quantity: they are no numbers.
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?!\.?\d|-?(?-i:D(?:oF)?)\b)"
    r"(?:\s*(%|\\%|percent\b|x\b|\u00d7|times\b|-fold\b|fold\b))?",
    re.IGNORECASE,
)
_UNITS = {
    "%": "%",
    "\\%": "%",
    "percent": "%",
    "x": "x",
    "\u00d7": "x",
    "times": "x",
    "-fold": "x",
    "fold": "x",
}


def _canonical(whole: str, frac: str | None, unit: str | None) -> str:
    whole = whole.replace(",", "").lstrip("0") or "0"
    frac = (frac or "").rstrip("0")
    return (f"{whole}.{frac}" if frac else whole) + _UNITS.get((unit or "").lower(), "")


def numbers_in(text: str) -> set[str]:
    """Canonical numbers in `text`: "1,000" -> "1000", "2.50" -> "2.5", "40 percent" -> "40%",
    "10 times" -> "10x". A percentage is not the same claim as a bare number or a ratio."""
    return {_canonical(m.group(1), m.group(2), m.group(3)) for m in _NUMBER.finditer(text)}


def unsupported_numbers(claim: str, sources: list[str]) -> set[str]:
    """Numbers the claim states that none of the sources contains."""
    available: set[str] = set()
    for source in sources:
        available |= numbers_in(source)
    return numbers_in(claim) - available
