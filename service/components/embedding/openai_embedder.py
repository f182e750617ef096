"""Embeddings from any OpenAI-compatible `/v1/embeddings` endpoint."""

from __future__ import annotations

import numpy as np
from openai import OpenAI

from service.components.embedding.embedder import Vectors, l2_normalise


class OpenAIEmbedder:
    def __init__(self, base_url: str, model: str, api_key: str, batch_size: int = 64) -> None:
        self.name = model
        self.batch_size = batch_size
        self._client = OpenAI(base_url=base_url, api_key=api_key, timeout=60.0, max_retries=3)
        self.dim = len(self._request(["dimension probe"])[0])

    def _request(self, texts: list[str]) -> list[list[float]]:
        response = self._client.embeddings.create(model=self.name, input=texts)
        return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows: list[list[float]] = []
        for b in range(0, len(texts), self.batch_size):
            rows.extend(self._request(texts[b : b + self.batch_size]))
        return l2_normalise(np.asarray(rows, dtype=np.float32))
