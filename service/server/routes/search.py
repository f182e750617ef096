"""Hybrid passage search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from service.retrieval.request_check import check_search_request
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
    k = settings.search_default_k if k is None else k
    query, ids = check_search_request(
        services.store,
        q,
        k,
        settings.max_k,
        parse_paper_ids(paper_ids),
        field="q",
        max_chars=settings.max_query_chars,
        empty_hint="pass the text to search for, e.g. /search?q=diffusion+policy",
    )
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
