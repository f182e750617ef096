"""Validation shared by every entry point that searches: the text, k and paper ids."""

from __future__ import annotations

from collections.abc import Sequence

from service.components.vector_store.paper_store import PaperStore
from service.core.errors import BadInput, NotFound


def check_search_request(
    store: PaperStore,
    text: str,
    k: int,
    max_k: int,
    paper_ids: Sequence[str] | None,
    *,
    field: str,
    max_chars: int,
    empty_hint: str,
) -> tuple[str, list[str] | None]:
    """(normalised text, unique paper ids or None); raises a 4xx error that says what to fix."""
    text = " ".join(text.split())
    if not text:
        raise BadInput(f"{field} is empty: {empty_hint}")
    if len(text) > max_chars:
        raise BadInput(f"{field} is {len(text)} characters; the limit is {max_chars}")
    if not 1 <= k <= max_k:
        raise BadInput(f"k={k} is out of range: use 1 to {max_k}", code="k_out_of_range")
    ids = list(dict.fromkeys(paper_ids)) if paper_ids else None
    if ids:
        missing = sorted(set(ids) - store.existing_ids(ids))
        if missing:
            raise NotFound(f"unknown paper ids: {', '.join(missing)}")
    return text, ids
