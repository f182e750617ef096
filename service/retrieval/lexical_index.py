"""BM25 over every chunk (bm25s, English stop words, Snowball stemming).

The index is rebuilt lazily when the store's generation token changes, so a write by
this process or by another replica sharing a Chroma server is picked up. Tokens are
cached per chunk id, so a rebuild re-tokenises only new chunks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer

from service.components.vector_store.paper_store import PaperStore

_stemmer = Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    out = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer.stemWords, return_ids=False, show_progress=False
    )
    return [list(tokens) for tokens in out]


class LexicalIndex:
    def __init__(self, store: PaperStore, refresh_seconds: float = 1.0) -> None:
        self._store = store
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._checked_at = 0.0
        self._tokens: dict[str, list[str]] = {}
        self._ids: list[str] = []
        self._paper_ids = np.array([], dtype=object)
        self._bm25: bm25s.BM25 | None = None

    def invalidate(self) -> None:
        with self._lock:
            self._generation = None

    def _ensure_fresh(self) -> None:
        now = time.monotonic()
        if self._generation is not None and now - self._checked_at < self._refresh_seconds:
            return
        generation = self._store.generation()
        self._checked_at = now
        if generation == self._generation:
            return
        self._rebuild()
        self._generation = generation

    def _rebuild(self) -> None:
        ids: list[str] = []
        paper_ids: list[str] = []
        new_texts: list[tuple[str, str]] = []
        for cid, pid, text in self._store.iter_chunk_texts():
            ids.append(cid)
            paper_ids.append(pid)
            if cid not in self._tokens:
                new_texts.append((cid, text))
        if new_texts:
            tokens = tokenize([t for _, t in new_texts])
            self._tokens.update((cid, tok) for (cid, _), tok in zip(new_texts, tokens, strict=True))
        live = set(ids)
        self._tokens = {cid: tok for cid, tok in self._tokens.items() if cid in live}
        self._ids = ids
        self._paper_ids = np.array(paper_ids, dtype=object)
        if ids:
            bm25 = bm25s.BM25()
            bm25.index([self._tokens[cid] for cid in ids], show_progress=False)
            self._bm25 = bm25
        else:
            self._bm25 = None

    def search(self, query: str, n: int, paper_ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score), best first; only chunks with a positive score."""
        with self._lock:
            self._ensure_fresh()
            if self._bm25 is None:
                return []
            query_tokens = [t for t in tokenize([query])[0] if t in self._bm25.vocab_dict]
            if not query_tokens:
                return []
            mask = None
            if paper_ids:
                mask = np.isin(self._paper_ids, list(paper_ids)).astype(np.float32)
                if not mask.any():
                    return []
            k = min(n, len(self._ids))
            docs, scores = self._bm25.retrieve(
                [query_tokens], k=k, show_progress=False, weight_mask=mask, n_threads=1
            )
            return [(self._ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
