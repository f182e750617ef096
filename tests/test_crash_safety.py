"""Crash safety: a process that dies mid-write (kill -9: no undo runs) leaves nothing that
the next start does not repair, and a re-ingest of the same input reports the finished
papers `unchanged` with no orphan, stale or missing chunks.

Two kinds of test: a death injected at each write step of replace and delete (the step
raises and the undo is skipped, exactly what a kill between the two leaves), and real
`kill -9` of `paperlens serve` during a 500-paper POST and during a summary, and of
`paperlens ingest`, at several moments.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.vector_store.paper_store import PaperStore
from service.container import Container, Services, build_services
from service.corpus.paper import Paper

from .conftest import free_port, make_settings, wait_for_http
from .fake_llm import FakeLLM, sleep
from .test_cli_and_server import BIN, cli_env


class Died(BaseException):
    """Stands for the process dying at this point."""


def synthetic_papers(n: int, version: int = 1) -> list[Paper]:
    topics = ["graph", "vision", "speech", "robot", "protein", "market", "climate", "language"]
    return [
        Paper(
            id=f"paper-{i:04d}",
            title=f"Study {i} of {topics[i % 8]} models",
            abstract=(
                f"We study {topics[i % 8]} model number {i} in version {version}. "
                f"It improves accuracy by {i % 17 + 1} points on benchmark {i % 5}. "
                f"The method uses {i % 7 + 2} layers and trains in {i % 11 + 1} hours."
            ),
        )
        for i in range(n)
    ]


def restart(data_dir: Path, embedder: OnnxMiniLMEmbedder) -> Services:
    """A new process's start-up (which repairs) on the same data dir."""
    container = Container(make_settings(data_dir))
    container.load()
    if container._services is None:  # pragma: no cover - shows why
        raise AssertionError(container.status[1])
    return container.services


def assert_consistent(services: Services) -> dict[str, int]:
    """Every chunk belongs to a listed paper and to the content its record names; every listed
    paper has exactly its chunks; BM25 and dense search see the same chunks. Returns chunks per paper."""
    store = services.store
    listed = {p.id: p for p in store.papers.page(0, 100_000)}
    owners = store.chunks.owners()
    per_paper: dict[str, int] = {}
    for cid, (pid, digest) in owners.items():
        assert pid in listed, f"orphan chunk {cid} of unlisted paper {pid}"
        assert digest == listed[pid].content_hash, f"stale chunk {cid} of {pid}"
        per_paper[pid] = per_paper.get(pid, 0) + 1
    for pid, paper in listed.items():
        assert per_paper.get(pid, 0) == paper.n_chunks > 0, f"{pid}: chunks missing"
    return per_paper


# --- a death at each write step ---------------------------------------------------------

WRITE_STEPS = ["chunks.upsert", "papers.records.put", "generation.bump", "chunks.delete"]


def die_after(monkeypatch: pytest.MonkeyPatch, store: PaperStore, step: str, calls: int = 1) -> None:
    """The `calls`-th call of `step` completes, then the process 'dies'; no undo runs."""
    owner: Any = store
    *path, name = step.split(".")
    for part in path:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    seen = {"n": 0}

    def dying(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        seen["n"] += 1
        if seen["n"] >= calls:
            raise Died
        return out

    monkeypatch.setattr(owner, name, dying)
    monkeypatch.setattr(store, "_undo", lambda *a, **k: None)


@pytest.mark.parametrize("step", WRITE_STEPS)
@pytest.mark.parametrize("kind", ["add", "replace"])
def test_death_at_each_write_step_of_an_ingest_is_repaired(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, monkeypatch: pytest.MonkeyPatch, step: str, kind: str
) -> None:
    data = tmp_path / "data"
    services = build_services(make_settings(data), embedder=embedder)
    services.ingest.ingest(synthetic_papers(6))
    update = synthetic_papers(6, version=2) if kind == "replace" else synthetic_papers(12)[6:]
    with monkeypatch.context() as m:
        die_after(m, services.store, step)
        with pytest.raises(Died):
            services.ingest.ingest(update)
    after = restart(data, embedder)
    assert_consistent(after)
    report = after.ingest.ingest(update)
    assert sorted(report.added + report.replaced + report.unchanged) == sorted(p.paper_id for p in update)
    done = set(report.unchanged)  # a paper whose record was written before the death is unchanged
    assert all(after.store.papers.content_hashes([p.paper_id])[p.paper_id] == p.content_hash for p in update)
    assert done <= {p.paper_id for p in update}
    assert_consistent(after)


@pytest.mark.parametrize("step", ["papers.records.delete", "summaries.drop_owner"])
def test_death_inside_delete_leaves_nothing_listed_and_delete_finishes_it(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    data = tmp_path / "data"
    services = build_services(make_settings(data), embedder=embedder)
    services.ingest.ingest(synthetic_papers(3))
    with monkeypatch.context() as m:
        die_after(m, services.store, step)
        with pytest.raises(Died):
            services.ingest.delete("paper-0001")
    assert services.store.papers.get("paper-0001") is None  # never listed without its chunks
    assert services.store.chunks.ids_of(["paper-0001"])  # chunks a crash left behind...
    assert services.ingest.delete("paper-0001")  # ...and DELETE works on an id that has only chunks
    assert not services.store.chunks.ids_of(["paper-0001"])
    with monkeypatch.context() as m:  # the same death, then a restart: swept at start-up
        die_after(m, services.store, step)
        with pytest.raises(Died):
            services.ingest.delete("paper-0002")
    after = restart(data, embedder)
    assert set(assert_consistent(after)) == {"paper-0000"}
    assert after.retriever.search("protein model 2", 10)[0].paper_id == "paper-0000"


# --- real kill -9 ------------------------------------------------------------------------


def serve(data: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    full = {**cli_env(data), "PAPERLENS_LLM": "none", **{f"PAPERLENS_{k.upper()}": v for k, v in env.items()}}
    return subprocess.Popen(
        [str(BIN / "paperlens"), "serve", "--port", str(port)],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(base: str, timeout: float = 60) -> None:
    wait_for_http(f"{base}/healthz", timeout=timeout)
    deadline = time.monotonic() + timeout
    while httpx.get(f"{base}/readyz").status_code != 200:
        assert time.monotonic() < deadline, "not ready"
        time.sleep(0.1)


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("after_s", [0.15, 1.5, 4.0])
def test_kill_9_during_a_large_post_then_restart_and_reingest(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, after_s: float
) -> None:
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    papers = [json.loads(p.model_dump_json(exclude_none=True)) for p in synthetic_papers(500)]
    proc = serve(data, port)
    try:
        wait_ready(base)
        body = {"papers": papers[:40]}
        assert httpx.post(f"{base}/papers", json=body, timeout=60).status_code == 201  # finished before
        sender = threading.Thread(
            target=lambda: _quiet_post(f"{base}/papers", {"papers": papers}), daemon=True
        )
        sender.start()
        time.sleep(after_s)
    finally:
        kill9(proc)
    after = restart(data, embedder)
    per_paper = assert_consistent(after)
    assert {f"paper-{i:04d}" for i in range(40)} <= set(per_paper)  # nothing finished is lost
    report = after.ingest.ingest(synthetic_papers(500))
    assert {f"paper-{i:04d}" for i in range(40)} <= set(report.unchanged)
    assert len(report.added) + len(report.unchanged) == 500 and not report.replaced
    assert len(assert_consistent(after)) == 500


def _quiet_post(url: str, body: dict[str, Any]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server was killed under it
        httpx.post(url, json=body, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("after_s", [0.5, 3.0])
def test_kill_9_during_cli_ingest(tmp_path: Path, embedder: OnnxMiniLMEmbedder, after_s: float) -> None:
    data = tmp_path / "data"
    source = tmp_path / "papers.jsonl"
    source.write_text("\n".join(p.model_dump_json(exclude_none=True) for p in synthetic_papers(300)))
    proc = subprocess.Popen(
        [str(BIN / "paperlens"), "ingest", str(source)],
        env=cli_env(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(after_s)
    kill9(proc)
    after = restart(data, embedder)
    before = assert_consistent(after)
    report = after.ingest.ingest(synthetic_papers(300))
    assert set(before) <= set(report.unchanged) and len(report.added) + len(report.unchanged) == 300
    assert len(assert_consistent(after)) == 300


@pytest.mark.slow
def test_kill_9_during_a_summary_leaves_no_summary_and_the_next_is_fresh(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, fake_llm: FakeLLM
) -> None:
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    llm_env = {"llm": "auto", "llm_base_url": fake_llm.base_url, "llm_model": "fake"}
    proc = serve(data, port, **llm_env)
    try:
        wait_ready(base)
        papers = [json.loads(p.model_dump_json(exclude_none=True)) for p in synthetic_papers(2)]
        assert httpx.post(f"{base}/papers", json={"papers": papers}).status_code == 201
        fake_llm.reset(sleep(20))
        threading.Thread(target=lambda: _quiet_get(f"{base}/papers/paper-0001/summary"), daemon=True).start()
        deadline = time.monotonic() + 10
        while not fake_llm.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake_llm.requests, "the summary never reached the LLM"
    finally:
        kill9(proc)
    fake_llm.reset()
    proc = serve(data, port, **llm_env)
    try:
        wait_ready(base)
        first = httpx.get(f"{base}/papers/paper-0001/summary", timeout=60).json()
        assert first["cached"] is False and not first["degraded"] and first["summary"]
        assert httpx.get(f"{base}/papers/paper-0001/summary", timeout=60).json()["cached"] is True
    finally:
        kill9(proc)


def _quiet_get(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, timeout=60)
