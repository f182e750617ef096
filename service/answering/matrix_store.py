"""Literature matrices in SQLite (DATA_DIR/matrices.sqlite): the job, its papers, the
cells made so far. A matrix survives a restart: one that was queued or running is queued
again, and only the columns of each paper still pending are filled. Every method is one
short transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from service.answering.results import Matrix, MatrixCell, MatrixRow
from service.core.errors import NotFound
from service.generation.accounting import Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS matrices (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, query TEXT, columns TEXT NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL,
    usage TEXT NOT NULL DEFAULT '{}', engine TEXT NOT NULL DEFAULT 'llm',
    degraded INTEGER NOT NULL DEFAULT 0, model TEXT NOT NULL DEFAULT '',
    prompt_version TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS matrix_rows (
    matrix_id TEXT NOT NULL, idx INTEGER NOT NULL, paper_id TEXT NOT NULL, title TEXT NOT NULL,
    status TEXT NOT NULL, cells TEXT NOT NULL DEFAULT '{}', pending TEXT NOT NULL, error TEXT,
    PRIMARY KEY (matrix_id, idx)
);
"""
UNFINISHED = ("queued", "running")


@dataclass(frozen=True)
class PendingRow:
    idx: int
    paper_id: str
    columns: list[str]  # the columns still to fill, in table order


@dataclass(frozen=True)
class MadeBy:
    """How a paper's cells were made: added to the matrix's totals."""

    usage: Usage
    engine: str
    degraded: bool
    model: str
    prompt_version: str


class MatrixStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def create(
        self, matrix_id: str, query: str | None, columns: Sequence[str], papers: Sequence[tuple[str, str]]
    ) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO matrices (id, status, query, columns, created) VALUES (?, 'queued', ?, ?, ?)",
                (matrix_id, query, json.dumps(list(columns)), time.time()),
            )
            self._db.executemany(
                "INSERT INTO matrix_rows (matrix_id, idx, paper_id, title, status, pending) "
                "VALUES (?, ?, ?, ?, 'queued', ?)",
                [
                    (matrix_id, i, pid, title, json.dumps(list(columns)))
                    for i, (pid, title) in enumerate(papers)
                ],
            )
            self._db.execute("COMMIT")

    def add_columns(self, matrix_id: str, columns: Sequence[str]) -> None:
        """Append `columns` and queue every paper for them alone (cells already made stay)."""
        with self._lock:
            self._db.execute("BEGIN")
            (old,) = self._db.execute("SELECT columns FROM matrices WHERE id = ?", (matrix_id,)).fetchone()
            self._db.execute(
                "UPDATE matrices SET columns = ?, status = 'queued', started = NULL, finished = NULL "
                "WHERE id = ?",
                (json.dumps([*json.loads(old), *columns]), matrix_id),
            )
            rows = self._db.execute(
                "SELECT idx, pending FROM matrix_rows WHERE matrix_id = ?", (matrix_id,)
            ).fetchall()
            for idx, pending in rows:
                self._db.execute(
                    "UPDATE matrix_rows SET status = 'queued', pending = ?, error = NULL "
                    "WHERE matrix_id = ? AND idx = ?",
                    (json.dumps([*json.loads(pending), *columns]), matrix_id, idx),
                )
            self._db.execute("COMMIT")

    def columns(self, matrix_id: str) -> list[str]:
        with self._lock:
            row = self._db.execute("SELECT columns FROM matrices WHERE id = ?", (matrix_id,)).fetchone()
        if row is None:
            raise _unknown(matrix_id)
        return list(json.loads(row[0]))

    def set_status(self, matrix_id: str, status: str) -> None:
        now = time.time()
        with self._lock:
            self._db.execute(
                "UPDATE matrices SET status = ?, started = COALESCE(started, CASE WHEN ? = 'running' "
                "THEN ? END), finished = CASE WHEN ? IN ('queued', 'running') THEN NULL ELSE ? END "
                "WHERE id = ?",
                (status, status, now, status, now, matrix_id),
            )

    def status_of(self, matrix_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT status FROM matrices WHERE id = ?", (matrix_id,)).fetchone()
        return str(row[0]) if row else None

    def cancel(self, matrix_id: str) -> bool:
        """Mark an unfinished matrix and its unfinished papers cancelled; False when it had ended."""
        with self._lock:
            self._db.execute("BEGIN")
            changed = self._db.execute(
                "UPDATE matrices SET status = 'cancelled', finished = ? "
                "WHERE id = ? AND status IN ('queued', 'running')",
                (time.time(), matrix_id),
            ).rowcount
            if changed:
                self._db.execute(
                    "UPDATE matrix_rows SET status = 'cancelled' "
                    "WHERE matrix_id = ? AND status IN ('queued', 'running')",
                    (matrix_id,),
                )
            self._db.execute("COMMIT")
        return bool(changed)

    def pending_rows(self, matrix_id: str) -> list[PendingRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT idx, paper_id, pending FROM matrix_rows WHERE matrix_id = ? "
                "AND status IN ('queued', 'running') ORDER BY idx",
                (matrix_id,),
            ).fetchall()
        return [PendingRow(int(i), str(p), list(json.loads(c))) for i, p, c in rows]

    def row_started(self, matrix_id: str, idx: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE matrix_rows SET status = 'running' "
                "WHERE matrix_id = ? AND idx = ? AND status = 'queued'",
                (matrix_id, idx),
            )

    def row_done(
        self,
        matrix_id: str,
        idx: int,
        cells: dict[str, MatrixCell],
        made: MadeBy,
        error: str | None = None,
    ) -> None:
        """The paper's new cells merged into those it had; its pending columns cleared."""
        with self._lock:
            self._db.execute("BEGIN")
            (old,) = self._db.execute(
                "SELECT cells FROM matrix_rows WHERE matrix_id = ? AND idx = ?", (matrix_id, idx)
            ).fetchone()
            merged = {**json.loads(old), **{c: cell.model_dump() for c, cell in cells.items()}}
            self._db.execute(
                "UPDATE matrix_rows SET cells = ?, pending = '[]', error = ?, "
                "status = CASE WHEN status = 'cancelled' THEN status ELSE ? END "
                "WHERE matrix_id = ? AND idx = ?",
                (json.dumps(merged), error, "failed" if error else "done", matrix_id, idx),
            )
            (usage_json, degraded) = self._db.execute(
                "SELECT usage, degraded FROM matrices WHERE id = ?", (matrix_id,)
            ).fetchone()
            usage = Usage.model_validate(json.loads(usage_json) or Usage.zero().model_dump())
            usage.add(made.usage)
            self._db.execute(
                "UPDATE matrices SET usage = ?, engine = ?, degraded = ?, model = ?, prompt_version = ? "
                "WHERE id = ?",
                (
                    usage.model_dump_json(),
                    made.engine,
                    int(bool(degraded) or made.degraded),
                    made.model,
                    made.prompt_version,
                    matrix_id,
                ),
            )
            self._db.execute("COMMIT")

    def unfinished(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM matrices WHERE status IN ('queued', 'running') ORDER BY created"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def prune(self, keep: int) -> None:
        """Delete the finished matrices older than the newest `keep`."""
        with self._lock:
            self._db.execute("BEGIN")
            old = self._db.execute(
                "SELECT id FROM matrices WHERE status NOT IN ('queued', 'running') AND id NOT IN "
                "(SELECT id FROM matrices ORDER BY created DESC LIMIT ?)",
                (keep,),
            ).fetchall()
            for (matrix_id,) in old:
                self._db.execute("DELETE FROM matrix_rows WHERE matrix_id = ?", (matrix_id,))
                self._db.execute("DELETE FROM matrices WHERE id = ?", (matrix_id,))
            self._db.execute("COMMIT")

    def get(self, matrix_id: str) -> Matrix:
        with self._lock:
            job = self._db.execute(
                "SELECT status, query, columns, created, started, finished, usage, engine, degraded, model, "
                "prompt_version FROM matrices WHERE id = ?",
                (matrix_id,),
            ).fetchone()
            rows = self._db.execute(
                "SELECT paper_id, title, status, cells, error FROM matrix_rows "
                "WHERE matrix_id = ? ORDER BY idx",
                (matrix_id,),
            ).fetchall()
        if job is None:
            raise _unknown(matrix_id)
        status, query, columns, _, started, finished, usage, engine, degraded, model, version = job
        out_rows = [
            MatrixRow(
                paper_id=pid,
                title=title,
                status=row_status,
                cells={c: MatrixCell.model_validate(v) for c, v in json.loads(cells).items()},
                error=error,
            )
            for pid, title, row_status, cells, error in rows
        ]
        end = finished or time.time()
        return Matrix(
            matrix_id=matrix_id,
            status=status,
            status_url=f"/matrix/{matrix_id}",
            query=query,
            columns=json.loads(columns),
            papers_done=sum(r.status not in UNFINISHED for r in out_rows),
            papers_total=len(out_rows),
            rows=out_rows,
            engine=engine,
            degraded=bool(degraded),
            model=model,
            prompt_version=version,
            usage=Usage.model_validate(json.loads(usage) or Usage.zero().model_dump()),
            elapsed_s=round(end - started, 2) if started else 0.0,
        )


def _unknown(matrix_id: str) -> NotFound:
    return NotFound(f"no matrix {matrix_id!r}; POST /matrix returns the matrix id")
