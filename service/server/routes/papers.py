"""Add, list, read and delete papers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from service.core.errors import BadInput, NotFound, TooLarge
from service.corpus.loader import parse_bytes
from service.corpus.paper import Paper
from service.ingest.ingest_service import IngestReport
from service.server.deps import ServicesDep, SettingsDep

router = APIRouter(prefix="/papers", tags=["papers"])


class PapersIn(BaseModel):
    papers: list[Paper] = Field(description="Papers to add or replace.")


class IngestOut(BaseModel):
    added: list[str]
    unchanged: list[str]
    replaced: list[str]

    @classmethod
    def of(cls, report: IngestReport) -> IngestOut:
        return cls(added=report.added, unchanged=report.unchanged, replaced=report.replaced)


class PaperSummaryOut(BaseModel):
    id: str
    title: str
    year: int | None
    url: str | None
    n_chunks: int


class PaperListOut(BaseModel):
    papers: list[PaperSummaryOut]
    total: int


class PaperOut(PaperSummaryOut):
    abstract: str | None
    text: str | None
    authors: list[str]
    arxiv_id: str | None
    source: str | None


def _check_count(n: int, limit: int) -> None:
    if n == 0:
        raise BadInput("no papers given: send at least one")
    if n > limit:
        raise TooLarge(f"{n} papers in one request; send at most {limit} per request")


@router.post("", status_code=201, response_model=IngestOut, summary="Add papers as JSON")
def add_papers(body: PapersIn, services: ServicesDep, settings: SettingsDep) -> IngestOut:
    _check_count(len(body.papers), settings.max_papers_per_request)
    return IngestOut.of(services.ingest.ingest(body.papers))


@router.post(
    "/upload",
    status_code=201,
    response_model=IngestOut,
    summary="Upload files (.txt, .md, .json, .jsonl, .pdf)",
)
async def upload_papers(
    files: Annotated[list[UploadFile], File(description="One or more paper files.")],
    services: ServicesDep,
    settings: SettingsDep,
) -> IngestOut:
    papers: list[Paper] = []
    for upload in files:
        name = upload.filename or "upload"
        data = await upload.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise TooLarge(
                f"{name}: file is over the {settings.max_upload_bytes:,}-byte upload limit; "
                "split it or raise PAPERLENS_MAX_UPLOAD_BYTES"
            )
        papers.extend(parse_bytes(name, data))
    _check_count(len(papers), settings.max_papers_per_request)
    report = await run_in_threadpool(services.ingest.ingest, papers)
    return IngestOut.of(report)


@router.get("", response_model=PaperListOut, summary="List papers")
def list_papers(
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PaperListOut:
    rows = services.store.list_papers(offset, limit)
    return PaperListOut(
        papers=[
            PaperSummaryOut(id=p.id, title=p.title, year=p.year, url=p.url, n_chunks=p.n_chunks) for p in rows
        ],
        total=services.store.count_papers(),
    )


@router.get("/{paper_id}", response_model=PaperOut, summary="One paper with its text")
def get_paper(paper_id: str, services: ServicesDep) -> dict[str, Any]:
    paper = services.store.get_paper(paper_id)
    if paper is None:
        raise NotFound(f"no paper with id {paper_id!r}; GET /papers lists the ids")
    return {
        "id": paper.id,
        "title": paper.title,
        "year": paper.year,
        "url": paper.url,
        "n_chunks": paper.n_chunks,
        "abstract": paper.abstract,
        "text": paper.text,
        "authors": paper.authors,
        "arxiv_id": paper.arxiv_id,
        "source": paper.source,
    }


@router.delete("/{paper_id}", status_code=204, summary="Delete a paper and its chunks")
def delete_paper(paper_id: str, services: ServicesDep) -> Response:
    if not services.ingest.delete(paper_id):
        raise NotFound(f"no paper with id {paper_id!r}; GET /papers lists the ids")
    return Response(status_code=204)
