"""Caching of generated responses, written once for every service that caches.

`ResultCache.run(key, produce, on_delta)` serves a hit (marked `cached`, zero usage, its
own timing; a streaming caller gets the text as one delta) or runs `produce` and keeps
the result unless it is degraded, so a recovered LLM answers the next time. Where the
values live is a `CacheBackend`: `MemoryBackend` (the /ask answer cache, per process) or
the store's `SharedCache` (summaries, shared by every replica).

A key holds everything a response depends on (see `cache_key`): for /ask the question,
paper filter, k, the store's generation token, the prompt version and the model.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from cachetools import LRUCache

from service.answering.results import Made
from service.generation.accounting import Timings, Usage
from service.generation.generate import OnDelta

T = TypeVar("T", bound=Made)


def cache_key(kind: str, *parts: Any) -> str:
    """A stable key from the parts a response depends on."""
    raw = "\x1f".join(repr(p) for p in parts)
    return f"{kind}-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


class CacheBackend(Protocol):
    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str, owner: str) -> None: ...


class MemoryBackend:
    """The most recent `size` values of this process (0: keep nothing)."""

    def __init__(self, size: int) -> None:
        self._values: LRUCache[str, str] | None = LRUCache(size) if size else None
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        if self._values is None:
            return None
        with self._lock:
            return self._values.get(key)

    def put(self, key: str, value: str, owner: str) -> None:
        if self._values is not None:
            with self._lock:
                self._values[key] = value

    def clear(self) -> None:
        if self._values is not None:
            with self._lock:
                self._values.clear()


class ResultCache(Generic[T]):
    def __init__(self, backend: CacheBackend, model: type[T]) -> None:
        self.backend = backend
        self.model = model

    def get(self, key: str) -> T | None:
        timings = Timings()
        with timings.measure("cache"):
            raw = self.backend.get(key)
        if raw is None:
            return None
        hit = self.model.model_validate_json(raw)
        served = {"cached": True, "usage": Usage.zero(), "timings_ms": timings.as_dict()}
        return hit.model_copy(update=served)

    def put(self, key: str, result: T, owner: str = "") -> None:
        if not result.degraded:
            self.backend.put(key, result.model_dump_json(), owner)

    def run(
        self,
        key: str,
        produce: Callable[[], T],
        on_delta: OnDelta | None,
        *,
        owner: str = "",
        refresh: bool = False,
    ) -> T:
        """A hit when `key` has one (replayed to `on_delta`), else `produce()`, kept when sound.
        `refresh` skips the lookup but still keeps the new result."""
        hit = None if refresh else self.get(key)
        if hit is not None:
            if on_delta is not None and hit.streamed_text():
                on_delta(hit.streamed_text())
            return hit
        result = produce()
        self.put(key, result, owner)
        return result
