"""BM25 over every chunk (bm25s, English stop words, Snowball stemming).

The store's generation token (checked at most once per `refresh_seconds`) tells when
chunks changed, here or in another replica sharing a Chroma server. Tokens are cached
per chunk id, so a refresh reads and tokenises only new chunks; the bm25s index itself
is rebuilt. Small indexes are rebuilt before the search that noticed the change; past
`background_threshold` chunks the rebuild runs in a background thread while searches
keep using the previous index (deleted chunks are dropped when passages are fetched;
new chunks are found by the dense side meanwhile).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer

from service.components.chunk_ids import paper_of
from service.components.vector_store.paper_store import PaperStore

_stemmer = Stemmer.Stemmer("english")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


def tokenize(texts: list[str]) -> list[list[str]]:
    out = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer.stemWords, return_ids=False, show_progress=False
    )
    return [list(tokens) for tokens in out]


def sentence_bm25(query: str, texts: list[str]) -> list[float]:
    """BM25 scores of `query` against each of `texts`, indexed on the spot (the sentences
    of one paper: a few hundred, milliseconds)."""
    terms = tokenize([query])[0]
    docs = tokenize(texts) if texts else []
    if not terms or not any(docs):  # bm25s cannot index a vocabulary of nothing
        return [0.0] * len(texts)
    index = bm25s.BM25()
    index.index(docs, show_progress=False)
    return [float(x) for x in index.get_scores(terms)]


@dataclass(frozen=True)
class _Snapshot:
    generation: str
    ids: list[str]
    paper_ids: npt.NDArray[np.object_]
    bm25: bm25s.BM25 | None


class LexicalIndex:
    def __init__(
        self, store: PaperStore, refresh_seconds: float = 1.0, background_threshold: int = 20_000
    ) -> None:
        self._store = store
        self.refresh_seconds = refresh_seconds
        self.background_threshold = background_threshold
        self._snapshot: _Snapshot | None = None
        self._tokens: dict[str, list[str]] = {}
        self._build_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._checked_at = 0.0
        self._building = False

    def invalidate(self) -> None:
        """Check the store on the next search (this process just wrote to it)."""
        self._checked_at = 0.0

    def _current(self) -> _Snapshot:
        now = time.monotonic()
        snap = self._snapshot
        if snap is not None and now - self._checked_at < self.refresh_seconds:
            return snap
        self._checked_at = now
        generation = self._store.generation.current()
        if snap is not None and generation == snap.generation:
            return snap
        if snap is None or len(snap.ids) < self.background_threshold:
            self._rebuild(generation)
        else:
            self._rebuild_in_background(generation)
        assert self._snapshot is not None
        return self._snapshot

    def _rebuild_in_background(self, generation: str) -> None:
        with self._state_lock:
            if self._building:
                return
            self._building = True

        def work() -> None:
            try:
                self._rebuild(generation)
            finally:
                self._building = False

        threading.Thread(target=work, name="bm25-rebuild", daemon=True).start()

    def _rebuild(self, generation: str) -> None:
        with self._build_lock:
            if self._snapshot is not None and self._snapshot.generation == generation:
                return
            ids = self._store.chunks.all_ids()
            missing = [cid for cid in ids if cid not in self._tokens]
            if missing:
                texts = self._store.chunks.texts(missing)
                found = [cid for cid in missing if cid in texts]
                tokens = tokenize([texts[cid] for cid in found])
                self._tokens.update(zip(found, tokens, strict=True))
                ids = [cid for cid in ids if cid in self._tokens]  # deleted meanwhile
            live = set(ids)
            self._tokens = {cid: tok for cid, tok in self._tokens.items() if cid in live}
            bm25 = None
            if ids:
                bm25 = bm25s.BM25()
                bm25.index([self._tokens[cid] for cid in ids], show_progress=False)
            self._snapshot = _Snapshot(
                generation, ids, np.array([paper_of(c) for c in ids], dtype=object), bm25
            )

    def search(
        self,
        query: str,
        n: int,
        paper_ids: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk id, BM25 score), best first; only chunks with a positive score, only from
        `paper_ids` when given, none from `exclude`."""
        snap = self._current()
        if snap.bm25 is None:
            return []
        query_tokens = [t for t in tokenize([query])[0] if t in snap.bm25.vocab_dict]
        if not query_tokens:
            return []
        mask = None
        if paper_ids or exclude:
            keep = (
                np.isin(snap.paper_ids, list(paper_ids)) if paper_ids else np.ones(len(snap.ids), dtype=bool)
            )
            if exclude:
                keep &= ~np.isin(snap.paper_ids, list(exclude))
            if not keep.any():
                return []
            mask = keep.astype(np.float32)
        docs, scores = snap.bm25.retrieve(
            [query_tokens], k=min(n, len(snap.ids)), show_progress=False, weight_mask=mask, n_threads=1
        )
        return [(snap.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
