"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused by reciprocal rank.

Each retriever fetches `k x candidate_multiplier` candidates (optionally only from the
given papers); the fused list keeps at most `max_chunks_per_paper` passages per paper,
so one long paper cannot fill the top k.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from service.components.chunk_ids import paper_of
from service.components.embedding.embedder import Embedder
from service.components.vector_store.chunk_store import ChunkRecord
from service.components.vector_store.paper_store import PaperStore
from service.retrieval.fusion import cap_per_group, reciprocal_rank_fusion
from service.retrieval.lexical_index import LexicalIndex, sentence_bm25


@dataclass
class Passage:
    chunk_id: str
    paper_id: str
    title: str
    text: str
    score: float
    position: int
    sentences: list[tuple[int, int]]
    page: int | None = None
    section: str | None = None
    part: str | None = None
    kind: str | None = None  # "caption" for a figure's or table's legend


@dataclass
class SearchTimings:
    embed_ms: float = 0.0
    dense_ms: float = 0.0
    lexical_ms: float = 0.0
    fetch_ms: float = 0.0


class HybridRetriever:
    def __init__(
        self,
        store: PaperStore,
        embedder: Embedder,
        lexical: LexicalIndex,
        *,
        rrf_k: int = 60,
        per_paper_cap: int = 2,
        candidate_multiplier: int = 4,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.rrf_k = rrf_k
        self.per_paper_cap = per_paper_cap
        self.candidate_multiplier = candidate_multiplier

    def search(
        self,
        query: str,
        k: int,
        paper_ids: Sequence[str] | None = None,
        timings: SearchTimings | None = None,
    ) -> list[Passage]:
        t = timings or SearchTimings()
        t0 = time.perf_counter()
        vector = self.embedder.embed([query])[0]
        t1 = time.perf_counter()
        t.embed_ms = (t1 - t0) * 1000
        return self.search_by_vector(query, vector, k, paper_ids, t)

    def _backfill(
        self,
        query: str,
        vector: object,
        k: int,
        n: int,
        paper_ids: Sequence[str] | None,
        fused: list[tuple[str, float]],
        top: list[tuple[str, float]],
    ) -> list[tuple[str, float]]:
        """The candidates came from too few papers for k results under the per-paper cap (one
        long paper can fill every candidate slot): search again without the papers at their
        cap, and only when the store has no other papers left, relax the cap."""
        per_paper = Counter(paper_of(c) for c, _ in top)
        full = sorted(p for p, count in per_paper.items() if count >= self.per_paper_cap)
        # searching within papers that are all at their cap (one paper asked about, or /ask
        # reading further into its best paper) finds nothing new: go straight to relaxing it
        if full and not (paper_ids is not None and set(paper_ids) <= set(full)):
            dense = self.store.chunks.query(vector, n, paper_ids, exclude=full)  # type: ignore[arg-type]
            lexical = self.lexical.search(query, n, paper_ids, exclude=full)
            more = reciprocal_rank_fusion([[c for c, _ in dense], [c for c, _ in lexical]], self.rrf_k)
            # the new candidates rank after the first ones: their scores are scaled below them
            floor = min((s for _, s in top), default=1.0)
            taken = {c for c, _ in top}
            extra = [(c, s * floor) for c, s in more if c not in taken]
            top = cap_per_group(top + extra, paper_of, self.per_paper_cap, k)
        if len(top) < k:
            taken = {c for c, _ in top}
            top += [(c, s) for c, s in fused if c not in taken][: k - len(top)]
        return top

    def search_by_vector(
        self,
        query: str,
        vector: object,
        k: int,
        paper_ids: Sequence[str] | None = None,
        timings: SearchTimings | None = None,
    ) -> list[Passage]:
        """Everything after the query embedding (benchmarks time this part alone)."""
        t = timings or SearchTimings()
        n = max(k * self.candidate_multiplier, 20)
        t0 = time.perf_counter()
        dense = self.store.chunks.query(vector, n, paper_ids)  # type: ignore[arg-type]
        t1 = time.perf_counter()
        lexical = self.lexical.search(query, n, paper_ids)
        t2 = time.perf_counter()
        fused = reciprocal_rank_fusion([[cid for cid, _ in dense], [cid for cid, _ in lexical]], self.rrf_k)
        top = cap_per_group(fused, paper_of, self.per_paper_cap, k)
        if len(top) < k:
            top = self._backfill(query, vector, k, n, paper_ids, fused, top)
        records = self.store.chunks.get([cid for cid, _ in top])
        t3 = time.perf_counter()
        t.dense_ms, t.lexical_ms, t.fetch_ms = (
            (t1 - t0) * 1000,
            (t2 - t1) * 1000,
            (t3 - t2) * 1000,
        )
        # a record can be deleted between ranking and fetch
        return [_passage(records[cid], score) for cid, score in top if cid in records]

    def passages_of(self, paper_id: str) -> list[Passage]:
        """Every passage of one paper, in reading order (a summary reads its abstract whole)."""
        return [_passage(rec, 0.0) for rec in self.store.chunks.of_paper(paper_id)]

    def sentence_matches(self, query: str, paper_id: str, n: int, exclude: set[str]) -> list[Passage]:
        """The `n` passages of one paper holding the sentences that match `query` best by
        BM25 over the paper's sentences, outside `exclude`. A passage is scored by its best
        sentence, not as a whole: in a long results paragraph the one sentence that answers
        ("CXE resulted in the highest HDR efficiency") is diluted by its neighbours in the
        passage's vector and in passage-level BM25."""
        if n <= 0:
            return []
        records = [r for r in self.store.chunks.of_paper(paper_id) if r.id not in exclude]
        owner: list[int] = []
        sentences: list[str] = []
        for i, rec in enumerate(records):
            for start, end in rec.sentence_spans or [(0, len(rec.text))]:
                owner.append(i)
                sentences.append(rec.text[start:end])
        if not sentences:
            return []
        scores = sentence_bm25(query, sentences)
        best: dict[int, float] = {}
        for i, score in zip(owner, scores, strict=True):
            best[i] = max(best.get(i, 0.0), score)
        ranked = sorted((i for i in best if best[i] > 0), key=lambda i: -best[i])[:n]
        return [_passage(records[i], best[i]) for i in ranked]


def _passage(rec: ChunkRecord, score: float) -> Passage:
    return Passage(
        chunk_id=rec.id,
        paper_id=rec.paper_id,
        title=rec.title,
        text=rec.text,
        score=round(score, 6),
        position=rec.position,
        sentences=rec.sentence_spans,
        page=rec.page,
        section=rec.section,
        part=rec.part,
        kind=str(rec.metadata["kind"]) if rec.metadata.get("kind") else None,
    )
