"""Small values every replica sharing the store must see: the generation token and the
cache of generated summaries, each a `RecordCollection` of its own."""

from __future__ import annotations

import uuid

from service.components.vector_store.records import Record, RecordCollection

_GENERATION_ID = "generation"


class GenerationToken:
    """A token that changes on every write, so each replica's lexical index and answer
    cache notice changes made by another."""

    def __init__(self, records: RecordCollection) -> None:
        self.records = records

    def current(self) -> str:
        got = self.records.get([_GENERATION_ID], with_documents=False)
        return str(got[0].metadata["token"]) if got else "0"

    def bump(self) -> None:
        self.records.put([Record(_GENERATION_ID, {"token": uuid.uuid4().hex}, "")])


class SharedCache:
    """Generated text kept in the store under a key, owned by a paper (dropped with it)."""

    def __init__(self, records: RecordCollection) -> None:
        self.records = records

    def get(self, key: str) -> str | None:
        got = self.records.get([key])
        return got[0].document if got else None

    def put(self, key: str, value: str, owner: str) -> None:
        self.records.put([Record(key, {"paper_id": owner}, value)])

    def drop_owner(self, owner: str) -> None:
        self.records.delete(where={"paper_id": owner})
