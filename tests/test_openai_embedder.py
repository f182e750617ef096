"""Embeddings from an OpenAI-compatible endpoint (a small real HTTP server on loopback)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI

from service.container import build_services
from service.corpus.paper import Paper

from .conftest import free_port, make_settings, serving

DIM = 64


def bag_of_words(text: str) -> list[float]:
    vec = np.zeros(DIM)
    for word in text.lower().split():
        vec[int(hashlib.md5(word.strip(".,").encode()).hexdigest(), 16) % DIM] += 1.0
    return vec.tolist()


@contextmanager
def serve_embeddings(port: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A fake OpenAI-compatible embeddings server on loopback `port` (bag-of-words vectors)."""
    app = FastAPI()
    requests: list[dict[str, Any]] = []

    @app.post("/v1/embeddings")
    def embeddings(body: dict[str, Any]) -> dict[str, Any]:
        requests.append(body)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": bag_of_words(t)} for i, t in enumerate(texts)
        ]
        return {
            "object": "list",
            "data": data[::-1],
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    with serving(app, port) as base:
        yield f"{base}/v1", requests


@pytest.fixture(scope="module")
def embeddings_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with serve_embeddings(free_port()) as served:
        yield served


def test_remote_embeddings_index_and_search(
    embeddings_server: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, requests = embeddings_server
    settings = make_settings(
        tmp_path / "d", embedding_base_url=url, embedding_model="bow-64", embedding_batch_size=2
    )
    services = build_services(settings)
    assert services.embedder.dim == DIM and services.embedder.name == "bow-64"
    papers = [
        Paper(title="Alpha", abstract="Graph neural networks forecast weather. Skillfully."),
        Paper(title="Beta", abstract="Transformers translate languages. Accurately."),
        Paper(title="Gamma", abstract="Bandits explore arms. Optimistically."),
    ]
    services.ingest.ingest(papers)
    assert all(r["model"] == "bow-64" for r in requests)
    assert max(len(r["input"]) for r in requests) <= 2  # batched as configured
    hits = services.retriever.search("weather forecast with graph networks", 1)
    assert hits[0].title == "Alpha"
