"""One background thread that runs submitted jobs one at a time, in the order they came.

Ingest jobs and literature-matrix jobs both queue work that outlives its request: the
request records the job (in SQLite, so it survives a restart) and hands its id here;
the thread, started on first use, runs `run(job_id)` for each id in turn. A job that
raises is reported to `failed(job_id, error)` and the worker goes on with the next.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class SerialWorker:
    def __init__(
        self, name: str, run: Callable[[str], None], failed: Callable[[str, Exception], None]
    ) -> None:
        self.name = name
        self._run = run
        self._failed = failed
        self._queue: list[str] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, job_id: str) -> None:
        """Queue `job_id` (after the jobs already queued); returns at once."""
        with self._wake:
            self._queue.append(job_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()
            self._wake.notify()

    def discard(self, job_id: str) -> bool:
        """Take a job that has not started yet off the queue; False when it was not queued."""
        with self._wake:
            if job_id in self._queue:
                self._queue.remove(job_id)
                return True
        return False

    def queued(self) -> int:
        """Jobs waiting (not counting the one running)."""
        with self._wake:
            return len(self._queue)

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                job_id = self._queue.pop(0)
            try:
                self._run(job_id)
            except Exception as err:  # the job is marked failed; the worker goes on
                log.exception("%s: job %s failed", self.name, job_id)
                self._failed(job_id, err)
