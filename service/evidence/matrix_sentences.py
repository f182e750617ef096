"""The few sentences of one paper a literature-matrix row is filled from.

A small model answers a column well when it is shown a handful of sentences, one of which
states the answer, and badly when it is shown a whole paper. So for each column this
module finds the paper's passages that match it (hybrid search within the paper, plus
the passages holding its best sentences by BM25: in a long paper the answer is one
sentence of a long paragraph), scores every sentence of them against the column
(embedding cosine, shared content words, a number when the column asks for a quantity,
and for the comparison's default aspects the words and the part of the paper where
they live), and keeps each column's best few. The union, numbered in reading order
within a token budget, is what the prompt shows; a sentence addressed to a machine
reader is never among them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from service.components.embedding.embedder import Embedder, Vectors
from service.components.tokens import count_tokens
from service.core.config import Settings
from service.evidence import (
    select as evidence,  # instructions() by attribute: the injection ablation swaps it
)
from service.evidence.cues import cue_hits
from service.evidence.numbers import numbers_in
from service.evidence.select import Evidence, candidate_sentences
from service.evidence.similarity import containment, cosine_matrix
from service.retrieval.retriever import HybridRetriever, Passage

# the comparison's default aspects: what each means, the parts of a paper where it lives
ASPECT_HINTS = {
    "problem": "the problem or challenge the paper addresses",
    "approach": "the method or model the paper proposes",
    "evidence": "the data, benchmarks or experiments used for evaluation",
    "key result": "the main result or improvement the paper reports",
    "limitations": "a limitation, weakness or open problem the paper admits",
    # the summary's result role (summary_evidence.py): a key result, and "number" makes it a quantity
    "main result and its number": "the main result the paper reports, with its number and what it is "
    "compared with",
}
ASPECT_PARTS = {
    "problem": ("abstract", "introduction"),
    "approach": ("abstract", "methods"),
    "evidence": ("methods", "results"),
    "key result": ("abstract", "results", "conclusion"),
    "limitations": ("discussion", "conclusion"),
    "main result and its number": ("abstract", "results", "conclusion"),
}
CUES_OF = {"main result and its number": "key result"}  # an aspect that reads another's cue words
_QUANTITY = re.compile(
    r"\b(how (many|much|large|big|fast|long|often)|number|count|size|value|rate|accuracy|"
    r"percent(age)?|score|metric|speed|latency|cost|samples?|parameters?|finding)\b",
    re.IGNORECASE,
)


def asks_quantity(column: str) -> bool:
    return _QUANTITY.search(column) is not None


def probe(column: str) -> str:
    """What a column is embedded as: a default aspect by what it means, else its own words."""
    return ASPECT_HINTS.get(column.lower(), column)


@dataclass
class PaperSentences:
    """`sentences`: what the prompt shows, in reading order (numbered from 1); `picks`: for
    each column, indexes into `sentences`, best first, with their scores."""

    sentences: list[Evidence]
    picks: dict[str, list[int]] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)

    def numbered(self) -> str:
        return "\n".join(f"[{i}] {s.text}" for i, s in enumerate(self.sentences, start=1))


class SentencePicker:
    def __init__(self, retriever: HybridRetriever, embedder: Embedder, settings: Settings) -> None:
        """`settings`: MATRIX_PASSAGES_PER_COLUMN, the weights of `score` (`MATRIX__<NAME>`) and
        the evidence thresholds (`GROUNDING__<NAME>`)."""
        self.retriever = retriever
        self.embedder = embedder
        self.settings = settings
        self.passages_per_column = settings.matrix_passages_per_column

    def score(
        self, column: str, sentence: Evidence, part: str | None, cosine: float, abstract_bonus: float = 0.0
    ) -> float:
        """How well `sentence` (from the part `part` of its paper) answers `column`;
        `abstract_bonus` is added when that part is the abstract."""
        tune = self.settings.matrix
        lexical = self.settings.grounding.lexical_weight
        total = cosine + lexical * containment(column, sentence.text) + sentence.prior
        if part == "abstract":
            total += abstract_bonus
        if asks_quantity(column) and numbers_in(sentence.text):
            total += tune.number_weight
        aspect = column.lower()
        if aspect in ASPECT_HINTS:
            total += tune.cue_weight * min(cue_hits(sentence.text, CUES_OF.get(aspect, aspect)), 2)
            total += tune.part_weight if part in ASPECT_PARTS[aspect] else 0.0
        return total

    def _passages(
        self, paper_id: str, columns: Sequence[str], vectors: Vectors, abstract: bool
    ) -> list[Passage]:
        found: dict[str, Passage] = {}
        for column, vector in zip(columns, vectors, strict=True):
            for p in self.retriever.search_by_vector(
                probe(column), vector, self.passages_per_column, [paper_id]
            ):
                found.setdefault(p.chunk_id, p)
            matches = self.settings.matrix.sentence_match_passages
            for p in self.retriever.sentence_matches(column, paper_id, matches, set(found)):
                found.setdefault(p.chunk_id, p)
        if abstract:
            whole = self.retriever.passages_of(paper_id)
            if any(p.part not in ("abstract", "front", None) for p in whole):  # a paper with a body
                for p in whole:
                    if p.part == "abstract":
                        found.setdefault(p.chunk_id, p)
        return list(found.values())

    def pick(
        self,
        paper_id: str,
        columns: Sequence[str],
        per_column: int,
        token_budget: int,
        *,
        with_abstract: bool = False,
    ) -> PaperSentences:
        """Each column's `per_column` best sentences of the paper, all of them within
        `token_budget` tokens (a column's best sentence goes in before any column's second).
        `with_abstract` (a matrix row): a whole paper's abstract is a candidate for every
        column, weighted by `MATRIX__ABSTRACT_WEIGHT`; a summary's body picks leave it out."""
        bonus = self.settings.matrix.abstract_weight if with_abstract else 0.0
        probes = self.embedder.embed([probe(c) for c in columns])
        passages = self._passages(paper_id, columns, probes, bonus > 0)
        candidates = candidate_sentences(passages, self.settings.grounding)
        if not candidates:
            return PaperSentences([], {c: [] for c in columns}, {c: [] for c in columns})
        vectors = self.embedder.embed([c.text for c in candidates])
        flagged = evidence.instructions(candidates, vectors)
        keep = [i for i in range(len(candidates)) if i not in flagged]
        candidates = [candidates[i] for i in keep]
        part_of = {p.chunk_id: p.part for p in passages}
        cos = cosine_matrix(probes, vectors[keep]) if keep else np.zeros((len(columns), 0))
        ranked: dict[str, list[tuple[float, int]]] = {}
        for row, column in enumerate(columns):
            scored = [
                (self.score(column, s, part_of.get(s.chunk_id), float(cos[row, i]), bonus), i)
                for i, s in enumerate(candidates)
            ]
            ranked[column] = sorted(scored, key=lambda t: -t[0])[:per_column]
        chosen: list[int] = []
        used = 0
        for rank in range(per_column):  # round robin: every column's best first
            for column in columns:
                if rank >= len(ranked[column]):
                    continue
                i = ranked[column][rank][1]
                if i in chosen:
                    continue
                cost = count_tokens(candidates[i].text) + 3
                if used + cost > token_budget and chosen:
                    continue
                chosen.append(i)
                used += cost
        chosen.sort(key=lambda i: candidates[i].order)
        number = {i: n for n, i in enumerate(chosen)}
        picks = {c: [number[i] for _, i in ranked[c] if i in number] for c in columns}
        scores = {c: [s for s, i in ranked[c] if i in number] for c in columns}
        return PaperSentences([candidates[i] for i in chosen], picks, scores)
