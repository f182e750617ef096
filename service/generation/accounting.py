"""Per-request timing and usage, shared by the answering services (`Usage` lives in
`core/usage.py`: the response model `schemas.UsageOut` is the same type under the API's name)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from service.core.usage import Usage as Usage  # what the services count usage in


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

    def absorb(self, ms: dict[str, float]) -> None:
        """Another request part's stages (`as_dict` of its timings) added to these; its
        total is not a stage."""
        for name, spent in ms.items():
            if name != "total":
                self.add(name, spent / 1000)

    def as_dict(self) -> dict[str, float]:
        return {**self.ms, "total": round((time.perf_counter() - self._start) * 1000, 2)}
