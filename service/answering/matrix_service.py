"""POST /matrix: a literature matrix (papers x columns, every cell quoted) as a background job.

The request is checked at once (4xx saying what to fix), the papers are fixed (the ids
given, or the best `top` papers /search finds for `query`), the matrix is recorded
(`matrix_store`) and answered 202; one worker thread (`SerialWorker`, as ingest jobs use)
fills the papers in order, one LLM call per paper for all its pending columns
(`matrix_engine`), and records each paper's cells as it finishes, so `GET /matrix/{id}`
shows progress and the cells so far. Adding a column queues every paper for that column
alone; the cells already made stay. A paper the LLM failed on is marked failed with the
reason and the job goes on; a full LLM queue makes the job wait, not fail.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence

from service.answering.matrix_engine import Cell, MatrixEngine
from service.answering.matrix_store import MadeBy, MatrixStore
from service.answering.results import Matrix, MatrixCell
from service.components.llm.gate import LLMBusy
from service.components.serial_worker import SerialWorker
from service.components.vector_store.paper_store import PaperStore
from service.core.config import Settings
from service.core.errors import BadInput, NotReady, PaperlensError
from service.generation.accounting import Timings, Usage
from service.retrieval.request_check import RequestCheck
from service.retrieval.retriever import HybridRetriever
from service.schemas import MAX_COLUMN_CHARS, MatrixColumnsIn, MatrixIn

log = logging.getLogger(__name__)


class MatrixQueueFull(PaperlensError):
    code = "matrix_queue_full"
    status = 503

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "60"}


def check_columns(columns: Sequence[str], have: Sequence[str], limit: int) -> list[str]:
    """The columns, whitespace folded; 400 naming what to fix for an empty, over-long or
    repeated column, or too many in all (`have` are the matrix's columns already)."""
    folded = [" ".join(c.split()) for c in columns]
    if not folded:
        raise BadInput(
            "columns is empty: give 1 or more short questions or aspects, e.g. ['dataset', 'model size']"
        )
    for i, column in enumerate(folded):
        if not column:
            raise BadInput(f"columns[{i}] is empty: write a short question or aspect")
        if len(column) > MAX_COLUMN_CHARS:
            raise BadInput(
                f"columns[{i}] is {len(column)} characters; shorten it to at most {MAX_COLUMN_CHARS}"
            )
    seen = {c.lower() for c in have}
    for column in folded:
        if column.lower() in seen:
            raise BadInput(
                f"column {column!r} is given twice (or the matrix has it already); drop the repeat"
            )
        seen.add(column.lower())
    if len(have) + len(folded) > limit:
        raise BadInput(
            f"a matrix takes 1 to {limit} columns (PAPERLENS_MATRIX_MAX_COLUMNS); "
            f"this would make {len(have) + len(folded)}: drop some"
        )
    return folded


def matrix_cell(cell: Cell) -> MatrixCell:
    return MatrixCell(
        answer=cell.answer,
        quote=cell.quote,
        reported=cell.reported,
        reason=cell.reason,
        page=cell.page,
        section=cell.section,
    )


class MatrixService:
    def __init__(
        self,
        papers: PaperStore,
        retriever: HybridRetriever,
        engine: MatrixEngine,
        check: RequestCheck,
        settings: Settings,
    ) -> None:
        self.papers = papers
        self.retriever = retriever
        self.engine = engine
        self.request_check = check
        self.settings = settings
        self.store = MatrixStore(settings.data_dir / "matrices.sqlite")
        self.worker = SerialWorker("paperlens-matrix", self._run, self._failed)
        self._submit_lock = threading.Lock()

    # --- requests ---------------------------------------------------------------------------
    def _papers_of(self, request: MatrixIn) -> list[str]:
        s = self.settings
        if (request.paper_ids is None) == (request.query is None):
            raise BadInput(
                "give either paper_ids (a list of paper ids) or query (with top, the number of papers), "
                "not both"
            )
        if request.paper_ids is not None:
            ids = list(dict.fromkeys(request.paper_ids))
            if not 1 <= len(ids) <= s.matrix_max_papers:
                raise BadInput(
                    f"a matrix takes 1 to {s.matrix_max_papers} papers (PAPERLENS_MATRIX_MAX_PAPERS); "
                    f"got {len(ids)}"
                )
            return self.request_check.known_ids(ids)  # 404 naming unknown ids
        query = " ".join((request.query or "").split())
        top = s.matrix_default_top if request.top is None else request.top
        if not query:
            raise BadInput("query is empty: say what the papers should be about, e.g. 'diffusion policies'")
        if len(query) > s.max_query_chars:
            raise BadInput(f"query is {len(query)} characters; the limit is {s.max_query_chars}")
        if not 1 <= top <= s.matrix_max_papers:
            raise BadInput(
                f"top={top} is out of range: use 1 to {s.matrix_max_papers} (PAPERLENS_MATRIX_MAX_PAPERS)"
            )
        found = self.retriever.search(query, min(top * 2, s.max_k * 10))
        ids = list(dict.fromkeys(p.paper_id for p in found))[:top]
        if not ids:
            raise BadInput("no paper matches the query: add papers first, or search for something else")
        return ids

    def submit(self, request: MatrixIn) -> Matrix:
        """Check the request, record the matrix and queue it; returns at once (the 202)."""
        columns = check_columns(request.columns, [], self.settings.matrix_max_columns)
        ids = self._papers_of(request)
        papers = [(pid, p.title) for pid in ids if (p := self.papers.papers.get(pid)) is not None]
        matrix_id = uuid.uuid4().hex[:16]
        with self._submit_lock:
            if len(self.store.unfinished()) >= self.settings.matrix_max_pending:
                raise MatrixQueueFull(
                    f"{self.settings.matrix_max_pending} matrices are waiting or running "
                    "(PAPERLENS_MATRIX_MAX_PENDING); retry when one is done"
                )
            query = " ".join(request.query.split()) if request.query is not None else None
            self.store.create(matrix_id, query, columns, papers)
        self.store.prune(self.settings.matrix_keep)
        self.worker.submit(matrix_id)
        return self.store.get(matrix_id)

    def get(self, matrix_id: str) -> Matrix:
        return self.store.get(matrix_id)

    def add_columns(self, matrix_id: str, request: MatrixColumnsIn) -> Matrix:
        """Queue every paper of the matrix for the new columns alone; the job runs again."""
        have = self.store.columns(matrix_id)  # 404 for an unknown matrix
        columns = check_columns(request.columns, have, self.settings.matrix_max_columns)
        if self.store.status_of(matrix_id) in ("queued", "running"):
            raise BadInput("the matrix is still being filled; add columns once GET /matrix/{id} says done")
        self.store.add_columns(matrix_id, columns)
        self.worker.submit(matrix_id)
        return self.store.get(matrix_id)

    def cancel(self, matrix_id: str) -> Matrix:
        """Papers not yet started are skipped; the paper being filled finishes."""
        self.store.get(matrix_id)  # 404 for an unknown id
        if self.store.cancel(matrix_id):
            self.worker.discard(matrix_id)
        return self.store.get(matrix_id)

    def resume(self) -> None:
        """Queue again what a previous process left unfinished."""
        for matrix_id in self.store.unfinished():
            log.info("resuming matrix %s", matrix_id)
            self.store.set_status(matrix_id, "queued")
            self.worker.submit(matrix_id)

    # --- the job ----------------------------------------------------------------------------
    def _failed(self, matrix_id: str, _: Exception) -> None:
        self.store.set_status(matrix_id, "failed")

    def _cancelled(self, matrix_id: str) -> bool:
        return self.store.status_of(matrix_id) == "cancelled"

    def _run(self, matrix_id: str) -> None:
        if self.store.status_of(matrix_id) not in ("queued", "running"):
            return
        self.store.set_status(matrix_id, "running")
        generator = self.engine.generator
        for row in self.store.pending_rows(matrix_id):
            if self._cancelled(matrix_id):
                return
            self.store.row_started(matrix_id, row.idx)
            paper = self.papers.papers.get(row.paper_id)
            if paper is None:
                missing = Cell.missing("the paper is no longer in the library")
                made = MadeBy(Usage.zero(), "llm", False, generator.model, self.engine.prompt_version)
                cells = {c: matrix_cell(missing) for c in row.columns}
                self.store.row_done(matrix_id, row.idx, cells, made, "the paper is no longer in the library")
                continue
            while True:
                try:
                    filled = self.engine.fill(paper, row.columns, "llm", Timings())
                    break
                except LLMBusy:  # interactive requests hold the model: wait for a slot
                    if self._cancelled(matrix_id):
                        return
                    threading.Event().wait(self.settings.matrix.busy_pause_s)
                except NotReady:  # shutting down: resumed at the next start
                    return
            degraded = filled.error is not None or (filled.engine == "extractive" and generator.llm.wanted)
            made = MadeBy(
                filled.usage,
                filled.engine,
                degraded,
                generator.model if filled.engine == "llm" else "extractive",
                self.engine.prompt_version,
            )
            cells = {c: matrix_cell(cell) for c, cell in filled.cells.items()}
            self.store.row_done(matrix_id, row.idx, cells, made, filled.error)
        if not self._cancelled(matrix_id):
            rows = self.store.get(matrix_id).rows
            failed = bool(rows) and all(r.status == "failed" for r in rows)
            self.store.set_status(matrix_id, "failed" if failed else "done")
