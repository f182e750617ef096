"""One way for evaluation scripts to talk to paperlens: in-process or a remote server.

In-process (the default) builds the service on a fresh data dir and drives it through
FastAPI's test client, so figures come through the same HTTP surface a user sees;
`--base-url` measures a deployed server instead. In-process services of one run share
one embedder and one embedded LLM (loaded by the first), as replicas would share an
LLM server: one model in memory, and every suite and baseline on the same endpoint.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from service.components.llm.client import LLMClient
from service.container import Container, build_services
from service.core.config import Settings
from service.server.app import create_app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "trending-papers.txt"
_SHARED: dict[str, Any] = {}  # the embedder and LLM handle of the first in-process service


def open_client(base_url: str | None, data_dir: Path | None = None) -> Any:
    """An httpx-like client: `.get`, `.post` with paths relative to the service root."""
    if base_url:
        return httpx.Client(base_url=base_url, timeout=120.0)
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="paperlens-eval-"))
    # one caller asking as fast as it can is a benchmark, not a client to rate-limit
    settings = Settings(data_dir=data_dir, rate_limit_per_s=0, llm_rate_limit_per_min=0, _env_file=None)
    services = build_services(settings, embedder=_SHARED.get("embedder"), llm=_SHARED.get("llm"))
    _SHARED.setdefault("embedder", services.embedder)
    _SHARED.setdefault("llm", services.llm)
    return TestClient(create_app(settings, Container.of(services)), base_url="http://localhost")


def shared_llm() -> LLMClient | None:
    """The LLM client of the in-process services (None before `open_client`, or without an
    LLM): a baseline that asks the same model the service uses."""
    handle = _SHARED.get("llm")
    return None if handle is None else handle.client


def ensure_sample_corpus(client: Any) -> dict[str, str]:
    """Upload the sample corpus (a no-op when present); return title -> paper id."""
    r = client.post("/papers/upload", files=[("files", (SAMPLE.name, SAMPLE.read_bytes(), "text/plain"))])
    r.raise_for_status()
    titles: dict[str, str] = {}
    offset = 0
    while True:
        page = client.get("/papers", params={"offset": offset, "limit": 500}).json()
        titles.update({p["title"]: p["id"] for p in page["papers"]})
        offset += len(page["papers"])
        if not page["papers"] or offset >= page["total"]:
            return titles


GUARD_COUNTERS = {
    "paperlens_injection_probes_total": "probes",
    "paperlens_paper_text_steered_total": "steered",
    "paperlens_injections_withheld_total": "withheld",
}


def guard_counters(client: Any) -> dict[str, int]:
    """What the injection guards did in this run, from `/metrics`: known-answer probes sent,
    calls not made because the shown text steered the model, and replies withheld by the
    output guard. On a clean suite, steered + withheld bound the answers the guards changed
    (a probe that passes changes nothing)."""
    r = client.get("/metrics")
    if r.status_code != 200:
        return {}
    counts: dict[str, int] = {}
    for line in r.text.splitlines():
        name, _, value = line.partition(" ")
        if name in GUARD_COUNTERS:
            counts[GUARD_COUNTERS[name]] = int(float(value))
    return counts
