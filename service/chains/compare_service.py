"""POST /compare: 2-5 papers side by side, one cell per aspect, each with a quote.

Designed for a 1.5B model: one small call per paper that writes one line per aspect
(`aspect: text`), then one call that writes the comparison summary from the checked
cells. Code matches every cell to the paper sentence that supports it (embedding
cosine or word containment) and checks its numbers; a cell nothing supports becomes
"not stated" with an empty quote. Without an LLM, each cell is the paper sentence
closest to a description of the aspect.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from service.chains.attribution import check_text
from service.chains.cues import cue_hits
from service.chains.evidence import Evidence, EvidenceSet
from service.chains.numbers import unsupported_numbers
from service.chains.prompts import load_prompt
from service.chains.similarity import containment, cosine_matrix
from service.chains.summary_service import clip_tokens
from service.chains.usage import Timings, Usage
from service.components.embedding.embedder import Embedder
from service.components.llm.client import LLMUnavailable
from service.components.llm.llm_handle import LLMHandle
from service.components.sentences import split_sentences
from service.components.vector_store.paper_store import PaperStore, StoredPaper
from service.core.config import Settings
from service.core.errors import BadInput, NotFound

DEFAULT_ASPECTS = ["problem", "approach", "evidence", "key result", "limitations"]
ASPECT_HINTS = {
    "problem": "the problem or challenge the paper addresses",
    "approach": "the method or model the paper proposes",
    "evidence": "the data, benchmarks or experiments used for evaluation",
    "key result": "the main result or improvement the paper reports",
    "limitations": "a limitation, weakness or open problem the paper admits",
}
NOT_STATED = "not stated"
PAPER_TEXT_TOKENS = 700
EXTRACTIVE_MIN_SIMILARITY = 0.3
CUE_WEIGHT = 0.2
_NOT_STATED = re.compile(r"^\W*(not stated|not mentioned|n/?a|none|unknown)\W*$", re.I)


def parse_aspect_lines(text: str, aspects: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().lstrip("-*• ").partition(":")
        name = key.strip().lower().strip("*_ ")
        if sep and name in aspects and name not in out:
            out[name] = value.strip().strip("*_ ")
    return out


class CompareService:
    def __init__(self, store: PaperStore, embedder: Embedder, llm: LLMHandle, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.llm = llm
        self.settings = settings
        self.cells_prompt = load_prompt(settings.prompts_dir, "compare")
        self.summary_prompt = load_prompt(settings.prompts_dir, "compare_summary")

    def _validate(
        self, paper_ids: Sequence[str], aspects: Sequence[str] | None
    ) -> tuple[list[StoredPaper], list[str]]:
        ids = list(dict.fromkeys(paper_ids))
        if not 2 <= len(ids) <= 5:
            raise BadInput(f"compare takes 2 to 5 distinct paper ids; got {len(ids)}")
        names = [" ".join(a.lower().split()) for a in (aspects or DEFAULT_ASPECTS)]
        if not names or len(names) > 8 or any(not a or len(a) > 40 or ":" in a for a in names):
            raise BadInput("aspects must be 1 to 8 non-empty names of at most 40 characters, without ':'")
        names = list(dict.fromkeys(names))
        papers = [self.store.get_paper(pid) for pid in ids]
        missing = [pid for pid, p in zip(ids, papers, strict=True) if p is None]
        if missing:
            raise NotFound(f"unknown paper ids: {', '.join(missing)}")
        return [p for p in papers if p is not None], names

    @staticmethod
    def _body(paper: StoredPaper) -> str:
        return "\n\n".join(p for p in (paper.abstract, paper.text) if p)

    def _support(
        self, paper: StoredPaper, sentences: list[str], vectors: np.ndarray, cells: dict[str, str]
    ) -> dict[str, dict[str, str]]:
        """Each claimed cell with its best supporting sentence, or "not stated"."""
        out: dict[str, dict[str, str]] = {}
        claims = {a: t for a, t in cells.items() if t and not _NOT_STATED.match(t)}
        if claims and sentences:
            sims = cosine_matrix(self.embedder.embed(list(claims.values())), vectors)
            for row, (aspect, claim) in enumerate(claims.items()):
                support = [
                    max(float(sims[row, i]), 1.0 if containment(claim, s) >= 0.8 else 0.0)
                    for i, s in enumerate(sentences)
                ]
                best = int(np.argmax(support))
                if support[best] >= self.settings.support_threshold and not unsupported_numbers(
                    claim, [sentences[best]]
                ):
                    out[aspect] = {"text": claim, "quote": sentences[best]}
        return out

    def _extractive_cells(
        self, sentences: list[str], vectors: np.ndarray, aspects: list[str]
    ) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        if not sentences:
            return out
        probes = self.embedder.embed([ASPECT_HINTS.get(a, a) for a in aspects])
        sims = cosine_matrix(probes, vectors)
        used: set[int] = set()
        for row, aspect in enumerate(aspects):
            scores = [
                float(sims[row, i]) + CUE_WEIGHT * min(cue_hits(s, aspect), 2) - (1.0 if i in used else 0.0)
                for i, s in enumerate(sentences)
            ]
            best = int(np.argmax(scores))
            if scores[best] >= EXTRACTIVE_MIN_SIMILARITY:
                used.add(best)
                out[aspect] = {"text": sentences[best], "quote": sentences[best]}
        return out

    def compare(self, paper_ids: Sequence[str], aspects: Sequence[str] | None = None) -> dict[str, Any]:
        papers, names = self._validate(paper_ids, aspects)
        usage, timings = Usage(), Timings()
        client = self.llm.client
        engine = "llm" if client is not None else "extractive"
        degraded = client is None and self.llm.wanted
        rows = []
        for paper in papers:
            sentences = split_sentences(self._body(paper))[:80]
            vectors = self.embedder.embed(sentences) if sentences else np.zeros((0, self.embedder.dim))
            cells: dict[str, dict[str, str]] | None = None
            if client is not None and not degraded:
                messages = self.cells_prompt.render(
                    aspect_lines="\n".join(f"{a}: ..." for a in names),
                    title=paper.title,
                    text=clip_tokens(self._body(paper), PAPER_TEXT_TOKENS),
                )
                try:
                    with timings.measure("llm"):
                        completion = client.complete(messages, 60 * len(names))
                    usage.add(completion)
                    cells = self._support(
                        paper, sentences, vectors, parse_aspect_lines(completion.text, names)
                    )
                except LLMUnavailable:
                    degraded, engine = True, "extractive"
            if cells is None:
                cells = self._extractive_cells(sentences, vectors, names)
            rows.append(
                {
                    "paper_id": paper.id,
                    "title": paper.title,
                    "cells": {a: cells.get(a, {"text": NOT_STATED, "quote": ""}) for a in names},
                }
            )
        summary = self._summary(rows, names, usage, timings, use_llm=not degraded and client is not None)
        return {
            "aspects": names,
            "rows": rows,
            "summary": summary,
            "engine": engine,
            "degraded": degraded,
            "model": self.llm.model if engine == "llm" else "extractive",
            "prompt_version": f"{self.cells_prompt.version}+{self.summary_prompt.version}",
            "usage": usage.as_dict(),
            "timings_ms": timings.as_dict(),
        }

    def _summary(
        self, rows: list[dict[str, Any]], names: list[str], usage: Usage, timings: Timings, use_llm: bool
    ) -> str:
        facts: list[Evidence] = []
        for row in rows:
            for aspect in names:
                cell = row["cells"][aspect]
                if cell["quote"]:
                    facts.append(
                        Evidence(len(facts) + 1, row["paper_id"], row["title"], "", cell["quote"], 1.0)
                    )
        if not facts:
            return "The papers' texts do not state the compared aspects."
        firsts = [
            (row["title"], next((row["cells"][a] for a in names if row["cells"][a]["quote"]), None))
            for row in rows
        ]
        fallback = " ".join(f"{title}: {cell['text'].rstrip('.')}." for title, cell in firsts if cell)
        client = self.llm.client
        if not use_llm or client is None:
            return fallback
        evidence = EvidenceSet(facts, self.embedder.embed([f.text for f in facts]), 1.0)
        messages = self.summary_prompt.render(evidence=evidence.render())
        try:
            with timings.measure("llm"):
                completion = client.complete(messages, 160)
        except LLMUnavailable:
            return fallback
        usage.add(completion)
        checked = check_text(completion.text, evidence, self.embedder, self.settings.support_threshold)
        if checked.empty:
            return fallback
        # markers refer to the cells' quotes, which the table already shows: drop them
        return re.sub(r"\s*\[\d+\]", "", checked.text)
