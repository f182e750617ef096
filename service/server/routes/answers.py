"""Grounded answers, summaries and comparisons (JSON, or SSE with Accept: text/event-stream)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from service.server.deps import ServicesDep
from service.server.streaming import sse, wants_stream

router = APIRouter(tags=["answers"])


class AskIn(BaseModel):
    question: str = Field(description="A question about the indexed papers.")
    paper_ids: list[str] | None = Field(None, description="Only use these papers.")
    k: int | None = Field(None, description="Passages to retrieve (default 8).")


class CompareIn(BaseModel):
    paper_ids: list[str] = Field(description="2 to 5 paper ids.")
    aspects: list[str] | None = Field(
        None,
        description="Rows of the comparison; default problem, approach, evidence, key result, limitations.",
    )


class UsageOut(BaseModel):
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int


class CitationOut(BaseModel):
    n: int
    paper_id: str
    title: str
    chunk_id: str
    quote: str = Field(description="An exact sentence of the paper.")


class DroppedOut(BaseModel):
    sentence: str
    reason: str


class GeneratedOut(BaseModel):
    """What every generated response says about how it was made."""

    engine: str = Field(description='"llm" or "extractive".')
    degraded: bool = Field(description="True when the LLM was wanted but failed or is missing.")
    model: str
    prompt_version: str
    usage: UsageOut
    timings_ms: dict[str, float]


class AskOut(GeneratedOut):
    answer: str = Field(description="Carries markers [n] matching citations[].n.")
    abstained: bool
    citations: list[CitationOut]
    dropped: list[DroppedOut] = Field(description="Generated sentences removed by the checks, and why.")
    cached: bool = Field(description="Served from the answer cache (same question, store, prompt, model).")


class SummaryOut(GeneratedOut):
    paper_id: str
    title: str
    summary: str
    cached: bool


class CellOut(BaseModel):
    text: str
    quote: str


class RowOut(BaseModel):
    paper_id: str
    title: str
    cells: dict[str, CellOut]


class CompareOut(GeneratedOut):
    aspects: list[str]
    rows: list[RowOut]
    summary: str


_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE events `delta` then `final`"}
}


@router.post("/ask", response_model=AskOut, responses=_SSE, summary="A grounded answer with citations")
async def ask(body: AskIn, request: Request, services: ServicesDep) -> Any:
    if wants_stream(request):
        events = await run_in_threadpool(services.ask.stream, body.question, body.paper_ids, body.k)
        return sse(events)
    return await run_in_threadpool(services.ask.ask, body.question, body.paper_ids, body.k)


@router.get(
    "/papers/{paper_id}/summary",
    response_model=SummaryOut,
    responses=_SSE,
    summary="A plain-language one-paragraph summary",
)
async def summary(
    paper_id: str,
    request: Request,
    services: ServicesDep,
    refresh: Annotated[bool, Query(description="Regenerate instead of serving the cache.")] = False,
) -> Any:
    if wants_stream(request):
        events = await run_in_threadpool(services.summary.stream, paper_id, refresh)
        return sse(events)
    return await run_in_threadpool(services.summary.summary, paper_id, refresh)


@router.post("/compare", response_model=CompareOut, summary="Papers side by side, every cell quoted")
async def compare(body: CompareIn, services: ServicesDep) -> Any:
    return await run_in_threadpool(services.compare.compare, body.paper_ids, body.aspects)
