"""Validation shared by every entry point that searches or answers (HTTP and CLI alike):
the text, k and the paper ids, against the limits in the settings.

Each failure is a 4xx error whose message says what to fix. The request models in
`service.schemas` carry the hard caps; the limits here are the ones an operator tunes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from service.components.vector_store.paper_records import PaperRecords
from service.core.config import Settings
from service.core.errors import BadInput, NotFound


class QueryKind(Enum):
    """What the text is, so the message names the right field and gives the right hint."""

    SEARCH = ("q", "pass the text to search for, e.g. /search?q=diffusion+policy")
    QUESTION = ("question", "ask something about the indexed papers")

    @property
    def field(self) -> str:
        return self.value[0]

    @property
    def hint(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class CheckedQuery:
    text: str  # whitespace folded
    k: int
    paper_ids: list[str] | None  # unique, all known; None = every paper
    min_confidence: float | None = None  # the request's own precision bar (/ask)


class RequestCheck:
    def __init__(self, papers: PaperRecords, settings: Settings) -> None:
        self.papers = papers
        self.settings = settings

    def query(
        self, kind: QueryKind, text: str, k: int | None, paper_ids: Sequence[str] | None = None
    ) -> CheckedQuery:
        s = self.settings
        k = (s.search_default_k if kind is QueryKind.SEARCH else s.ask_k) if k is None else k
        text = " ".join(text.split())
        if not text:
            raise BadInput(f"{kind.field} is empty: {kind.hint}")
        if len(text) > s.max_query_chars:
            raise BadInput(
                f"{kind.field} is {len(text)} characters; the limit is {s.max_query_chars} "
                "(PAPERLENS_MAX_QUERY_CHARS)"
            )
        if not 1 <= k <= s.max_k:
            raise BadInput(f"k={k} is out of range: use 1 to {s.max_k}", code="k_out_of_range")
        return CheckedQuery(text, k, self.known_ids(paper_ids) if paper_ids else None)

    def known_ids(self, paper_ids: Sequence[str]) -> list[str]:
        """The ids once each, in the order given; unknown ids are a 404 that names them."""
        ids = list(dict.fromkeys(paper_ids))
        missing = sorted(set(ids) - self.papers.existing(ids))
        if missing:
            raise NotFound(f"unknown paper ids: {', '.join(missing)}")
        return ids
