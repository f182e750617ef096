"""Add, list, read and delete papers."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.components.vector_store.paper_records import StoredPaper
from service.core.errors import BadInput, NotFound, TooLarge
from service.corpus.loader import check_file
from service.ingest.ingest_service import IngestReport
from service.ingest.jobs import safe_name
from service.ingest.source_files import FROM_BEFORE, FilePlan, plan_files
from service.schemas import IngestOut, JobOut, PaperListOut, PaperOut, PapersIn, PaperSummaryOut
from service.server.deps import ServicesDep, SettingsDep
from service.server.responses import job_out

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


class _UploadRoute(APIRoute):
    """Reads the multipart form with this server's cap on its parts before FastAPI does
    (FastAPI then uses the form already read): too many files or fields is a 413 that says
    what to do (Starlette's own answer is a 400), and parsing stops at the part over the cap."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def read_form_first(request: Request) -> Response:
            limit = request.app.state.container.settings.max_upload_parts
            try:
                await request.form(max_files=limit, max_fields=limit)
            except StarletteHTTPException as err:
                if "Too many" not in str(err.detail):  # Starlette's words for a count over the cap
                    raise
                raise TooLarge(
                    f"more than {limit} files (or form fields) in one upload (PAPERLENS_MAX_UPLOAD_PARTS); "
                    "send them in several requests"
                ) from err
            return await handler(request)

        return read_form_first


uploads = APIRouter(route_class=_UploadRoute)  # included in `router` below


def _save(upload: UploadFile, path: Path, limit: int) -> int:
    """Copy an upload (Starlette spools it to a temporary file) to `path` in blocks; a 413
    naming the file as soon as it passes `limit` bytes."""
    name = upload.filename or "upload"
    size = 0
    upload.file.seek(0)
    with path.open("wb") as out:
        while block := upload.file.read(1 << 20):
            size += len(block)
            if size > limit:
                raise TooLarge(
                    f"{name}: file is over the {limit:,}-byte upload limit; "
                    "split it or raise PAPERLENS_MAX_UPLOAD_BYTES"
                )
            out.write(block)
    check_file(name, path)  # unknown formats and empty files are refused before anything runs
    return size


def _receive(files: list[UploadFile], folder: Path, limit: int) -> list[tuple[str, Path, int]]:
    received = []
    for i, upload in enumerate(files):
        name = upload.filename or "upload"
        path = folder / f"{i:04d}-{safe_name(name)}"
        received.append((name, path, _save(upload, path, limit)))
    return received


@uploads.post(
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
    """Files go to disk as they arrive, never whole into memory: each is copied from
    Starlette's spool to a folder of this request, and parse processes read it from there."""
    with tempfile.TemporaryDirectory(prefix="paperlens-upload-") as tmp:
        received = await run_in_threadpool(_receive, files, Path(tmp), settings.max_upload_bytes)
        size = sum(n for _, _, n in received)
        large = size > settings.sync_upload_bytes or len(received) > SYNC_MAX_FILES
        if wait is False or (wait is None and large):
            if len(received) > settings.max_papers_per_request:
                raise TooLarge(
                    f"{len(received)} files in one request; send at most {settings.max_papers_per_request}"
                )
            job = await run_in_threadpool(services.jobs.submit, [(name, path) for name, path, _ in received])
            return JSONResponse(
                job_out(job).model_dump(), status_code=202, headers={"Location": job.status_url}
            )
        papers, plans = [], dict[str, FilePlan]()
        for name, path, _ in received:
            parsed = await run_in_threadpool(services.parser.parse, name, path)
            papers += parsed
            plans.update(plan_files(name, path, parsed, settings.keep_file_max_bytes))
        _check_count(len(papers), settings.max_papers_per_request)
        report = await run_in_threadpool(services.ingest.ingest, papers, None, plans)
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
            PaperSummaryOut(
                id=p.id, title=p.title, year=p.year, url=p.url, n_chunks=p.n_chunks, **_file_fields(p)
            )
            for p in rows
        ],
        total=total,
    )


def _file_fields(paper: StoredPaper) -> dict[str, Any]:
    kept = paper.file
    return {"has_file": kept is not None, "file_type": kept.media_type if kept else None}


TEXT_WINDOW = 100_000  # characters of a paper's text one GET returns unless asked for another window
MAX_TEXT_WINDOW = 1_000_000


@router.get("/{paper_id}", response_model=PaperOut, summary="One paper with (a window of) its text")
def get_paper(
    paper_id: str,
    services: ServicesDep,
    text_offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="First character of the text to return.")
    ] = 0,
    text_limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_TEXT_WINDOW,
            description="Most characters of the text (and of the abstract) to return; "
            "`next_text_offset` says where the next window starts.",
        ),
    ] = TEXT_WINDOW,
) -> PaperOut:
    """A paper's text can be millions of characters: it comes in windows (100,000 characters,
    about 30 pages, unless `text_limit` says otherwise) so no response is unbounded."""
    paper = services.store.papers.require(paper_id)
    out = PaperOut.model_validate(paper, from_attributes=True)
    text, abstract = paper.text or "", paper.abstract or ""
    end = text_offset + text_limit
    out.text = text[text_offset:end] if paper.text is not None else None
    out.text_chars = len(text)
    out.next_text_offset = end if end < len(text) else None
    out.abstract = abstract[:text_limit] if paper.abstract is not None else None
    out.abstract_chars = len(abstract)
    out.has_file = paper.file is not None
    if paper.file is not None:
        out.file_type, out.file_name, out.file_bytes = (
            paper.file.media_type,
            paper.file.filename,
            paper.file.size,
        )
    else:
        out.no_file_reason = paper.no_file or FROM_BEFORE
    return out


@router.get(
    "/{paper_id}/file",
    response_class=FileResponse,
    responses={
        200: {
            "content": {
                "application/pdf": {},
                "text/plain": {},
                "text/markdown": {},
                "application/json": {},
                "application/x-ndjson": {},
            },
            "description": "The file the paper was added from, as uploaded.",
        }
    },
    summary="The paper's original file (a PDF, a text file)",
)
def get_paper_file(paper_id: str, services: ServicesDep) -> FileResponse:
    """The file the paper was added from, with its content type (`application/pdf` for a
    PDF). A 404 says why a paper has none: it came from a file of many papers (such as the
    sample corpus) or as JSON, or its file was over PAPERLENS_KEEP_FILE_MAX_BYTES."""
    paper = services.store.papers.require(paper_id, with_text=False)
    kept = paper.file
    if kept is None:
        raise NotFound(f"paper {paper_id!r} has no file: {paper.no_file or FROM_BEFORE}", code="no_file")
    path = services.ingest.files.path(kept.name)
    if not path.is_file():
        raise NotFound(
            f"paper {paper_id!r}: its file {kept.filename} is not in this server's DATA_DIR/files "
            "(removed by hand, or kept by another replica that does not share the folder); "
            "delete the paper and upload it again",
            code="file_missing",
        )
    return FileResponse(
        path, media_type=kept.media_type, filename=kept.filename, content_disposition_type="inline"
    )


@router.delete("/{paper_id}", status_code=204, summary="Delete a paper, its chunks and its file")
def delete_paper(paper_id: str, services: ServicesDep) -> Response:
    if not services.ingest.delete(paper_id):
        raise NotFound(f"no paper with id {paper_id!r}; GET /papers lists the ids")
    return Response(status_code=204)


router.include_router(uploads)
