"""Paper records: one per paper, its metadata plus abstract and text, read by id."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from service.components.kept_files import KeptFile
from service.components.vector_store.records import Metadata, Record, RecordCollection
from service.core.errors import NotFound
from service.corpus.names import NAMES_VERSION, paper_names
from service.corpus.paper import TextBlock, paper_body


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
    doi: str | None = None
    blocks: list[TextBlock] | None = None  # structured full texts only
    names: list[str] = field(default_factory=list)  # see corpus.names; [] = compute from the text
    file: KeptFile | None = None  # its original file, when kept (see components.kept_files)
    no_file: str | None = None  # why no file was kept (None with no file: a record from before)

    @property
    def pages(self) -> int | None:
        return max(b.page for b in self.blocks) if self.blocks else None

    @property
    def body(self) -> str:
        """The paper's text for prompts and checks (the abstract once; see `paper_body`)."""
        return paper_body(self.abstract, self.text)

    def to_record(self) -> Record:
        meta: Metadata = {
            "title": self.title,
            "content_hash": self.content_hash,
            "n_chunks": self.n_chunks,
            "authors": json.dumps(self.authors),
            "names": json.dumps(self.names or paper_names(self.title, self.abstract)),
            "names_version": NAMES_VERSION,
        }
        for key in ("year", "url", "arxiv_id", "source", "doi", "no_file"):
            if getattr(self, key) is not None:
                meta[key] = getattr(self, key)
        if self.file is not None:
            meta["file"] = self.file.to_json()
        body: dict[str, Any] = {"abstract": self.abstract, "text": self.text}
        if self.blocks:
            body["blocks"] = _located(self.blocks, self.text or "")
        doc = json.dumps(body, ensure_ascii=False)
        return Record(self.id, meta, doc)

    @classmethod
    def from_record(cls, record: Record) -> StoredPaper:
        body = json.loads(record.document) if record.document else {}
        meta = record.metadata

        def text_of(key: str) -> str | None:
            value = meta.get(key)
            return None if value is None else str(value)

        year = meta.get("year")
        return cls(
            id=record.id,
            title=str(meta["title"]),
            content_hash=str(meta["content_hash"]),
            n_chunks=int(meta["n_chunks"]),
            abstract=body.get("abstract"),
            text=body.get("text"),
            year=int(year) if year is not None else None,
            url=text_of("url"),
            arxiv_id=text_of("arxiv_id"),
            authors=json.loads(text_of("authors") or "[]"),
            source=text_of("source"),
            doi=text_of("doi"),
            file=KeptFile.from_json(str(meta["file"])) if meta.get("file") else None,
            no_file=text_of("no_file"),
            blocks=_blocks(body["blocks"], body.get("text") or "") if body.get("blocks") else None,
            # names made by other rules (or none kept): computed again by these
            names=(
                json.loads(text_of("names") or "null") if meta.get("names_version") == NAMES_VERSION else None
            )
            or paper_names(str(meta["title"]), body.get("abstract")),
        )


def _located(blocks: Sequence[TextBlock], text: str) -> list[dict[str, Any]]:
    """Blocks as stored: where each sits in the text (`at`, `len`) instead of a second copy of
    its text, so a full text is written once (a Chroma write holds the GIL for as long as its
    document takes to index). A block not found in the text (never, for a valid Paper) keeps
    its text."""
    out: list[dict[str, Any]] = []
    offset = 0
    for block in blocks:
        fields = block.model_dump()
        at = text.find(block.text, offset)
        if at >= 0:
            del fields["text"]
            fields.update(at=at, len=len(block.text))
            offset = at + len(block.text)
        out.append(fields)
    return out


def _blocks(stored: list[dict[str, Any]], text: str) -> list[TextBlock]:
    """Blocks back from either form (records written before `_located` carry their text)."""
    blocks = []
    for fields in stored:
        if "at" in fields:
            fields = {**fields, "text": text[fields["at"] : fields["at"] + fields["len"]]}
            fields.pop("at")
            fields.pop("len")
        blocks.append(TextBlock.model_validate(fields))
    return blocks


class PaperRecords:
    def __init__(self, records: RecordCollection) -> None:
        self.records = records

    def count(self) -> int:
        return self.records.count()

    def get(self, paper_id: str, with_text: bool = True) -> StoredPaper | None:
        """The paper; without its abstract, text and blocks unless `with_text`."""
        got = self.records.get([paper_id], with_documents=with_text)
        return StoredPaper.from_record(got[0]) if got else None

    def require(self, paper_id: str, with_text: bool = True) -> StoredPaper:
        """The paper, or a 404 that says where the ids are."""
        paper = self.get(paper_id, with_text)
        if paper is None:
            raise NotFound(f"no paper with id {paper_id!r}; GET /papers lists the ids")
        return paper

    def page(self, offset: int, limit: int) -> list[StoredPaper]:
        return [StoredPaper.from_record(r) for r in self.records.page(offset, limit)]

    def refresh_names(self, batch: int = 500) -> int:
        """Names kept by other rules (a store written by another version), computed again
        from each paper's title and abstract and written back: once, when the store opens,
        so listings and the catalogue /ask names papers by never read texts for it. Returns
        how many papers were refreshed; rewriting the same values is harmless."""
        refreshed = 0
        for offset in range(0, self.count(), batch):
            kept = self.records.page(offset, batch)
            stale = [r.id for r in kept if r.metadata.get("names_version") != NAMES_VERSION]
            records = self.records.get(stale)
            for r in records:  # title and abstract only: a full text's blocks need no parsing here
                abstract = json.loads(r.document).get("abstract") if r.document else None
                names = paper_names(str(r.metadata["title"]), abstract)
                r.metadata.update(names=json.dumps(names), names_version=NAMES_VERSION)
            self.records.update_metadata(records)
            refreshed += len(records)
        return refreshed

    def file_names(self, batch: int = 1000) -> set[str]:
        """The names of every kept file a record names (metadata only)."""
        names: set[str] = set()
        for offset in range(0, self.count(), batch):
            for r in self.records.page(offset, batch):
                if r.metadata.get("file"):
                    names.add(KeptFile.from_json(str(r.metadata["file"])).name)
        return names

    def content_hashes(self, paper_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for b in range(0, len(paper_ids), 1000):  # SQLite caps the variables in one query
            got = self.records.get(paper_ids[b : b + 1000], with_documents=False)
            out.update({r.id: str(r.metadata["content_hash"]) for r in got})
        return out

    def existing(self, paper_ids: Sequence[str]) -> set[str]:
        return self.records.existing(paper_ids)
