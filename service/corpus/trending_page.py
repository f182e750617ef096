"""Parser for the text of a "trending papers" listing page (the sample corpus).

The page is blank-line separated blocks: page chrome (nav words, "Subscribe", dates,
vote counts), then for each paper a one-line title block followed by an abstract block.
A paper is a title-like block immediately followed by an abstract-like block; every
other block is chrome and ignored.
"""

from __future__ import annotations

import re

from service.corpus.paper import Paper

_MONTH_DATE = re.compile(
    r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}(?:, \d{4})?$"
)
_CHROME = re.compile(
    r"^(?:new|subscribe|trending|upvote|\d+|[\d,.]+k?\s*(?:upvotes?|stars?|comments?))$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?:\s|$)")


def _blocks(text: str) -> list[str]:
    return [b.strip() for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if b.strip()]


def _is_title(block: str) -> bool:
    if "\n" in block or not 8 <= len(block) <= 300:
        return False
    if _MONTH_DATE.match(block) or _CHROME.match(block):
        return False
    # Titles are phrases, not sentences: no sentence break inside, starts capitalised
    # or with a digit/symbol (e.g. "3D ...").
    return not _SENTENCE_END.search(block[:-1]) and not block[0].islower()


def _is_abstract(block: str) -> bool:
    return len(block) >= 200 and len(_SENTENCE_END.findall(block)) >= 2


def parse_trending_page(text: str, source: str | None = None) -> list[Paper]:
    """Every (title, abstract) pair on the page, in page order."""
    blocks = _blocks(text)
    papers: list[Paper] = []
    i = 0
    while i < len(blocks) - 1:
        title, nxt = blocks[i], blocks[i + 1]
        if _is_title(title) and _is_abstract(nxt):
            papers.append(Paper(title=title, abstract=" ".join(nxt.split()), source=source))
            i += 2
        else:
            i += 1
    return papers


def looks_like_trending_page(text: str) -> bool:
    """At least two title/abstract pairs: a listing, not a single document."""
    return len(parse_trending_page(text)) >= 2
