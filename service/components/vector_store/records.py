"""A Chroma collection used as a table of records: id -> (metadata, document).

Chroma stores an embedding with every record, but paper records, the generation token
and the shared summary cache are only ever read by id, never by vector. Such collections
get one constant placeholder vector per record, written here and nowhere else. The
placeholder has the collection's dimension (the papers collection of stores written before
this change holds 384-dimensional vectors; a placeholder of another size would be refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Metadata = dict[str, str | int | float | bool]
"""What Chroma keeps beside a record: flat scalar values only."""


@dataclass(frozen=True)
class Record:
    id: str
    metadata: Metadata
    document: str | None


class RecordCollection:
    def __init__(self, client: Any, name: str, dim: int = 1, metadata: dict[str, Any] | None = None) -> None:
        self.collection = client.get_or_create_collection(
            name, embedding_function=None, metadata=metadata or {"hnsw:space": "cosine"}
        )
        self._placeholder = [1.0] + [0.0] * (dim - 1)

    def count(self) -> int:
        return int(self.collection.count())

    def get(self, ids: Sequence[str], with_documents: bool = True) -> list[Record]:
        if not ids:
            return []
        include = ["metadatas", "documents"] if with_documents else ["metadatas"]
        got = self.collection.get(ids=list(ids), include=include)
        docs = got["documents"] if with_documents else [None] * len(got["ids"])
        return [Record(i, dict(m), d) for i, m, d in zip(got["ids"], got["metadatas"], docs, strict=True)]

    def page(self, offset: int, limit: int) -> list[Record]:
        got = self.collection.get(offset=offset, limit=limit, include=["metadatas"])
        return [Record(i, dict(m), None) for i, m in zip(got["ids"], got["metadatas"], strict=True)]

    def existing(self, ids: Sequence[str]) -> set[str]:
        return set(self.collection.get(ids=list(ids), include=[])["ids"]) if ids else set()

    def put(self, records: Sequence[Record]) -> None:
        if records:
            self.collection.upsert(
                ids=[r.id for r in records],
                embeddings=[self._placeholder] * len(records),
                metadatas=[r.metadata for r in records],
                documents=[r.document or "" for r in records],
            )

    def update_metadata(self, records: Sequence[Record]) -> None:
        """Replace the metadata of records that exist (their documents stay as they are)."""
        if records:
            self.collection.update(ids=[r.id for r in records], metadatas=[r.metadata for r in records])

    def delete(self, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None) -> None:
        if ids:
            self.collection.delete(ids=list(ids))
        elif where:
            self.collection.delete(where=where)
