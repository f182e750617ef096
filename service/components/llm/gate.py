"""A bounded queue in front of the LLM: a busy model means a fast, honest 503.

The embedded model has one llama.cpp slot; every call beyond it waits. Without a bound, a
burst of requests waits minutes and then times out into the extractive fallback. The
gate lets `concurrency` calls run and at most `queue_size` wait; a caller that would be
one too many, or that has waited `max_wait_s` without getting a slot, gets `LLMBusy`
(HTTP 503 with `Retry-After`: the expected time for the queue ahead of it to drain,
from the running mean of call durations).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from service.core.errors import PaperlensError

_ticket: ContextVar[list[bool] | None] = ContextVar("llm_admission", default=None)


class LLMBusy(PaperlensError):
    code = "llm_busy"
    status = 503

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class LLMGate:
    def __init__(self, concurrency: int, queue_size: int, max_wait_s: float) -> None:
        self.concurrency = concurrency
        self.queue_size = queue_size
        self.max_wait_s = max_wait_s
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self.waiting = 0
        self.running = 0
        self.admitted = 0  # requests past admission, not yet at a slot (retrieving)
        self._mean_call_s = 5.0  # until measured
        self.wait_total_s = 0.0  # all waits and their count, for /metrics
        self.waits = 0
        self.refused = 0

    def _full(self) -> bool:
        """No free slot and no room to wait (callers hold the lock)."""
        return self.running + self.waiting + self.admitted >= self.concurrency + self.queue_size

    def retry_after(self) -> int:
        ahead = self.waiting + self.running + self.admitted
        return max(1, math.ceil(self._mean_call_s * ahead / self.concurrency))

    def _refuse_if_full(self) -> None:
        """LLMBusy when no slot is free and no room is left to wait (the lock is held)."""
        if self._full():
            self.refused += 1
            raise LLMBusy(
                f"the model is busy: {self.running} call(s) running and {self.waiting} waiting "
                f"(PAPERLENS_LLM_QUEUE_SIZE={self.queue_size}); retry later",
                self.retry_after(),
            )

    def check(self) -> None:
        """LLMBusy now if a call would have to queue and the queue is full."""
        with self._lock:
            self._refuse_if_full()

    @contextmanager
    def admission(self) -> Iterator[None]:
        """Hold a place in the queue from the start of a request (before retrieval), so a
        burst is refused at once instead of after every request's retrieval. The first
        `slot()` inside the block uses the place; a request that needs no LLM call gives it back."""
        with self._lock:
            self._refuse_if_full()
            self.admitted += 1
        ticket = [True]  # True while the place is held and not yet used by a slot
        token = _ticket.set(ticket)
        try:
            yield
        finally:
            _ticket.reset(token)
            if ticket[0]:
                with self._lock:
                    self.admitted -= 1

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold one LLM slot for the block; yields the seconds waited for it."""
        ticket = _ticket.get()
        with self._lock:
            if ticket is not None and ticket[0]:  # admitted earlier: its place is this one
                ticket[0] = False
                self.admitted -= 1
            else:
                self._refuse_if_full()
            self.waiting += 1
        t0 = time.monotonic()
        try:
            got = self._slots.acquire(timeout=self.max_wait_s)
        finally:
            with self._lock:
                self.waiting -= 1
        waited = time.monotonic() - t0
        if not got:
            with self._lock:
                self.refused += 1
            raise LLMBusy(
                f"the model stayed busy for {self.max_wait_s:.0f} s "
                "(PAPERLENS_LLM_QUEUE_WAIT_S); retry later",
                self.retry_after(),
            )
        with self._lock:
            self.running += 1
            self.wait_total_s += waited
            self.waits += 1
        started = time.monotonic()
        try:
            yield waited
        finally:
            with self._lock:
                self.running -= 1
                self._mean_call_s = 0.8 * self._mean_call_s + 0.2 * (time.monotonic() - started)
            self._slots.release()
