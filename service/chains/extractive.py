"""The extractive engine: answers built from the best evidence sentences themselves.

Used when no LLM is configured or the LLM keeps failing: deterministic, fast, and
grounded by construction (every sentence is a quote with its marker).
"""

from __future__ import annotations

from service.chains.evidence import EvidenceSet

MAX_SENTENCES = 2
KEEP_WITHIN = 0.12  # keep a second sentence only if it scores close to the best


def extractive_answer(evidence: EvidenceSet) -> str:
    ranked = sorted(evidence.items, key=lambda e: -e.score)[:MAX_SENTENCES]
    if not ranked:
        return ""
    top = ranked[0].score
    chosen = [e for e in ranked if e.score >= top - KEEP_WITHIN]
    return " ".join(f"{e.text} [{e.n}]" for e in sorted(chosen, key=lambda e: e.n))
