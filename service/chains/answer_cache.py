"""Recent /ask answers, served again while nothing they depend on has changed.

The key holds everything an answer depends on: the checked question, the paper filter,
k, the store's generation token (bumped by every ingest and delete, seen by every
replica sharing the store), the prompt version and the model. So a hit is the answer the
chain would give again, at the cost of one generation read instead of retrieval, an
embedding pass and an LLM call. Degraded answers (the LLM failed) are never kept, so a
recovered LLM answers the next time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from cachetools import LRUCache

CacheKey = tuple[str, tuple[str, ...], int, str, str, str]


class AnswerCache:
    def __init__(self, size: int) -> None:
        self._answers: LRUCache[CacheKey, dict[str, Any]] | None = LRUCache(size) if size else None
        self._lock = threading.Lock()

    @staticmethod
    def key(
        question: str, paper_ids: Sequence[str] | None, k: int, generation: str, prompt: str, model: str
    ) -> CacheKey:
        return (question, tuple(sorted(paper_ids or ())), k, generation, prompt, model)

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        if self._answers is None:
            return None
        with self._lock:
            return self._answers.get(key)

    def clear(self) -> None:
        if self._answers is not None:
            with self._lock:
                self._answers.clear()

    def put(self, key: CacheKey, result: dict[str, Any]) -> None:
        if self._answers is None or result["degraded"]:
            return
        with self._lock:
            self._answers[key] = result
