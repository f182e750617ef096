"""Sentence-level evidence: the sentences of retrieved passages that bear on a question,
packed into a token budget (not whole chunks).

Each candidate sentence is scored by cosine similarity to the question plus a small
bonus for sharing the question's content words; the best ones that fit the budget are
numbered, grouped by paper in reading order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from service.components.embedding.embedder import Embedder, Vectors
from service.components.tokens import count_tokens
from service.core.config import GroundingSettings, InjectionSettings
from service.corpus.names import title_head
from service.evidence.injection import data_title, flagged
from service.evidence.similarity import containment, cosine_matrix
from service.retrieval.retriever import Passage

DEFAULTS = GroundingSettings()  # the thresholds here: `PAPERLENS_GROUNDING__<NAME>`, passed in by callers
# Pointers, not claims: "See our project page at https://...", "Code is available at ..."
_BOILERPLATE = re.compile(
    r"https?://|www\.|project page|code (is|and \w+ are) (publicly )?available|github\.com|please refer to",
    re.IGNORECASE,
)


def name_like(head: str, most_words: int = DEFAULTS.short_label_words) -> bool:
    """A title's head that reads as a name: at most `most_words` words (`GROUNDING__SHORT_LABEL_WORDS`),
    each opening with a capital or a digit ("Motion Tracks", "GR00T N1"), so a phrase with a
    small word ("Flow Straight and Fast", "Manipulate by Seeing") is not taken for one."""
    words = head.split()
    return 0 < len(words) <= most_words and all(not w[0].islower() for w in words)


@dataclass
class Evidence:
    n: int
    paper_id: str
    title: str
    chunk_id: str
    text: str
    score: float
    order: tuple[int, int] = (0, 0)  # (chunk position, sentence start) for reading order
    page: int | None = None
    section: str | None = None
    prior: float = 0.0  # added to the score: `GROUNDING__FRONT_PRIOR` for the front matter
    aliases: tuple[str, ...] = ()  # the names the paper goes by ("DEIS"), when the caller knows them
    label_words: int = DEFAULTS.short_label_words  # see `label`

    def line(self) -> str:
        return f"[{self.n}] {self.text}"

    def label(self) -> str:
        """How the prompt names the paper: the short name a title opens with ("CARP" of
        "CARP: Visuomotor Policy Learning via ..."), else the whole title. The sentences say
        what the paper is about; the name is what an answer cites it by, in fewer tokens."""
        title = data_title(self.title)
        head = title_head(title)
        return head if head and name_like(head, self.label_words) else title


@dataclass
class EvidenceSet:
    items: list[Evidence]
    vectors: Vectors  # one per item, same order
    best_score: float

    def render(self) -> str:
        """Numbered sentences under their paper's title: a title is long, and said once per
        paper instead of once per sentence it saves about a tenth of the prompt."""
        lines: list[str] = []
        previous: str | None = None
        for e in self.items:
            if e.paper_id != previous:
                lines.append(f"Paper: {e.label()}")
                previous = e.paper_id
            lines.append(e.line())
        return "\n".join(lines)


def candidate_sentences(passages: list[Passage], tuning: GroundingSettings = DEFAULTS) -> list[Evidence]:
    """Every sentence of the passages once (overlapping chunks repeat sentences). A sentence
    of a structured paper's front matter (affiliations, correspondence, licence lines) gets
    `tuning.front_prior` added to its score, so the body comes first."""
    seen: set[tuple[str, str]] = set()
    out: list[Evidence] = []
    for p in passages:
        for start, end in p.sentences or [(0, len(p.text))]:
            text = p.text[start:end].strip()
            key = (p.paper_id, text)
            if len(text) < 12 or key in seen or _BOILERPLATE.search(text):
                continue
            seen.add(key)
            out.append(
                Evidence(
                    0,
                    p.paper_id,
                    p.title,
                    p.chunk_id,
                    text,
                    0.0,
                    (p.position, start),
                    p.page,
                    p.section,
                    tuning.front_prior if p.part == "front" else 0.0,
                    label_words=tuning.short_label_words,
                )
            )
    return out


def instructions(
    candidates: list[Evidence], vectors: Vectors, tuning: InjectionSettings = DEFAULTS.injection
) -> set[int]:
    """The candidates that are instructions to a machine reader, judged per paper in reading
    order (an instruction goes on into the next sentence; a sentence off the paper's topic
    counts as one more sign): a paper is data, and they are never evidence."""
    by_paper: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        by_paper.setdefault(c.paper_id, []).append(i)
    out: set[int] = set()
    for rows in by_paper.values():
        rows.sort(key=lambda i: candidates[i].order)
        bad = flagged([candidates[i].text for i in rows], vectors[rows], tuning=tuning)
        out.update(i for i, b in zip(rows, bad, strict=True) if b)
    return out


def select_evidence(
    question: str,
    passages: list[Passage],
    embedder: Embedder,
    *,
    max_sentences: int,
    token_budget: int,
    question_vector: Vectors | None = None,
    tuning: GroundingSettings = DEFAULTS,
    per_paper_share: float | None = None,
) -> EvidenceSet:
    """`question_vector`: the question's embedding when the caller already has it.
    `per_paper_share`: most share of the sentences one paper fills (`tuning.per_paper_share`
    unless given: a question about one whole paper needs its sentences, and the last slot
    keeps a second candidate paper)."""
    share = tuning.per_paper_share if per_paper_share is None else per_paper_share
    candidates = candidate_sentences(passages, tuning)
    if not candidates:
        return EvidenceSet([], np.zeros((0, embedder.dim), dtype=np.float32), 0.0)
    q_vector = embedder.embed([question]) if question_vector is None else question_vector.reshape(1, -1)
    sentence_vectors = embedder.embed([c.text for c in candidates])
    flagged_rows = instructions(candidates, sentence_vectors, tuning.injection)
    keep = [i for i in range(len(candidates)) if i not in flagged_rows]
    candidates = [candidates[i] for i in keep]
    if not candidates:
        return EvidenceSet([], np.zeros((0, embedder.dim), dtype=np.float32), 0.0)
    vectors = np.vstack([q_vector, sentence_vectors[keep]])
    cos = cosine_matrix(vectors[:1], vectors[1:])[0]
    for c, sim in zip(candidates, cos, strict=True):
        c.score = float(sim) + tuning.lexical_weight * containment(question, c.text) + c.prior
    ranked = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
    chosen: list[int] = []
    used = 0
    per_paper_cap = max(1, math.ceil(max_sentences * share))
    taken: dict[str, int] = {}
    for i in ranked:
        pid = candidates[i].paper_id
        cost = count_tokens(candidates[i].line()) + 2
        if pid not in taken:  # the paper's title line
            cost += count_tokens(candidates[i].label()) + 4
        if len(chosen) == max_sentences or used + cost > token_budget or taken.get(pid, 0) >= per_paper_cap:
            continue
        chosen.append(i)
        taken[pid] = taken.get(pid, 0) + 1
        used += cost
    best = max(float(cos.max()), 0.0)
    paper_rank: dict[str, int] = {}
    for i in chosen:
        paper_rank.setdefault(candidates[i].paper_id, len(paper_rank))
    chosen.sort(key=lambda i: (paper_rank[candidates[i].paper_id], candidates[i].order))
    items = []
    for n, i in enumerate(chosen, start=1):
        candidates[i].n = n
        items.append(candidates[i])
    return EvidenceSet(items, vectors[1:][chosen] if chosen else vectors[:0], best)


def merge_evidence(sets: list[EvidenceSet]) -> EvidenceSet:
    """Several papers' evidence as one numbered block (a sentence found twice kept once)."""
    if len(sets) == 1:
        return sets[0]
    items: list[Evidence] = []
    rows: list[int] = []
    seen: set[tuple[str, str]] = set()
    for k, es in enumerate(sets):
        for row, e in enumerate(es.items):
            if (e.paper_id, e.text) in seen:
                continue
            seen.add((e.paper_id, e.text))
            e.n = len(items) + 1
            items.append(e)
            rows.append(sum(len(s.items) for s in sets[:k]) + row)
    vectors = np.vstack([s.vectors for s in sets]) if sets else np.zeros((0, 0), dtype=np.float32)
    return EvidenceSet(items, vectors[rows], max((s.best_score for s in sets), default=0.0))
