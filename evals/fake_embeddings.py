"""A fake OpenAI-compatible embeddings server with a fixed latency per batch, for
measuring the ingest queue without the embedder's CPU cost (this machine has 2 cores; a
real deployment's embedder is a server of its own).

Vectors are bags of words hashed into DIM dimensions (deterministic, so BM25 and the dense
side both find a paper by its words). Each request sleeps `latency_s` in a thread of its
own, so concurrent callers overlap as they would against a server with many slots.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

DIM = 64


class EmbeddingsIn(BaseModel):
    model: str
    input: list[str] | str


@dataclass
class Served:
    url: str  # the /v1 base URL
    batches: int = 0
    texts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def bag_of_words(text: str) -> list[float]:
    vec = np.zeros(DIM)
    for word in text.lower().split():
        vec[int(hashlib.md5(word.strip(".,;:()").encode()).hexdigest(), 16) % DIM] += 1.0
    norm = float(np.linalg.norm(vec)) or 1.0
    return [float(x) for x in vec / norm]


def _app(served: Served, latency_s: float) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/embeddings")
    def embeddings(body: EmbeddingsIn) -> dict[str, object]:  # a sync route: one thread per call
        texts = body.input if isinstance(body.input, list) else [body.input]
        time.sleep(latency_s)
        with served.lock:
            served.batches += 1
            served.texts += len(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": bag_of_words(t)} for i, t in enumerate(texts)
        ]
        return {
            "object": "list",
            "data": data,
            "model": body.model,
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    return app


@contextmanager
def fake_embeddings(port: int, latency_s: float = 0.05) -> Iterator[Served]:
    """The server on loopback `port` in a thread of this process, while the block runs."""
    served = Served(url=f"http://127.0.0.1:{port}/v1")
    config = uvicorn.Config(_app(served, latency_s), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield served
    finally:
        server.should_exit = True
        thread.join(timeout=10)
