"""The store: chunks, paper records, the generation token and the summary cache, written
together all-or-nothing.

Four collections per deployment (prefix from settings), each behind a small class:
- `<prefix>_chunks` (`ChunkStore`): the vector store of chunks;
- `<prefix>_papers` (`PaperRecords`): one record per paper, metadata plus abstract and text;
- `<prefix>_meta` (`GenerationToken`): bumped on every write, seen by every replica;
- `<prefix>_summaries` (`SharedCache`): generated summaries, shared by every replica.

Chroma has no transactions. `write_papers` first upserts the new chunks (their ids
contain the content hash, so they never overwrite the old ones) and paper records, and
only then deletes the replaced chunks. Any failure undoes what was written, so a
failed ingest leaves the store exactly as it was.

A crash (kill -9) can stop either write between two steps, where no undo runs. The write
orders make every such point repairable by one rule, applied by `repair()` at start-up:
a chunk is kept only when its paper is listed *and* it was written for the content the
paper record names (its `content_hash`). Ingest: chunks first, the record second, old
chunks last, so a crash leaves unlisted new chunks, or old chunks the record no longer
names; both are swept. Delete: the record first, then the summaries, then the chunks, so
a crash leaves unlisted chunks (swept), never a listed paper without its chunks.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.components.embedding.embedder import Vectors
from service.components.vector_store.chunk_store import ChunkRecord, ChunkStore
from service.components.vector_store.paper_records import PaperRecords, StoredPaper
from service.components.vector_store.records import Record, RecordCollection
from service.components.vector_store.shared_values import GenerationToken, SharedCache


@dataclass
class PaperWrite:
    """Everything needed to write one paper: computed before any write starts."""

    paper: StoredPaper
    chunks: list[ChunkRecord]
    chunk_vectors: Vectors


class PaperStore:
    def __init__(self, client: Any, prefix: str, embedder_name: str, dim: int) -> None:
        self._client = client
        self._lock = threading.Lock()
        batch = max(1, min(int(client.get_max_batch_size()), 4096))
        self.chunks = ChunkStore(client, f"{prefix}_chunks", embedder_name, dim, batch)
        self.papers = PaperRecords(RecordCollection(client, f"{prefix}_papers", dim))
        self.papers.refresh_names()  # before any request: nothing writes yet
        self.generation = GenerationToken(RecordCollection(client, f"{prefix}_meta"))
        self.summaries = SharedCache(RecordCollection(client, f"{prefix}_summaries"))

    def write_papers(self, writes: Sequence[PaperWrite]) -> None:
        """Write all papers or none: on any failure, undo what was written and re-raise.

        Reads the old state in two calls, then writes every chunk and paper record in
        batches; replaced chunks are deleted last.
        """
        if not writes:
            return
        with self._lock:
            pids = [w.paper.id for w in writes]
            old_records = self.papers.records.get(pids)
            old_chunk_ids = self.chunks.ids_of(pids)
            chunks = [c for w in writes for c in w.chunks]
            new_ids = {c.id for c in chunks}
            created = [c.id for c in chunks if c.id not in old_chunk_ids]
            try:
                self.chunks.upsert(chunks, np.vstack([w.chunk_vectors for w in writes]))
                self.papers.records.put([w.paper.to_record() for w in writes])
                self.generation.bump()
                # Last: a failed delete is undone like any other step (old chunks intact).
                self.chunks.delete(sorted(old_chunk_ids - new_ids))
            except BaseException:
                self._undo(created, pids, old_records)
                raise

    def _undo(self, created_chunk_ids: list[str], pids: list[str], old_records: list[Record]) -> None:
        self.chunks.delete(created_chunk_ids)
        kept = {r.id for r in old_records}
        self.papers.records.delete(ids=[pid for pid in pids if pid not in kept])
        self.papers.records.put(old_records)
        self.generation.bump()

    def delete_paper(self, paper_id: str) -> bool:
        """Remove the paper and everything of it; True when there was anything (a record, or
        chunks a crash left without one)."""
        with self._lock:
            listed = bool(self.papers.existing([paper_id]))
            if not listed and not self.chunks.ids_of([paper_id]):
                return False
            self.papers.records.delete(ids=[paper_id])  # first: the paper stops being listed
            self.summaries.drop_owner(paper_id)
            self.chunks.delete_paper(paper_id)
            self.generation.bump()
            return True

    def repair(self) -> int:
        """Delete chunks whose paper is not listed or whose content the record does not name
        (what a crash mid-write leaves); returns how many were removed."""
        with self._lock:
            owners = self.chunks.owners()
            hashes = self.papers.content_hashes(sorted({pid for pid, _ in owners.values()}))
            stale = sorted(cid for cid, (pid, digest) in owners.items() if hashes.get(pid) != digest)
            if stale:
                self.chunks.delete(stale)
                self.generation.bump()
            return len(stale)
