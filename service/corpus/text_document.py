"""Markdown or plain text, one paper per file.

Title: the first Markdown heading, else the first non-empty line. An "Abstract"
section, when present, becomes the abstract; the rest is the text.
"""

from __future__ import annotations

import re

from service.core.errors import BadInput
from service.corpus.paper import Paper

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_ABSTRACT_HEAD = re.compile(r"^\s{0,3}(?:#{1,6}\s*)?abstract\s*:?\s*$", re.IGNORECASE)


def _strip_markdown(line: str) -> str:
    line = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", line)
    line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)
    return re.sub(r"[*_`]{1,3}", "", line)


def parse_text_document(text: str, source: str | None = None, markdown: bool = False) -> Paper:
    lines = text.replace("\r\n", "\n").split("\n")
    title_idx = None
    title = ""
    if markdown:
        for i, line in enumerate(lines):
            m = _HEADING.match(line)
            if m:
                title_idx, title = i, _strip_markdown(m.group(1)).strip()
                break
    if title_idx is None:
        for i, line in enumerate(lines):
            if line.strip():
                title_idx, title = i, _strip_markdown(line.lstrip("# ")).strip()
                break
    if title_idx is None or not title:
        raise BadInput(f"{source or 'text'}: the file is empty; a paper needs a title and text")
    rest = lines[title_idx + 1 :]
    if markdown:
        rest = [_strip_markdown(line) for line in rest]
    abstract, body = _split_abstract(rest)
    if not (abstract or body):
        raise BadInput(
            f"{source or 'text'}: only a title ('{title[:80]}') was found; add the abstract or text below it"
        )
    return Paper(title=title[:1000], abstract=abstract or None, text=body or None, source=source)


def _split_abstract(lines: list[str]) -> tuple[str, str]:
    """Return (abstract, rest). The abstract is the paragraph after an 'Abstract' line."""
    for i, line in enumerate(lines):
        if _ABSTRACT_HEAD.match(line):
            after = "\n".join(lines[i + 1 :]).strip()
            para, _, remainder = after.partition("\n\n")
            return " ".join(para.split()), _clean("\n".join(lines[:i]) + "\n\n" + remainder)
    return "", _clean("\n".join(lines))


def _clean(text: str) -> str:
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)
