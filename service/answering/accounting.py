"""Per-request timing and usage, shared by the answering services (`server/responses.py`
maps `Usage` to the response model `schemas.UsageOut`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pydantic import BaseModel


class Usage(BaseModel):
    """LLM calls and tokens one result cost (zero for a cache hit)."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int

    @classmethod
    def zero(cls) -> Usage:
        return cls(llm_calls=0, prompt_tokens=0, completion_tokens=0)

    def add(self, other: Usage) -> None:
        self.llm_calls += other.llm_calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


@dataclass
class Timings:
    ms: dict[str, float] = field(default_factory=dict)
    _start: float = field(default_factory=time.perf_counter)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round(self.ms.get(name, 0.0) + (time.perf_counter() - t0) * 1000, 2)

    def add(self, name: str, seconds: float) -> None:
        self.ms[name] = round(self.ms.get(name, 0.0) + seconds * 1000, 2)

    def as_dict(self) -> dict[str, float]:
        return {**self.ms, "total": round((time.perf_counter() - self._start) * 1000, 2)}
