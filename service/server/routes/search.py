"""Hybrid passage search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.retrieval.request_check import QueryKind
from service.schemas import SearchHit, SearchOut
from service.server.deps import ServicesDep

router = APIRouter(tags=["search"])


def parse_paper_ids(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    ids = [p.strip() for p in raw.split(",") if p.strip()]
    return ids or None


@router.get("/search", response_model=SearchOut, summary="Best passages for a query")
def search(
    services: ServicesDep,
    q: Annotated[str, Query(description="What to look for.")] = "",
    k: Annotated[int | None, Query(description="How many passages (1..max_k).")] = None,
    paper_ids: Annotated[str | None, Query(description="Comma-separated paper ids to search within.")] = None,
) -> SearchOut:
    query = services.check.query(QueryKind.SEARCH, q, k, parse_paper_ids(paper_ids))
    passages = services.retriever.search(query.text, query.k, query.paper_ids)
    return SearchOut(results=[SearchHit.model_validate(p, from_attributes=True) for p in passages])
