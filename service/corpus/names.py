"""The names a user calls a paper by: the short name before its title's colon ("CARP",
"ToolChain*") and the acronyms its abstract defines in parentheses ("... Sampling
(PROPS)"). Computed at ingest and kept with the paper, so /ask can tell which papers a
question names without reading every abstract."""

from __future__ import annotations

import re

_DEFINED = re.compile(r"\(([A-Z][A-Za-z0-9\-]*[A-Z0-9][A-Za-z0-9*\-]*)\)")
_NAME_CHARS = re.compile(r"^[\w*.+\- ]{2,30}$")


def title_head(title: str) -> str | None:
    """The part of a title before its first colon ("CARP" of "CARP: Visuomotor ..."), if any."""
    head, sep, _ = title.partition(":")
    return head.strip() if sep else None


def paper_names(title: str, abstract: str | None) -> list[str]:
    names: set[str] = set()
    head = title_head(title)
    if head is not None and _NAME_CHARS.match(head):
        names.add(head)
    names.update(m for m in _DEFINED.findall(abstract or "") if len(m) >= 3)
    return sorted(names)
