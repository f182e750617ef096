"""Papers and their chunks in Chroma, with all-or-nothing batch writes.

Three collections per deployment (prefix from settings):
- `<prefix>_chunks`: one record per chunk: its embedding, its text, and metadata
  (paper id, position, offsets, sentence spans, token count);
- `<prefix>_papers`: one record per paper: metadata, abstract/text as the document, and
  the mean of its chunk embeddings;
- `<prefix>_meta`: a generation token, bumped on every write, so every replica's
  lexical index notices changes made by another.

Chroma has no transactions. `write_papers` first upserts the new chunks (their ids
contain the content hash, so they never overwrite the old ones) and paper records, and
only then deletes the replaced chunks. Any failure undoes what was written, so a
failed ingest leaves the store exactly as it was.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.components.embedding.embedder import Vectors
from service.core.errors import BadInput

_GENERATION_ID = "generation"


@dataclass
class StoredPaper:
    id: str
    title: str
    content_hash: str
    n_chunks: int
    abstract: str | None = None
    text: str | None = None
    year: int | None = None
    url: str | None = None
    arxiv_id: str | None = None
    authors: list[str] = field(default_factory=list)
    source: str | None = None

    def to_record(self) -> tuple[dict[str, Any], str]:
        meta: dict[str, Any] = {
            "title": self.title,
            "content_hash": self.content_hash,
            "n_chunks": self.n_chunks,
            "authors": json.dumps(self.authors),
        }
        for key in ("year", "url", "arxiv_id", "source"):
            if getattr(self, key) is not None:
                meta[key] = getattr(self, key)
        doc = json.dumps({"abstract": self.abstract, "text": self.text}, ensure_ascii=False)
        return meta, doc

    @classmethod
    def from_record(cls, pid: str, meta: dict[str, Any], doc: str | None) -> StoredPaper:
        body = json.loads(doc) if doc else {}
        return cls(
            id=pid,
            title=str(meta["title"]),
            content_hash=str(meta["content_hash"]),
            n_chunks=int(meta["n_chunks"]),
            abstract=body.get("abstract"),
            text=body.get("text"),
            year=meta.get("year"),
            url=meta.get("url"),
            arxiv_id=meta.get("arxiv_id"),
            authors=json.loads(meta.get("authors") or "[]"),
            source=meta.get("source"),
        )


@dataclass
class ChunkRecord:
    id: str
    paper_id: str
    text: str
    metadata: dict[str, Any]

    @property
    def position(self) -> int:
        return int(self.metadata["position"])

    @property
    def title(self) -> str:
        return str(self.metadata.get("title", ""))

    @property
    def sentence_spans(self) -> list[tuple[int, int]]:
        """Sentence (start, end) offsets within `text`."""
        return [(int(a), int(b)) for a, b in json.loads(self.metadata.get("sentences", "[]"))]


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
        self._batch = max(1, min(int(client.get_max_batch_size()), 4096))
        space = {"hnsw:space": "cosine", "embedder": embedder_name, "dim": dim}
        self.chunks = client.get_or_create_collection(
            f"{prefix}_chunks", embedding_function=None, metadata=space
        )
        self.papers = client.get_or_create_collection(
            f"{prefix}_papers", embedding_function=None, metadata=space
        )
        self.meta = client.get_or_create_collection(
            f"{prefix}_meta", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        self.summaries = client.get_or_create_collection(
            f"{prefix}_summaries", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        stored = self.chunks.metadata or {}
        if stored.get("embedder") != embedder_name or stored.get("dim") != dim:
            raise BadInput(
                f"the store was built with embedder {stored.get('embedder')!r} "
                f"(dim {stored.get('dim')}), but {embedder_name!r} (dim {dim}) is configured; "
                "use another PAPERLENS_DATA_DIR / PAPERLENS_COLLECTION_PREFIX or re-ingest",
                code="embedder_mismatch",
            )

    # --- reads ---------------------------------------------------------------------
    def generation(self) -> str:
        got = self.meta.get(ids=[_GENERATION_ID], include=["metadatas"])
        if not got["ids"]:
            return "0"
        return str(got["metadatas"][0]["token"])

    def count_papers(self) -> int:
        return int(self.papers.count())

    def count_chunks(self) -> int:
        return int(self.chunks.count())

    def get_paper(self, paper_id: str) -> StoredPaper | None:
        got = self.papers.get(ids=[paper_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        return StoredPaper.from_record(paper_id, got["metadatas"][0], got["documents"][0])

    def list_papers(self, offset: int, limit: int) -> list[StoredPaper]:
        got = self.papers.get(offset=offset, limit=limit, include=["metadatas"])
        return [
            StoredPaper.from_record(pid, meta, None)
            for pid, meta in zip(got["ids"], got["metadatas"], strict=True)
        ]

    def content_hashes(self, paper_ids: Sequence[str]) -> dict[str, str]:
        if not paper_ids:
            return {}
        got = self.papers.get(ids=list(paper_ids), include=["metadatas"])
        return {
            pid: str(meta["content_hash"]) for pid, meta in zip(got["ids"], got["metadatas"], strict=True)
        }

    def existing_ids(self, paper_ids: Sequence[str]) -> set[str]:
        if not paper_ids:
            return set()
        return set(self.papers.get(ids=list(paper_ids), include=[])["ids"])

    def get_chunks(self, chunk_ids: Sequence[str]) -> dict[str, ChunkRecord]:
        if not chunk_ids:
            return {}
        got = self.chunks.get(ids=list(chunk_ids), include=["metadatas", "documents"])
        return {
            cid: ChunkRecord(cid, str(meta["paper_id"]), doc, meta)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }

    def chunks_of(self, paper_id: str) -> list[ChunkRecord]:
        got = self.chunks.get(where={"paper_id": paper_id}, include=["metadatas", "documents"])
        records = [
            ChunkRecord(cid, paper_id, doc, meta)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
        return sorted(records, key=lambda r: r.position)

    def all_chunk_ids(self) -> list[str]:
        """Every chunk id (ids only: cheap even at 100k chunks)."""
        return list(self.chunks.get(include=[])["ids"])

    def chunk_texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """Title plus text of the given chunks, for the lexical index."""
        out: dict[str, str] = {}
        for b in range(0, len(chunk_ids), self._batch):
            got = self.chunks.get(
                ids=list(chunk_ids[b : b + self._batch]), include=["metadatas", "documents"]
            )
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                out[cid] = f"{meta.get('title', '')}\n{doc}"
        return out

    def dense_query(
        self, vector: Vectors, n: int, paper_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first."""
        where = {"paper_id": {"$in": list(paper_ids)}} if paper_ids else None
        got = self.chunks.query(
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=n,
            where=where,
            include=["distances"],
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    # --- writes --------------------------------------------------------------------
    def write_papers(self, writes: Sequence[PaperWrite]) -> None:
        """Write all papers or none: on any failure, undo what was written and re-raise.

        Reads the old state in two calls, then writes every chunk and paper record in
        batches; replaced chunks are deleted last.
        """
        if not writes:
            return
        with self._lock:
            pids = [w.paper.id for w in writes]
            old = self.papers.get(ids=pids, include=["metadatas", "documents", "embeddings"])
            old_records = {
                pid: (meta, doc, list(emb))
                for pid, meta, doc, emb in zip(
                    old["ids"], old["metadatas"], old["documents"], old["embeddings"], strict=True
                )
            }
            old_chunk_ids = set(self.chunks.get(where={"paper_id": {"$in": pids}}, include=[])["ids"])
            chunks = [c for w in writes for c in w.chunks]
            vectors = np.vstack([w.chunk_vectors for w in writes])
            new_ids = {c.id for c in chunks}
            created = [c.id for c in chunks if c.id not in old_chunk_ids]
            try:
                for b in range(0, len(chunks), self._batch):
                    part = chunks[b : b + self._batch]
                    self.chunks.upsert(
                        ids=[c.id for c in part],
                        embeddings=vectors[b : b + self._batch],
                        documents=[c.text for c in part],
                        metadatas=[c.metadata for c in part],
                    )
                records = [w.paper.to_record() for w in writes]
                self.papers.upsert(
                    ids=pids,
                    embeddings=[_mean_direction(w.chunk_vectors) for w in writes],
                    metadatas=[meta for meta, _ in records],
                    documents=[doc for _, doc in records],
                )
                self._bump_generation()
                # Last: a failed delete is undone like any other step (old chunks intact).
                self._delete_chunks(sorted(old_chunk_ids - new_ids))
            except BaseException:
                self._undo(created, pids, old_records)
                raise

    def _undo(
        self,
        created_chunk_ids: list[str],
        pids: list[str],
        old_records: dict[str, tuple[dict[str, Any], str, list[float]]],
    ) -> None:
        self._delete_chunks(created_chunk_ids)
        fresh = [pid for pid in pids if pid not in old_records]
        if fresh:
            self.papers.delete(ids=fresh)
        if old_records:
            ids = list(old_records)
            self.papers.upsert(
                ids=ids,
                embeddings=[old_records[i][2] for i in ids],
                metadatas=[old_records[i][0] for i in ids],
                documents=[old_records[i][1] for i in ids],
            )
        self._bump_generation()

    def _delete_chunks(self, ids: Sequence[str]) -> None:
        for b in range(0, len(ids), self._batch):
            self.chunks.delete(ids=list(ids[b : b + self._batch]))

    # --- generated-text cache (shared by every replica) ----------------------------------
    def get_cached(self, key: str) -> dict[str, Any] | None:
        got = self.summaries.get(ids=[key], include=["documents"])
        if not got["ids"]:
            return None
        value: dict[str, Any] = json.loads(got["documents"][0])
        return value

    def put_cached(self, key: str, paper_id: str, value: dict[str, Any]) -> None:
        self.summaries.upsert(
            ids=[key],
            embeddings=[[1.0]],
            documents=[json.dumps(value, ensure_ascii=False)],
            metadatas=[{"paper_id": paper_id}],
        )

    def delete_paper(self, paper_id: str) -> bool:
        with self._lock:
            if not self.papers.get(ids=[paper_id], include=[])["ids"]:
                return False
            self.chunks.delete(where={"paper_id": paper_id})
            self.summaries.delete(where={"paper_id": paper_id})
            self.papers.delete(ids=[paper_id])
            self._bump_generation()
            return True

    def _bump_generation(self) -> None:
        self.meta.upsert(
            ids=[_GENERATION_ID],
            embeddings=[[1.0]],
            metadatas=[{"token": uuid.uuid4().hex}],
            documents=[""],
        )


def _mean_direction(vectors: Vectors) -> list[float]:
    """A paper's vector: the normalised mean of its chunk vectors."""
    mean = vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).tolist()  # type: ignore[no-any-return]
