"""Phrases that mark what a sentence of an abstract does: used by the extractive
engine to pick the problem / idea / result sentences without an LLM."""

from __future__ import annotations

CUES: dict[str, tuple[str, ...]] = {
    "problem": ("challenge", "problem", "however", "lack", "difficult", "struggle", "limited", "suffer"),
    "approach": ("we propose", "we introduce", "we present", "this paper", "our method", "we develop"),
    "evidence": ("experiment", "benchmark", "dataset", "evaluat", "simulation", "real-world", "tasks"),
    "key result": ("outperform", "achiev", "improv", "results show", "state-of-the-art", "faster", "%"),
    "limitations": ("limitation", "fail", "remain", "future work", "cannot", "drawback", "struggle"),
}


def cue_hits(sentence: str, aspect: str) -> int:
    low = sentence.lower()
    return sum(cue in low for cue in CUES.get(aspect, ()))
