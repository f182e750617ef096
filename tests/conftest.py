"""Shared fixtures: one real embedding model per session, fresh stores per test."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.container import Container, Services, build_services
from service.core.config import Settings
from service.corpus.loader import load_paths
from service.corpus.paper import Paper
from service.server.app import create_app
from service.server.guards import LOOPBACK_NAMES

from .fake_llm import FakeLLM


@pytest.fixture(autouse=True)
def _nothing_learned() -> Iterator[None]:
    """What the known-answer probe learned in one test is not another test's."""
    from service.evidence.injection import forget

    forget()
    yield
    forget()


ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "trending-papers.txt"

FIXTURE_MARKERS = {"chroma_server": "chroma_server"}
"""A test that uses one of these fixtures gets its marker, so `make check` leaves it out
however it reaches the fixture (markers: pyproject.toml)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def embedder() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder()


@pytest.fixture(scope="session")
def sample_papers() -> list[Paper]:
    return load_paths([SAMPLE])


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Test settings: no LLM unless a test asks for one (then usually the fake server).
    TestClient sends `Host: testserver`, so that name is allowed beside the loopback ones;
    rate limits are off except in the tests of them (one client makes every request)."""
    base = {
        "data_dir": data_dir,
        "llm": "none",
        "allowed_hosts": [*LOOPBACK_NAMES, "testserver"],
        "rate_limit_per_s": 0,
        "llm_rate_limit_per_min": 0,
    }
    return Settings.model_validate({**base, **overrides})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def services(settings: Settings, embedder: OnnxMiniLMEmbedder) -> Services:
    return build_services(settings, embedder=embedder)


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, Container.of(services))) as c:
        yield c


@pytest.fixture(scope="session")
def sample_services(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: OnnxMiniLMEmbedder,
    sample_papers: list[Paper],
) -> Services:
    """The sample corpus, ingested once: for tests that only read."""
    services = build_services(make_settings(tmp_path_factory.mktemp("sample")), embedder=embedder)
    services.ingest.ingest(sample_papers)
    return services


@pytest.fixture
def sample_client(sample_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(sample_services.settings, Container.of(sample_services))) as c:
        yield c


@contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[str]:
    """`app` served by uvicorn on loopback (a free port unless given) in a thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on loopback; yields its URL."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert exe, "the `chroma` command (from chromadb) is not installed"
    port = free_port()
    log = (tmp_path_factory.mktemp("chroma-log") / "chroma.log").open("w")
    proc = subprocess.Popen(
        [
            exe,
            "run",
            "--path",
            str(tmp_path_factory.mktemp("chroma-server")),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/v2/heartbeat")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM()
    server.start(free_port())
    yield server
    server.stop()


def fake_llm_settings(data_dir: Path, fake: FakeLLM, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "llm": "auto",
        "llm_base_url": fake.base_url,
        "llm_model": "fake-model",
        "llm_timeout_s": 1.0,
        "llm_retry_total_s": 6.0,
        **overrides,
    }
    return make_settings(data_dir, **values)


def fake_llm_services(
    data_dir: Path, embedder: OnnxMiniLMEmbedder, papers: list[Paper], fake: FakeLLM, **overrides: object
) -> Services:
    """Services of their own behind the fake LLM (settings `overrides`), holding `papers`."""
    services = build_services(fake_llm_settings(data_dir, fake, **overrides), embedder=embedder)
    services.ingest.ingest(papers)
    return services


@pytest.fixture(scope="session")
def llm_services(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: OnnxMiniLMEmbedder,
    sample_papers: list[Paper],
    fake_llm: FakeLLM,
) -> Services:
    """The sample corpus behind the fake LLM (reset the fake's script in each test)."""
    return fake_llm_services(tmp_path_factory.mktemp("llm"), embedder, sample_papers, fake_llm)


@pytest.fixture
def llm_client(llm_services: Services, fake_llm: FakeLLM) -> Iterator[TestClient]:
    fake_llm.reset()
    llm_services.ask.memory.clear()  # each test sees the chain, not an earlier test's answer
    with TestClient(create_app(llm_services.settings, Container.of(llm_services))) as c:
        yield c


# one whole PDF (results, discussion, pages and sections) behind the fake LLM
PDF = (
    Path(__file__).resolve().parents[1]
    / "evals"
    / "data"
    / "fulltext"
    / "pdfs"
    / "10.1128_msphere.00109-24.pdf"
)


@pytest.fixture(scope="module")
def pdf_client(
    tmp_path_factory: pytest.TempPathFactory, embedder: OnnxMiniLMEmbedder, fake_llm: FakeLLM
) -> Iterator[TestClient]:
    services = fake_llm_services(tmp_path_factory.mktemp("summary-pdf"), embedder, [], fake_llm)
    with TestClient(create_app(services.settings, Container.of(services))) as client:
        r = client.post(
            "/papers/upload",
            params={"wait": "true"},
            files=[("files", (PDF.name, PDF.read_bytes(), "application/pdf"))],
        )
        assert r.status_code == 201, r.text
        yield client
