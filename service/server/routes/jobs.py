"""Ingest jobs: what an upload answered with 202 is doing now."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from service.schemas import JobOut
from service.server.deps import ServicesDep
from service.server.responses import job_out

router = APIRouter(tags=["papers"])


@router.get("/jobs/{job_id}", response_model=JobOut, summary="Progress of an ingest job")
async def get_job(job_id: str, services: ServicesDep) -> JobOut:
    return job_out(await run_in_threadpool(services.jobs.get, job_id))


@router.delete("/jobs/{job_id}", response_model=JobOut, summary="Cancel an ingest job")
async def cancel_job(job_id: str, services: ServicesDep) -> JobOut:
    """Files not yet started are skipped (status `cancelled`); the file being indexed
    finishes whole. A finished job is returned unchanged."""
    return job_out(await run_in_threadpool(services.jobs.cancel, job_id))
