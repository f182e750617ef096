"""Hybrid passage search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from service.core.errors import BadInput, NotFound
from service.server.deps import ServicesDep

router = APIRouter(tags=["search"])


class SearchHit(BaseModel):
    paper_id: str
    title: str
    chunk_id: str
    text: str
    score: float


class SearchOut(BaseModel):
    results: list[SearchHit]


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
    settings = services.settings
    query = q.strip()
    if not query:
        raise BadInput("q is empty: pass the text to search for, e.g. /search?q=diffusion+policy")
    if len(query) > settings.max_query_chars:
        raise BadInput(f"q is {len(query)} characters; the limit is {settings.max_query_chars}")
    k = settings.search_default_k if k is None else k
    if not 1 <= k <= settings.max_k:
        raise BadInput(f"k={k} is out of range: use 1 to {settings.max_k}", code="k_out_of_range")
    ids = parse_paper_ids(paper_ids)
    if ids:
        missing = sorted(set(ids) - services.store.existing_ids(ids))
        if missing:
            raise NotFound(f"unknown paper ids: {', '.join(missing)}")
    passages = services.retriever.search(query, k, ids)
    return SearchOut(
        results=[
            SearchHit(
                paper_id=p.paper_id,
                title=p.title,
                chunk_id=p.chunk_id,
                text=p.text,
                score=p.score,
            )
            for p in passages
        ]
    )
