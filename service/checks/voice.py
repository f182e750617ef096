"""Third person for text a reader gets: "the authors propose", not "we propose".

Papers speak in the first person and a small model copies them; an answer that says
"we introduce X" reads as if the service wrote the paper. Checked text is rewritten
after attribution (the check compares against the papers' own words), and quotes are
left as they are: they must stay exact.
"""

from __future__ import annotations

import re

_REPLACEMENTS = [
    (re.compile(r"\bWe\b"), "The authors"),
    (re.compile(r"\bwe\b"), "the authors"),
    (re.compile(r"\bOur\b"), "Their"),
    (re.compile(r"\bour\b"), "their"),
    (re.compile(r"\bOurs\b"), "Theirs"),
    (re.compile(r"\bours\b"), "theirs"),
    (re.compile(r"\bourselves\b", re.IGNORECASE), "themselves"),
    (re.compile(r"\bus\b"), "them"),
]
# "In this paper, the authors ..." is fine; "this paper" said by the service means the cited one
_THIS_PAPER = re.compile(r"\b([Ii]n) this (paper|work|study)\b")


def third_person(text: str) -> str:
    for pattern, replacement in _REPLACEMENTS:
        text = pattern.sub(replacement, text)
    return _THIS_PAPER.sub(lambda m: f"{m.group(1)} that {m.group(2)}", text)
