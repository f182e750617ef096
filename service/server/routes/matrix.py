"""The literature matrix: papers x columns, every cell quoted, built as a background job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from service.answering.matrix_export import MEDIA_TYPES, export
from service.answering.results import Matrix
from service.schemas import MatrixColumnsIn, MatrixIn, MatrixOut
from service.server.deps import ServicesDep
from service.server.responses import matrix_out

router = APIRouter(tags=["answers"])

_ACCEPTED: dict[int | str, dict[str, Any]] = {202: {"model": MatrixOut, "description": "The matrix, queued"}}
_EXPORTS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {}, "text/markdown": {}},
        "description": "JSON (the default), or the table as CSV or Markdown with `format`",
    }
}


def _accepted(matrix: Matrix, response: Response) -> MatrixOut:
    response.headers["Location"] = matrix.status_url
    return matrix_out(matrix)


@router.post(
    "/matrix",
    response_model=MatrixOut,
    status_code=202,
    responses=_ACCEPTED,
    summary="Start a literature matrix: papers x columns, every cell quoted",
)
async def create_matrix(body: MatrixIn, response: Response, services: ServicesDep) -> MatrixOut:
    """Up to PAPERLENS_MATRIX_MAX_PAPERS papers (`paper_ids`, or the `top` papers /search finds
    for `query`) and 1 to PAPERLENS_MATRIX_MAX_COLUMNS columns. Answers 202 at once; the
    papers are filled one by one (one LLM call each) and `GET /matrix/{id}` shows progress
    and the cells so far."""
    return _accepted(await run_in_threadpool(services.matrix.submit, body), response)


@router.get(
    "/matrix/{matrix_id}", response_model=MatrixOut, responses=_EXPORTS, summary="A matrix and its progress"
)
async def get_matrix(
    matrix_id: str,
    services: ServicesDep,
    format: Annotated[
        Literal["json", "csv", "md"], Query(description="json (default), csv or md (Markdown).")
    ] = "json",
) -> Any:
    matrix = await run_in_threadpool(services.matrix.get, matrix_id)
    if format == "json":
        return matrix_out(matrix)
    return Response(
        export(matrix, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="paperlens-matrix-{matrix_id}.{format}"'},
    )


@router.post(
    "/matrix/{matrix_id}/columns",
    response_model=MatrixOut,
    status_code=202,
    responses=_ACCEPTED,
    summary="Add columns to a finished matrix (only they are filled)",
)
async def add_columns(
    matrix_id: str, body: MatrixColumnsIn, response: Response, services: ServicesDep
) -> MatrixOut:
    return _accepted(await run_in_threadpool(services.matrix.add_columns, matrix_id, body), response)


@router.delete("/matrix/{matrix_id}", response_model=MatrixOut, summary="Cancel a matrix")
async def cancel_matrix(matrix_id: str, services: ServicesDep) -> MatrixOut:
    """Papers not yet started are skipped (status `cancelled`); the paper being filled finishes."""
    return matrix_out(await run_in_threadpool(services.matrix.cancel, matrix_id))
