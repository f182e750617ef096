"""The sentences of one paper a summary is written from.

A small model summarises well when it is handed the right sentences and badly when it is
handed a whole paper (or only its title page). A summary must say: the problem, what the
paper does (naming its method, data or benchmark), the main result with its number, and a
limitation or what it enables. So the prompt shows:

- the abstract, whole (within a share of the budget; a long one loses its sentences that
  serve no role well first): the authors' own summary, the one place that names the
  method and states the headline number, in the order a summary tells it. For a PDF that
  is the parsed abstract itself, not the licence lines and affiliations printed beside it;
- for a whole paper, its body's best sentences for the main result and for a limitation,
  found by the literature matrix's ranker (`matrix_sentences.SentencePicker`: each role
  searched in the paper's passages and scored by meaning, shared words, cue words,
  numbers and the parts of a paper where it lives), each under its role's heading: so the
  results, discussion and conclusion are in reach, never the front matter.

The same scoring (`matrix_sentences.score`) ranks the abstract's sentences for every role,
for the quoted summary that stands in when no written one survives. A sentence addressed
to a machine reader is never shown. The sentences, numbered in reading order, are also the
evidence every summary sentence is checked against and the sources the response lists
(with page and section for a PDF).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.components.embedding.embedder import Embedder
from service.components.tokens import count_tokens
from service.components.vector_store.paper_records import StoredPaper
from service.core.config import SummarySettings
from service.evidence import select as evidence_module  # instructions() by attribute, as the picker
from service.evidence.matrix_sentences import SentencePicker, probe
from service.evidence.select import Evidence, EvidenceSet, candidate_sentences
from service.evidence.similarity import cosine_matrix
from service.retrieval.retriever import Passage

RESULT = "main result and its number"
ROLES = ("problem", "approach", "evidence", RESULT, "limitations")  # the ranker's aspects
LEAD = "From the abstract"
# the heading a role's sentences from a whole paper's body are shown under
HEADINGS: dict[str, str] = {
    "problem": "The problem, from the body of the paper",
    "approach": "What the paper does, from the body of the paper",
    "evidence": "How it is tested, from the body of the paper",
    RESULT: "The main result, from the body of the paper (numbers, and what they are compared with)",
    "limitations": "A limitation, or what it makes possible, from the body of the paper",
}
BODY_ROLES = [RESULT, "limitations"]  # what a whole paper's body adds to its abstract
# where a body sentence may come from (never a legend): the findings, not the introduction's
# account of earlier work; with no abstract found, anywhere but the front matter
BODY_PARTS = {"results", "discussion", "conclusion"}
EXTRACTIVE_ROLES = ("problem", "approach", RESULT)  # a quoted summary: one sentence of each
TLDR_ROLES = ("approach", RESULT)  # a quoted TLDR: the first of these the paper has


@dataclass
class SummaryEvidence:
    """`evidence.items` in reading order (item i is sentence [i + 1] of the prompt);
    `body`: the items from a whole paper's body, with their role; `ranked`: for each role
    of ROLES, items best first."""

    evidence: EvidenceSet
    body: dict[int, str]
    ranked: dict[str, list[int]]

    @property
    def items(self) -> list[Evidence]:
        return self.evidence.items

    def render(self) -> str:
        """The abstract's numbered sentences, then the body's under their role's heading."""
        groups = [(LEAD, [i for i in range(len(self.items)) if i not in self.body])]
        groups += [
            (heading, [i for i, r in self.body.items() if r == role]) for role, heading in HEADINGS.items()
        ]
        return "\n\n".join(
            f"{heading}:\n" + "\n".join(f"[{i + 1}] {self.items[i].text}" for i in sorted(mine))
            for heading, mine in groups
            if mine
        )

    def quoted(self, roles: tuple[str, ...], most: int) -> list[int]:
        """The best sentence of each of `roles` (each once, at most `most`), in reading order."""
        chosen: list[int] = []
        for role in roles:
            best = next((i for i in self.ranked.get(role, []) if i not in chosen), None)
            if best is not None and len(chosen) < most:
                chosen.append(best)
        return sorted(chosen)


def _squash(text: str) -> str:
    return " ".join(text.split())


# what is printed beside a paper's text, not said in it: licences, correspondence, credits
_PRINTED_BESIDE = re.compile(
    r"\u00a9|\bcopyright\b|creative commons|\blicen[cs]ed?\b|\bcorrespondence\b|contributed equally"
    r"|\bopen access\b|graphical abstract",
    re.IGNORECASE,
)


def prose(sentence: str, tuning: SummarySettings) -> bool:
    """Whether `sentence` reads as a sentence of the paper: not a heading, a label, an
    affiliation (words in capitals: "Hospital, Sun Yat-sen University, Guangzhou 510080,
    China" is a name) or a licence line."""
    words = sentence.split()
    lower = sum(w[0].islower() for w in words)
    return (
        len(words) >= tuning.min_prose_words
        and lower >= tuning.min_lower_share * len(words)
        and not _PRINTED_BESIDE.search(sentence)
    )


def _abstract(
    picker: SentencePicker,
    embedder: Embedder,
    paper: StoredPaper,
    passages: list[Passage],
    budget: int,
    removed: set[str],
) -> tuple[list[Evidence], np.ndarray]:
    """The abstract's sentences (all of an abstract-only paper's) that fit `budget`, and
    their score for every role (rows: ROLES); the weakest go first when it is long."""
    whole = bool(paper.blocks)
    mine = [p for p in passages if not whole or p.part == "abstract"]
    found = candidate_sentences(mine, picker.settings.grounding)
    if whole and paper.abstract:  # the parsed abstract, not what is printed beside it
        abstract = _squash(paper.abstract)
        found = [c for c in found if _squash(c.text) in abstract]
    tuning = picker.settings.summary
    found = [c for c in found if prose(c.text, tuning) and _squash(c.text) not in removed]
    vectors = embedder.embed([c.text for c in found])
    flagged = evidence_module.instructions(found, vectors)
    keep = [i for i in range(len(found)) if i not in flagged]
    sentences, vectors = [found[i] for i in keep], vectors[keep]
    if not sentences:
        return [], np.zeros((len(ROLES), 0))
    part_of = {p.chunk_id: p.part for p in mine}
    cos = cosine_matrix(embedder.embed([probe(r) for r in ROLES]), vectors)
    scores = np.array(
        [
            [
                picker.score(role, s, part_of.get(s.chunk_id), float(cos[r, i]))
                for i, s in enumerate(sentences)
            ]
            for r, role in enumerate(ROLES)
        ]
    )
    kept = list(range(len(sentences)))
    cost = {i: count_tokens(sentences[i].text) + 3 for i in kept}
    while len(kept) > 1 and sum(cost[i] for i in kept) > budget:
        kept.remove(min(kept, key=lambda i: float(scores[:, i].max())))
    return [sentences[i] for i in kept], scores[:, kept]


def _body(
    picker: SentencePicker,
    paper_id: str,
    passages: list[Passage],
    roles: list[str],
    shown: list[Evidence],
    per_role: int,
    budget: int,
    removed: set[str],
) -> dict[str, list[Evidence]]:
    """For each of `roles`, the body's best sentences (best first) not already `shown`."""
    picked = picker.pick(paper_id, roles, per_role, budget)
    body = {
        p.chunk_id
        for p in passages
        if p.kind != "caption" and (p.part in BODY_PARTS or (not shown and p.part != "front"))
    }
    seen = {s.text for s in shown}
    tuning = picker.settings.summary
    return {
        role: [
            s
            for s in (picked.sentences[i] for i in picked.picks[role])
            if s.chunk_id in body
            and s.text not in seen
            and prose(s.text, tuning)
            and _squash(s.text) not in removed
        ]
        for role in roles
    }


def summary_evidence(
    picker: SentencePicker,
    embedder: Embedder,
    paper: StoredPaper,
    per_role: int,
    token_budget: int,
    removed: Sequence[str] = (),
) -> SummaryEvidence:
    """The sentences a summary of `paper` is written from, within `token_budget` tokens:
    its abstract, and for a whole paper its body's `per_role` best sentences for the
    main result and for a limitation (for every role when no abstract was found).
    `removed`: sentences of the paper already found to address a machine reader (at the
    lower bar of a text shown whole); they are never shown."""
    passages = picker.retriever.passages_of(paper.id)
    abstract_share = picker.settings.summary.abstract_share  # the rest of the budget: the body's
    share = int(token_budget * abstract_share) if paper.blocks else token_budget
    flagged = {_squash(r) for r in removed}
    lead, lead_scores = _abstract(picker, embedder, paper, passages, share, flagged)
    body: dict[str, list[Evidence]] = {}
    if paper.blocks:
        used = sum(count_tokens(s.text) + 3 for s in lead)
        roles = BODY_ROLES if lead else list(ROLES)
        body = _body(picker, paper.id, passages, roles, lead, per_role, max(token_budget - used, 0), flagged)
    extra = {id(s): s for mine in body.values() for s in mine}
    items = sorted([*lead, *extra.values()], key=lambda e: e.order)
    index = {id(e): i for i, e in enumerate(items)}
    for n, item in enumerate(items, start=1):
        item.n = n
    ranked = {
        role: [index[id(lead[i])] for i in np.argsort(-lead_scores[r], kind="stable")]
        for r, role in enumerate(ROLES)
    }
    home: dict[int, str] = {}
    best: dict[int, tuple[int, int]] = {}  # a body sentence's role: the one ranking it highest
    for order, (role, mine) in enumerate(body.items()):
        for rank, s in enumerate(mine):
            i = index[id(s)]
            ranked[role].append(i)
            if i not in best or (rank, order) < best[i]:
                best[i] = (rank, order)
                home[i] = role
    vectors = embedder.embed([e.text for e in items])
    return SummaryEvidence(EvidenceSet(items, vectors, 1.0), home, ranked)
