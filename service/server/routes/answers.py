"""Grounded answers, summaries and comparisons (JSON, or SSE with Accept: text/event-stream)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from service.answering.summary_service import SummaryOptions
from service.generation.generate import OnDelta
from service.schemas import AskIn, AskOut, CompareIn, CompareOut, SummaryAudience, SummaryLength, SummaryOut
from service.server.deps import ServicesDep, on_busy
from service.server.responses import ask_out, compare_out, summary_out
from service.server.streaming import sse, until_gone, wants_stream

router = APIRouter(tags=["answers"], dependencies=[Depends(on_busy)])

_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE events `delta` then `final`"}
}


@router.post("/ask", response_model=AskOut, responses=_SSE, summary="A grounded answer with citations")
async def ask(body: AskIn, request: Request, services: ServicesDep) -> Any:
    query = await run_in_threadpool(services.ask.check, body)  # bad input: a plain 4xx, never a stream
    if wants_stream(request):
        return sse(lambda on_delta: ask_out(services.ask.answer(query, on_delta)))
    return await until_gone(request, lambda on_delta: ask_out(services.ask.answer(query, on_delta)))


@router.get(
    "/papers/{paper_id}/summary",
    response_model=SummaryOut,
    responses=_SSE,
    summary="A one-paragraph (or one-sentence) summary grounded in the paper's sentences",
)
async def summary(
    paper_id: str,
    request: Request,
    services: ServicesDep,
    refresh: Annotated[bool, Query(description="Regenerate instead of serving the cache.")] = False,
    audience: Annotated[
        SummaryAudience,
        Query(
            description="general: for a reader outside the field (names kept and explained); "
            "expert: for a reader in it."
        ),
    ] = "general",
    length: Annotated[
        SummaryLength, Query(description="paragraph: 90-160 words; tldr: one sentence, for lists of papers.")
    ] = "paragraph",
) -> Any:
    paper = await run_in_threadpool(services.store.papers.require, paper_id)
    options = SummaryOptions(audience, length)

    def run(on_delta: OnDelta) -> SummaryOut:
        return summary_out(services.summary.summarise(paper, refresh, on_delta, options))

    if wants_stream(request):
        return sse(run)
    return await until_gone(request, run)


@router.post("/compare", response_model=CompareOut, summary="Papers side by side, every cell quoted")
async def compare(body: CompareIn, services: ServicesDep) -> CompareOut:
    return compare_out(await run_in_threadpool(services.compare.compare, body))
