"""Ingest papers: dedupe by content hash, chunk, embed, then write all-or-nothing.

Everything that can fail on bad input (validation, chunking, embedding) happens before
the first write; the store's batch write undoes itself on failure. So an ingest either
lands whole or leaves the store exactly as it was. A paper's original file (see
`source_files`) is written with it: before its record, removed again when the write fails,
and the paper's older files removed after it succeeds (see `components.kept_files`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from service.components.chunker import chunk_blocks, chunk_text
from service.components.embedding.embedder import Embedder
from service.components.kept_files import FileStore
from service.components.shared_state import LocalFence, WriteFence
from service.components.vector_store.chunk_store import ChunkRecord
from service.components.vector_store.paper_records import StoredPaper
from service.components.vector_store.paper_store import PaperStore, PaperWrite
from service.core.config import Settings
from service.core.errors import BadInput
from service.corpus.loader import check_text_size
from service.corpus.paper import Paper
from service.ingest.source_files import NO_FILE, FilePlan
from service.retrieval.lexical_index import LexicalIndex

Progress = Callable[[int], object]


log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    n_chunks: int = 0

    def merge(self, other: IngestReport) -> None:
        self.added += other.added
        self.unchanged += other.unchanged
        self.replaced += other.replaced
        self.n_chunks += other.n_chunks


class IngestService:
    def __init__(
        self, store: PaperStore, embedder: Embedder, lexical: LexicalIndex, settings: Settings
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.settings = settings
        self.files = FileStore(settings.data_dir / "files")
        self._write = threading.Lock()  # a paper's files and its record change together
        # other processes writing the same store (QUEUE_URL: workers, replicas): see `repair`
        self.fence: WriteFence | LocalFence = LocalFence()

    def ingest(
        self,
        papers: Sequence[Paper],
        progress: Progress | None = None,
        files: Mapping[str, FilePlan] | None = None,
    ) -> IngestReport:
        """Add or replace `papers` as one all-or-nothing batch. Every ingest path (JSON, files,
        uploads, the CLI) comes here, so the text limit is checked here, before any work.
        `files`: by paper id, the original file to keep with it, or why none (see
        `source_files.plan_files`); a paper not in it came from no file."""
        for paper in papers:
            check_text_size(paper, self.settings.max_text_chars)
        unique = _dedupe(papers)
        report = IngestReport()
        known = self.store.papers.content_hashes([p.paper_id for p in unique])
        todo: list[Paper] = []
        for paper in unique:
            if known.get(paper.paper_id) == paper.content_hash:
                report.unchanged.append(paper.paper_id)
                if progress:
                    progress(1)
            else:
                todo.append(paper)
        writes = [self._prepare(p, progress, (files or {}).get(p.paper_id, NO_FILE)) for p in todo]
        if writes:
            self._write_with_files(writes, {p.paper_id: (files or {}).get(p.paper_id, NO_FILE) for p in todo})
            self.lexical.invalidate()
        for paper, write in zip(todo, writes, strict=True):
            (report.replaced if paper.paper_id in known else report.added).append(paper.paper_id)
            report.n_chunks += len(write.chunks)
        return report

    def _write_with_files(self, writes: Sequence[PaperWrite], plans: Mapping[str, FilePlan]) -> None:
        """The papers' files in first, then the store's all-or-nothing write; a failure removes
        the files it put, success the papers' older files."""
        with self._write:
            put: list[str] = []
            try:
                for write in writes:
                    kept, source = write.paper.file, plans[write.paper.id].source
                    if kept is not None and source is not None:
                        self.files.put(source, kept.name)
                        put.append(kept.name)
                with self.fence.writing():
                    self.store.write_papers(writes)
            except BaseException:
                self.files.remove(put)
                raise
            for write in writes:
                self.files.keep_only(write.paper.id, write.paper.file.name if write.paper.file else None)

    def _prepare(self, paper: Paper, progress: Progress | None, plan: FilePlan) -> PaperWrite:
        pid, digest = paper.paper_id, paper.content_hash
        tokens, overlap = self.settings.chunk_tokens, self.settings.chunk_overlap_sentences
        if paper.blocks and paper.text:
            chunks = chunk_blocks(pid, paper.text, paper.blocks, tokens, overlap)
        else:
            chunks = chunk_text(pid, paper.body, tokens, overlap)
        if not chunks:
            raise BadInput(f"paper {pid!r} ('{paper.title[:60]}'): no text to index")
        vectors = self.embedder.embed([f"{paper.title}\n{c.text}" for c in chunks])
        if not np.isfinite(vectors).all():
            raise BadInput(f"paper {pid!r}: the embedder returned invalid vectors")
        records = [
            ChunkRecord(
                id=c.chunk_id(digest),
                paper_id=pid,
                text=c.text,
                metadata={
                    "paper_id": pid,
                    "title": paper.title,
                    "position": c.position,
                    "char_start": c.char_start,
                    "char_end": c.char_end,
                    "n_tokens": c.n_tokens,
                    "sentences": json.dumps(c.sentences),
                    "content_hash": digest,
                    **{
                        key: value
                        for key, value in (
                            ("page", c.page),
                            ("section", c.section),
                            ("part", c.part),
                            ("kind", c.kind),
                        )
                        if value is not None
                    },
                },
            )
            for c in chunks
        ]
        if progress:
            progress(1)
        stored = StoredPaper(
            id=pid,
            title=paper.title,
            content_hash=digest,
            n_chunks=len(records),
            abstract=paper.abstract,
            text=paper.text,
            year=paper.year,
            url=paper.url,
            arxiv_id=paper.arxiv_id,
            authors=paper.authors,
            source=paper.source,
            doi=paper.doi,
            blocks=paper.blocks,
            file=plan.kept(pid, digest),
            no_file=plan.reason,
        )
        return PaperWrite(stored, records, vectors)

    def repair(self) -> int:
        """Sweep what a crash mid-write left (see `PaperStore.repair`); run at start-up. With
        other processes writing the store (QUEUE_URL), only while none of them is writing:
        their chunks go in before their record and would be swept as leftovers."""
        with self.fence.sweeping() as free:
            if not free:
                log.info("start-up sweep skipped: a write is in flight elsewhere (the next start sweeps)")
                return 0
            removed = self.store.repair()
        if removed:
            log.warning("removed %d chunks a crash left behind (unlisted or replaced)", removed)
            self.lexical.invalidate()
        with self._write:
            self.files.sweep(self.store.papers.file_names())
        return removed

    def delete(self, paper_id: str) -> bool:
        """Remove the paper, its chunks and its kept file (the record first, the file last)."""
        with self._write:
            deleted = self.store.delete_paper(paper_id)
            self.files.keep_only(paper_id, None)
        if deleted:
            self.lexical.invalidate()
        return deleted


def _dedupe(papers: Sequence[Paper]) -> list[Paper]:
    """Drop exact repeats; two different papers under one id is an error."""
    seen: dict[str, Paper] = {}
    for paper in papers:
        prior = seen.get(paper.paper_id)
        if prior is None:
            seen[paper.paper_id] = paper
        elif prior.content_hash != paper.content_hash:
            raise BadInput(
                f"two different papers share the id {paper.paper_id!r} in one request "
                f"('{prior.title[:50]}' and '{paper.title[:50]}'); give them distinct ids"
            )
    return list(seen.values())
