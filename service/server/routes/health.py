"""Liveness and readiness.

Both are `async`: they run on the event loop itself, never queued behind the worker
threads that answers and searches occupy, so they answer at once under any load.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.server.deps import ContainerDep
from service.server.errors import error_payload

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Store open and embedder loaded (503 until then)")
async def readyz(container: ContainerDep) -> JSONResponse:
    ready, detail = container.status
    if not ready:
        return JSONResponse(
            {"status": "not_ready", **error_payload(503, "not_ready", detail)},
            status_code=503,
        )
    services = container.services
    return JSONResponse(
        {
            "status": "ready",
            "papers": services.store.papers.count(),
            "chunks": services.store.chunks.count(),
            "embedder": services.embedder.name,
            "llm": services.llm.status,
            "llm_model": services.llm.model,
        }
    )
