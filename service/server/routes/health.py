"""Liveness and readiness.

Both are `async`: they run on the event loop itself, never queued behind the worker
threads that answers and searches occupy, so they answer at once under any load.

With API keys on, /readyz tells a caller without a valid key only whether the service is
ready and, if not, why; paper and chunk counts and the models are for key holders. A keys
file that cannot be read makes it not ready, with the file's problem as the reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.core.api_keys import ApiKeys
from service.server.deps import ContainerDep
from service.server.errors import error_payload

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Store open and embedder loaded (503 until then)")
async def readyz(container: ContainerDep, request: Request) -> JSONResponse:
    ready, detail = container.status
    keys: ApiKeys | None = getattr(request.app.state, "api_keys", None)
    problem = keys.problem() if keys is not None else None
    if not ready or problem is not None:
        return JSONResponse(
            {"status": "not_ready", **error_payload(503, "not_ready", problem or detail)},
            status_code=503,
        )
    if keys is not None and not getattr(request.state, "key_name", None):
        return JSONResponse({"status": "ready"})  # the details are for key holders
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
