"""Ingest jobs: uploads that are answered at once (202) and indexed in the background.

A job's files are saved under DATA_DIR/jobs/<id>/ and its state is kept in SQLite
(DATA_DIR/jobs.sqlite), so a job survives a restart: at start-up, jobs that were queued
or running are queued again, and their finished files are re-ingested as `unchanged`
(each file is written all-or-nothing, so nothing is half-indexed). One worker thread
runs the jobs in order; within a job, parsing the next file overlaps embedding this one.
Saved files are deleted when their job ends.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from service.components.serial_worker import SerialWorker
from service.core.errors import NotFound
from service.ingest.file_ingest import FileResult, Parser, ingest_files
from service.ingest.ingest_service import IngestService

FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})  # a file's end states


class IngestFile(BaseModel):
    """One file of an ingest job (`server/responses.job_out` maps it to `JobFileOut`)."""

    name: str
    status: str  # queued, done, failed or cancelled
    paper_id: str | None = None  # the (first) paper the file added or replaced
    paper_ids: list[str] = []
    chunks: int = 0
    error: str | None = None  # why it failed, in words that say what to fix


class IngestJob(BaseModel):
    """An ingest job, whichever queue holds it (`server/responses.job_out` maps it to `JobOut`)."""

    job_id: str
    status: str  # queued, running, done, failed or cancelled
    status_url: str
    files: list[IngestFile]
    papers_done: int
    papers_total: int
    chunks_done: int


def file_view(name: str, status: str, paper_ids: list[str], chunks: int, error: str | None) -> IngestFile:
    return IngestFile(
        name=name,
        status=status,
        paper_ids=paper_ids,
        paper_id=paper_ids[0] if paper_ids else None,
        chunks=chunks,
        error=error,
    )


def job_view(job_id: str, status: str, files: list[IngestFile]) -> IngestJob:
    """A job as GET /jobs/{id} shows it, whichever queue holds it."""
    return IngestJob(
        job_id=job_id,
        status=status,
        status_url=f"/jobs/{job_id}",
        files=files,
        papers_total=len(files),
        papers_done=sum(f.status in FINISHED for f in files),
        chunks_done=sum(f.chunks for f in files),
    )


log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL, created REAL, updated REAL);
CREATE TABLE IF NOT EXISTS files (
    job_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
    status TEXT NOT NULL, paper_ids TEXT NOT NULL DEFAULT '[]', chunks INTEGER NOT NULL DEFAULT 0,
    error TEXT, PRIMARY KEY (job_id, idx)
);
"""


class JobStore:
    """Job state in SQLite; every method is one short transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def create(self, job_id: str, files: Sequence[tuple[str, Path]]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("INSERT INTO jobs VALUES (?, 'queued', ?, ?)", (job_id, now, now))
            self._db.executemany(
                "INSERT INTO files (job_id, idx, name, path, status) VALUES (?, ?, ?, ?, 'queued')",
                [(job_id, i, name, str(path)) for i, (name, path) in enumerate(files)],
            )
            self._db.execute("COMMIT")

    def set_status(self, job_id: str, status: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET status = ?, updated = ? WHERE id = ?", (status, time.time(), job_id)
            )

    def cancel(self, job_id: str) -> bool:
        """Mark an unfinished job and its unstarted files cancelled; False when it had finished."""
        with self._lock:
            self._db.execute("BEGIN")
            changed = self._db.execute(
                "UPDATE jobs SET status = 'cancelled', updated = ? "
                "WHERE id = ? AND status IN ('queued', 'running')",
                (time.time(), job_id),
            ).rowcount
            if changed:
                self._db.execute(
                    "UPDATE files SET status = 'cancelled' "
                    "WHERE job_id = ? AND status IN ('queued', 'running')",
                    (job_id,),
                )
            self._db.execute("COMMIT")
        return bool(changed)

    def status_of(self, job_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return str(row[0]) if row else None

    def file_done(self, job_id: str, idx: int, result: FileResult) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE files SET status = ?, paper_ids = ?, chunks = ?, error = ? "
                "WHERE job_id = ? AND idx = ?",
                (result.status, json.dumps(result.paper_ids), result.chunks, result.error, job_id, idx),
            )
            self._db.execute("UPDATE jobs SET updated = ? WHERE id = ?", (time.time(), job_id))

    def pending_files(self, job_id: str) -> list[tuple[int, str, Path]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT idx, name, path FROM files WHERE job_id = ? AND status IN ('queued', 'running') "
                "ORDER BY idx",
                (job_id,),
            ).fetchall()
        return [(int(i), str(n), Path(p)) for i, n, p in rows]

    def unfinished(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE status IN ('queued', 'running') ORDER BY created"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def counts(self) -> dict[str, int]:
        """Jobs by status (for /metrics)."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {str(status): int(n) for status, n in rows}

    def get(self, job_id: str) -> IngestJob:
        with self._lock:
            job = self._db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            rows = self._db.execute(
                "SELECT name, status, paper_ids, chunks, error FROM files WHERE job_id = ? ORDER BY idx",
                (job_id,),
            ).fetchall()
        if job is None:
            raise NotFound(f"no ingest job {job_id!r}; POST /papers/upload returns the job id")
        files = [
            file_view(name, status, json.loads(ids), chunks, error)
            for name, status, ids, chunks, error in rows
        ]
        return job_view(job_id, job[0], files)


class JobQueue:
    """Accepts jobs and runs them on one background thread, in order."""

    def __init__(self, ingest: IngestService, data_dir: Path, parse: Parser | None = None) -> None:
        self.ingest = ingest
        self.parse = parse
        self.files_dir = data_dir / "jobs"
        self.store = JobStore(data_dir / "jobs.sqlite")
        self.worker = SerialWorker(
            "paperlens-jobs", self._run, lambda job_id, _: self.store.set_status(job_id, "failed")
        )

    def submit(self, files: Sequence[tuple[str, Path]]) -> IngestJob:
        """Move the files (saved uploads) into the job's folder, record the job, and queue it;
        returns at once."""
        job_id = uuid.uuid4().hex[:16]
        folder = self.files_dir / job_id
        folder.mkdir(parents=True)
        saved = []
        for i, (name, source) in enumerate(files):
            path = folder / f"{i:04d}-{safe_name(name)}"
            shutil.move(source, path)
            saved.append((name, path))
        self.store.create(job_id, saved)  # files first: a recorded job always has its files
        self.worker.submit(job_id)
        return self.store.get(job_id)

    def resume(self) -> None:
        """Queue again what a previous process left unfinished."""
        for job_id in self.store.unfinished():
            log.info("resuming ingest job %s", job_id)
            self.store.set_status(job_id, "queued")
            self.worker.submit(job_id)

    def get(self, job_id: str) -> IngestJob:
        return self.store.get(job_id)

    def cancel(self, job_id: str) -> IngestJob:
        """Stop a job: files not yet started are skipped; the file being indexed finishes (its
        write is all-or-nothing). Cancelling a finished job changes nothing."""
        self.store.get(job_id)  # 404 for an unknown id
        if self.store.cancel(job_id):
            self.worker.discard(job_id)
        return self.store.get(job_id)

    def _run(self, job_id: str) -> None:
        self.store.set_status(job_id, "running")
        pending = self.store.pending_files(job_id)
        indexes = iter([i for i, _, _ in pending])  # results arrive in the order the files go in

        def on_file(result: FileResult) -> None:  # a file that landed says so, even if cancelled since
            self.store.file_done(job_id, next(indexes), result)

        def cancelled() -> bool:
            return self.store.status_of(job_id) == "cancelled"

        files = [(name, path) for _, name, path in pending]
        ingest_files(self.ingest, files, on_file, parse=self.parse, stop=cancelled)
        if cancelled():
            shutil.rmtree(self.files_dir / job_id, ignore_errors=True)
            return
        job = self.store.get(job_id)
        failed = all(f.status == "failed" for f in job.files)
        self.store.set_status(job_id, "failed" if failed else "done")
        shutil.rmtree(self.files_dir / job_id, ignore_errors=True)


def safe_name(name: str) -> str:
    """A file name safe to save an upload under."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:100] or "file"
