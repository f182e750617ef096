"""The names a user calls a paper by: the short name before its title's colon ("CARP",
"ToolChain*"), the acronyms its abstract defines in parentheses ("... Sampling (PROPS)"),
the names it gives ("naming the model Seer", "dubbed GenSim") and the one it presents
("We present rectified flow, a ..."). Computed at ingest and kept with the paper, so /ask
can tell which papers a question names without reading every abstract. A stored list is
used only while these rules are the ones that made it (`NAMES_VERSION`); a store written
by another version gets its papers' names computed again when it opens."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_DEFINED = re.compile(r"\(([A-Z][A-Za-z0-9\-]*[A-Z0-9][A-Za-z0-9*\-]*)\)")
# "naming the model Seer", "a framework called GenAD", "dubbed RoboDreamer"
_CALLED = re.compile(
    r"\b(?:call(?:ed|ing) (?:it|them)?|dubbed|named|termed|naming (?:the|our|this|it) ?(?:model|method|"
    r"framework|approach|system|policy|agent|benchmark|dataset)?)\s+([A-Z][\w*\-]*[A-Za-z0-9*])(?![\w*\-])"
    r"(?!\s+[A-Z])"  # "named Predictive Inverse Dynamics Models (PIDM)": a phrase, its acronym is the name
)
# "We present rectified flow, a surprisingly simple approach": a name in lower case, defined
# by the appositive that follows it (one to three words, no article: "we propose a new ..." is none)
_PRESENTED = re.compile(
    r"\b[Ww]e (?:present|propose|introduce) (?!(?:a|an|the|our|this|two|three|novel|new)\b)"
    r"([a-z][\w-]*(?: [a-z][\w-]*){0,2}), an? "
)
_NAME_CHARS = re.compile(r"^[\w*.+\- ]{2,30}$")


_NOT_NAMES = frozenset({"the", "this", "our", "these", "that", "it", "its"})


def title_head(title: str) -> str | None:
    """The part of a title before its first colon ("CARP" of "CARP: Visuomotor ..."), if any."""
    head, sep, _ = title.partition(":")
    return head.strip() if sep else None


NAMES_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
"""The rules' version: this module's content hash, so any change to them retires stored names."""


NAMES_SCAN_CHARS = 20_000
"""Characters of an abstract searched for names: ten long abstracts' worth. A "paper" whose
abstract is millions of characters would hold the GIL (and the event loop) for half a
second in these regexes."""


def paper_names(title: str, abstract: str | None) -> list[str]:
    abstract = (abstract or "")[:NAMES_SCAN_CHARS]
    names: set[str] = set()
    head = title_head(title)
    if head is not None and _NAME_CHARS.match(head):
        names.add(head)
    names.update(m for m in _DEFINED.findall(abstract or "") if len(m) >= 3)
    names.update(m for m in _CALLED.findall(abstract or "") if len(m) >= 3 and m.lower() not in _NOT_NAMES)
    names.update(_PRESENTED.findall(abstract or ""))
    return sorted(names)
