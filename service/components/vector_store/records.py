"""A Chroma collection used as a table of records: id -> (metadata, document).

Chroma stores an embedding with every record, but paper records, the generation token
and the shared summary cache are only ever read by id, never by vector. Such collections
get one constant placeholder vector per record, written here and nowhere else. The
placeholder has the collection's dimension (the papers collection of stores written before
this change holds 384-dimensional vectors; a placeholder of another size would be refused).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

WRITE_TARGET_S = 0.06
"""How long a single Chroma write should hold the GIL, about."""


def paced(total: int, write: Callable[[int, int], object], size: int = 16, smallest: int = 16) -> None:
    """Call `write(start, end)` over `range(total)` in slices sized so each call takes about
    WRITE_TARGET_S (`smallest` to 256 items, `size` first), pausing after each for half as long as it took (at
    most 30 ms) so the other threads, the event loop first, get the GIL. Embedded Chroma
    holds the GIL for the whole of a write (its bindings release it for reads only): one
    write of 600 chunks stopped the event loop, and /healthz, for 1.5 s and more. A write
    costs ~25 ms plus ~1 ms a chunk on 2 idle vCPUs (twice that on a busy machine, and
    more as the store grows); smaller writes cost more per chunk than they save."""
    start = 0
    while start < total:
        end = min(total, start + size)
        t0 = time.perf_counter()
        write(start, end)
        took = time.perf_counter() - t0
        start = end
        if took > WRITE_TARGET_S:
            size = max(smallest, size // 2)
        elif took < WRITE_TARGET_S / 2:
            size = min(256, size * 2)
        if start < total:
            time.sleep(min(took / 2, 0.03))


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
        """In paced writes (see `paced`): a paper record holds the paper's whole text."""

        def write(start: int, end: int) -> None:
            part = records[start:end]
            self.collection.upsert(
                ids=[r.id for r in part],
                embeddings=[self._placeholder] * len(part),
                metadatas=[r.metadata for r in part],
                documents=[r.document or "" for r in part],
            )

        paced(len(records), write, size=4, smallest=1)  # a record can be millions of characters

    def update_metadata(self, records: Sequence[Record]) -> None:
        """Replace the metadata of records that exist (their documents stay as they are)."""
        if records:
            self.collection.update(ids=[r.id for r in records], metadatas=[r.metadata for r in records])

    def delete(self, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None) -> None:
        if ids:
            self.collection.delete(ids=list(ids))
        elif where:
            self.collection.delete(where=where)
