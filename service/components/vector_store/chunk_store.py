"""The vector store of chunks: one Chroma record per chunk (embedding, text, metadata).

Metadata: paper id, title, position, character offsets, sentence spans (JSON) and token
count. The collection's own metadata names the embedder and its dimension, so a store
built with one embedder refuses another instead of mixing vector spaces.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.components.embedding.embedder import Vectors
from service.components.vector_store.records import Metadata, paced
from service.core.errors import BadInput


@dataclass
class ChunkRecord:
    id: str
    paper_id: str
    text: str
    metadata: Metadata

    @property
    def position(self) -> int:
        return int(self.metadata["position"])

    @property
    def title(self) -> str:
        return str(self.metadata.get("title", ""))

    @property
    def page(self) -> int | None:
        page = self.metadata.get("page")
        return int(page) if page is not None else None

    @property
    def section(self) -> str | None:
        section = self.metadata.get("section")
        return str(section) if section is not None else None

    @property
    def part(self) -> str | None:
        part = self.metadata.get("part")
        return str(part) if part is not None else None

    @property
    def sentence_spans(self) -> list[tuple[int, int]]:
        """Sentence (start, end) offsets within `text`."""
        return [(int(a), int(b)) for a, b in json.loads(str(self.metadata.get("sentences", "[]")))]


class ChunkStore:
    def __init__(self, client: Any, name: str, embedder_name: str, dim: int, batch: int) -> None:
        self.collection = client.get_or_create_collection(
            name,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "embedder": embedder_name, "dim": dim},
        )
        self._batch = batch
        stored = self.collection.metadata or {}
        if stored.get("embedder") != embedder_name or stored.get("dim") != dim:
            raise BadInput(
                f"the store was built with embedder {stored.get('embedder')!r} "
                f"(dim {stored.get('dim')}), but {embedder_name!r} (dim {dim}) is configured; "
                "use another PAPERLENS_DATA_DIR / PAPERLENS_COLLECTION_PREFIX or re-ingest",
                code="embedder_mismatch",
            )

    def count(self) -> int:
        return int(self.collection.count())

    def get(self, chunk_ids: Sequence[str]) -> dict[str, ChunkRecord]:
        if not chunk_ids:
            return {}
        got = self.collection.get(ids=list(chunk_ids), include=["metadatas", "documents"])
        return {
            cid: ChunkRecord(cid, str(meta["paper_id"]), doc, meta)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }

    def of_paper(self, paper_id: str) -> list[ChunkRecord]:
        got = self.collection.get(where={"paper_id": paper_id}, include=["metadatas", "documents"])
        records = [
            ChunkRecord(cid, paper_id, doc, meta)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
        return sorted(records, key=lambda r: r.position)

    def ids_of(self, paper_ids: Sequence[str]) -> set[str]:
        if not paper_ids:
            return set()
        return set(self.collection.get(where={"paper_id": {"$in": list(paper_ids)}}, include=[])["ids"])

    def all_ids(self) -> list[str]:
        """Every chunk id (ids only: cheap even at 100k chunks)."""
        return list(self.collection.get(include=[])["ids"])

    def owners(self) -> dict[str, tuple[str, str]]:
        """chunk id -> (paper id, content hash it was written for), for every chunk."""
        out: dict[str, tuple[str, str]] = {}
        total = self.count()
        for offset in range(0, total, self._batch):
            got = self.collection.get(offset=offset, limit=self._batch, include=["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"], strict=True):
                out[cid] = (str(meta.get("paper_id", "")), str(meta.get("content_hash", "")))
        return out

    def texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """Title plus text of the given chunks, for the lexical index."""
        out: dict[str, str] = {}
        for b in range(0, len(chunk_ids), self._batch):
            got = self.collection.get(
                ids=list(chunk_ids[b : b + self._batch]), include=["metadatas", "documents"]
            )
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                out[cid] = f"{meta.get('title', '')}\n{doc}"
        return out

    def query(
        self,
        vector: Vectors,
        n: int,
        paper_ids: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first; only `paper_ids` when given, none of `exclude`."""
        conditions: list[dict[str, Any]] = []
        if paper_ids:
            conditions.append({"paper_id": {"$in": list(paper_ids)}})
        if exclude:
            conditions.append({"paper_id": {"$nin": list(exclude)}})
        where = conditions[0] if len(conditions) == 1 else ({"$and": conditions} if conditions else None)
        got = self.collection.query(
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=n,
            where=where,
            include=["distances"],
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    def upsert(self, chunks: Sequence[ChunkRecord], vectors: Vectors) -> None:
        """In paced writes (see `records.paced`): one write of 1,000 chunks held the GIL, and so the
        event loop, for seconds."""

        def write(start: int, end: int) -> None:
            part = chunks[start:end]
            self.collection.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[start:end],
                documents=[c.text for c in part],
                metadatas=[c.metadata for c in part],
            )

        paced(len(chunks), write)

    def delete(self, ids: Sequence[str]) -> None:
        paced(len(ids), lambda start, end: self.collection.delete(ids=list(ids[start:end])))

    def delete_paper(self, paper_id: str) -> None:
        self.collection.delete(where={"paper_id": paper_id})
