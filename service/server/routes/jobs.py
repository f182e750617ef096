"""Ingest jobs: what an upload answered with 202 is doing now."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from service.schemas import JobOut
from service.server.deps import ServicesDep

router = APIRouter(tags=["papers"])


@router.get("/jobs/{job_id}", response_model=JobOut, summary="Progress of an ingest job")
async def get_job(job_id: str, services: ServicesDep) -> JobOut:
    return await run_in_threadpool(services.jobs.get, job_id)
