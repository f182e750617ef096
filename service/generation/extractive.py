"""The extractive engine: answers and summaries built from the papers' sentences themselves.

Used when no LLM is configured or the LLM keeps failing: deterministic, fast, and
grounded by construction (every sentence is a quote; an answer's carry their markers).
"""

from __future__ import annotations

from service.components.sentences import split_sentences
from service.core.config import ExtractiveSettings
from service.evidence.cues import cue_hits
from service.evidence.select import EvidenceSet


def extractive_answer(evidence: EvidenceSet, tuning: ExtractiveSettings = ExtractiveSettings()) -> str:
    """The best evidence sentences (at most `tuning.max_sentences`), each after the first
    only when it scores within `tuning.keep_within` of the best, in evidence order."""
    ranked = sorted(evidence.items, key=lambda e: -e.score)[: tuning.max_sentences]
    if not ranked:
        return ""
    top = ranked[0].score
    chosen = [e for e in ranked if e.score >= top - tuning.keep_within]
    return " ".join(f"{e.text} [{e.n}]" for e in sorted(chosen, key=lambda e: e.n))


def extractive_summary(body: str) -> str:
    """Three sentences of the paper: the problem, the key idea, the main result."""
    sentences = split_sentences(body)[:40]
    picked: list[str] = []
    for aspect in ("problem", "approach", "key result"):
        for s in sentences:
            if s not in picked and cue_hits(s, aspect):
                picked.append(s)
                break
    for s in sentences:  # pad from the start when cues are missing
        if len(picked) >= 3:
            break
        if s not in picked:
            picked.append(s)
    return " ".join(sorted(picked, key=sentences.index))
