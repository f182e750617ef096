"""Sentence segmentation with character offsets, tuned for scientific prose.

Rule-based (no model, no data download): a sentence ends at `.`, `!` or `?` followed
by white space and a capital, digit, quote or bracket, except after common
abbreviations ("e.g.", "et al.", "Fig."), initials and inside numbers ("3.5").
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "e.g",
    "i.e",
    "al",
    "etc",
    "vs",
    "cf",
    "fig",
    "figs",
    "eq",
    "eqs",
    "sec",
    "no",
    "dr",
    "mr",
    "mrs",
    "ms",
    "prof",
    "approx",
    "resp",
    "ref",
    "refs",
    "tab",
    "ch",
    "vol",
    "pp",
    "st",
    "jr",
    "inc",
    "ltd",
    "co",
    "corp",
    "dept",
    "univ",
    "est",
    "viz",
    "v.s",
    "w.r.t",
}
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])")
_PARAGRAPH = re.compile(r"\n\s*\n")


_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ABBREVIATION_WINDOW = 24  # longer than any abbreviation: the check looks no further back


def _is_abbreviation(text: str, dot_pos: int) -> bool:
    """Whether the "." at `dot_pos` ends an abbreviation ("e.g.", "Fig.", "J."). Reads
    back at most _ABBREVIATION_WINDOW characters, so splitting stays linear in the text
    (a regex over `text[:dot_pos]` made it quadratic: 0.5 MB took two minutes)."""
    if text[dot_pos] != ".":
        return False
    lo = max(0, dot_pos - _ABBREVIATION_WINDOW)
    start = dot_pos
    while start > lo and (text[start - 1] in _LETTERS or text[start - 1] == "."):
        start -= 1
    if start == lo and lo > 0 and text[lo - 1] in _LETTERS:
        return False  # a word longer than the window: not an abbreviation
    token = text[start:dot_pos].lstrip(".")
    if not token:
        return False
    word = token.lower().rstrip(".")
    # Single capital letters are initials ("J. Smith"), not sentence ends.
    return word in _ABBREVIATIONS or (len(word) == 1 and token.isupper())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each sentence; paragraphs never merge."""
    spans: list[tuple[int, int]] = []
    para_start = 0
    paragraphs = [*(m.start() for m in _PARAGRAPH.finditer(text)), len(text)]
    para_bounds: list[tuple[int, int]] = []
    for para_end in paragraphs:
        para_bounds.append((para_start, para_end))
        nxt = _PARAGRAPH.match(text, para_end)
        para_start = nxt.end() if nxt else para_end
    for p_start, p_end in para_bounds:
        start = p_start
        for m in _BOUNDARY.finditer(text, p_start, p_end):
            if _is_abbreviation(text, m.start()):
                continue
            _append(spans, text, start, m.end())
            start = m.end()
        _append(spans, text, start, p_end)
    return spans


def _append(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


_LEADING_MARKERS = re.compile(r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
_COMPLETE_END = (".", "!", "?", "]", ")", '"', "'", "\u201d")


def complete_sentences(text: str) -> str:
    """`text` without a last sentence that was cut off (no closing punctuation or citation
    marker): what is left of a reply the model stopped at its token limit mid-sentence
    ("... focuses on efficient on-device planning and")."""
    spans = sentence_spans(text)
    while spans and not text[spans[-1][0] : spans[-1][1]].endswith(_COMPLETE_END):
        spans.pop()
    if not spans:
        return ""
    end = spans[-1][1]
    markers = _LEADING_MARKERS.match(text, end)  # "fast. [1] UVA ...": the [1] is the kept sentence's
    return text[: markers.end() if markers else end]
