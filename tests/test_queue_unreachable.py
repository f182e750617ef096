"""With PAPERLENS_QUEUE_URL set but Redis down, the service degrades in words, not 500s:
uploads that would become jobs and job lookups get 503 naming the setting, small uploads
(indexed in the request) and search go on, rate limits let requests through and the answer
cache misses. (The working topology is tests/test_scale_out.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.container import Container, build_services
from service.server.app import create_app

from .conftest import free_port, make_settings


@pytest.fixture
def down_client(tmp_path: Path, embedder: OnnxMiniLMEmbedder) -> Iterator[TestClient]:
    settings = make_settings(
        tmp_path / "data",
        queue_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        rate_limit_per_s=0.001,
        rate_limit_burst=1,
    )
    services = build_services(settings, embedder=embedder)
    with TestClient(create_app(settings, Container.of(services))) as client:
        yield client


def test_redis_down_is_a_503_for_jobs_and_nothing_else_stops(down_client: TestClient) -> None:
    text = ("# A paper about queues\n\n" + "Workers take files from a shared queue. " * 40).encode()
    r = down_client.post(
        "/papers/upload", params={"wait": "false"}, files=[("files", ("q.md", text, "text/markdown"))]
    )
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "queue_unavailable"
    assert "PAPERLENS_QUEUE_URL" in r.json()["error"]["message"]

    r = down_client.get("/jobs/0123456789abcdef")
    assert r.status_code == 503 and "PAPERLENS_QUEUE_URL" in r.json()["error"]["message"]

    small = down_client.post("/papers/upload", files=[("files", ("q.md", text, "text/markdown"))])
    assert small.status_code == 201, small.text  # indexed in the request: no queue needed
    # a burst of 1 would refuse the second request; with its buckets unreachable none is refused
    for _ in range(3):
        assert down_client.get("/search", params={"q": "shared queue"}).status_code == 200
    question = {"question": "What do workers take from the queue?"}
    for _ in range(2):  # the cache cannot keep it: asked again, answered again
        r = down_client.post("/ask", json=question)
        assert r.status_code == 200 and r.json()["cached"] is False, r.text
