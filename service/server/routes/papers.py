"""Add, list, read and delete papers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from service.core.errors import BadInput, NotFound, TooLarge
from service.corpus.loader import file_format
from service.ingest.ingest_service import IngestReport
from service.schemas import IngestOut, JobOut, PaperListOut, PaperOut, PapersIn, PaperSummaryOut
from service.server.deps import ServicesDep, SettingsDep

router = APIRouter(prefix="/papers", tags=["papers"])
SYNC_MAX_FILES = 8  # more files than this in one upload make a job, whatever their size


def _ingest_out(report: IngestReport) -> IngestOut:
    return IngestOut(added=report.added, unchanged=report.unchanged, replaced=report.replaced)


MAX_OFFSET = 2**31 - 1  # the store's integer range; larger offsets are a 422, not a 500


def _check_count(n: int, limit: int) -> None:
    if n == 0:
        raise BadInput("no papers given: send at least one")
    if n > limit:
        raise TooLarge(f"{n} papers in one request; send at most {limit} per request")


@router.post("", status_code=201, response_model=IngestOut, summary="Add papers as JSON")
def add_papers(body: PapersIn, services: ServicesDep, settings: SettingsDep) -> IngestOut:
    _check_count(len(body.papers), settings.max_papers_per_request)
    return _ingest_out(services.ingest.ingest(body.papers))


@router.post(
    "/upload",
    status_code=201,
    response_model=IngestOut,
    responses={202: {"model": JobOut, "description": "Accepted: indexing runs as an ingest job."}},
    summary="Upload files (.txt, .md, .json, .jsonl, .pdf)",
)
async def upload_papers(
    files: Annotated[list[UploadFile], File(description="One or more paper files.")],
    services: ServicesDep,
    settings: SettingsDep,
    wait: Annotated[
        bool | None,
        Query(
            description="true: index before answering (201); false: answer 202 with a job at once. "
            "Default: wait only for small uploads."
        ),
    ] = None,
) -> Any:
    received: list[tuple[str, bytes]] = []
    for upload in files:
        name = upload.filename or "upload"
        data = await upload.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise TooLarge(
                f"{name}: file is over the {settings.max_upload_bytes:,}-byte upload limit; "
                "split it or raise PAPERLENS_MAX_UPLOAD_BYTES"
            )
        file_format(name, data)  # unknown formats and empty files are refused before anything runs
        received.append((name, data))
    large = sum(len(d) for _, d in received) > settings.sync_upload_bytes or len(received) > SYNC_MAX_FILES
    if wait is False or (wait is None and large):
        if len(received) > settings.max_papers_per_request:
            raise TooLarge(
                f"{len(received)} files in one request; send at most {settings.max_papers_per_request}"
            )
        job = await run_in_threadpool(services.jobs.submit, received)
        return JSONResponse(job.model_dump(), status_code=202, headers={"Location": job.status_url})
    papers = [
        p for name, data in received for p in await run_in_threadpool(services.parser.parse, name, data)
    ]
    _check_count(len(papers), settings.max_papers_per_request)
    report = await run_in_threadpool(services.ingest.ingest, papers)
    return _ingest_out(report)


@router.get("", response_model=PaperListOut, summary="List papers")
def list_papers(
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PaperListOut:
    total = services.store.papers.count()
    rows = services.store.papers.page(offset, limit) if offset < total else []  # past the end: empty
    return PaperListOut(
        papers=[
            PaperSummaryOut(id=p.id, title=p.title, year=p.year, url=p.url, n_chunks=p.n_chunks) for p in rows
        ],
        total=total,
    )


@router.get("/{paper_id}", response_model=PaperOut, summary="One paper with its text")
def get_paper(paper_id: str, services: ServicesDep) -> PaperOut:
    return PaperOut.model_validate(services.store.papers.require(paper_id), from_attributes=True)


@router.delete("/{paper_id}", status_code=204, summary="Delete a paper and its chunks")
def delete_paper(paper_id: str, services: ServicesDep) -> Response:
    if not services.ingest.delete(paper_id):
        raise NotFound(f"no paper with id {paper_id!r}; GET /papers lists the ids")
    return Response(status_code=204)
