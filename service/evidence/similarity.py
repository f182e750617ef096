"""How well one text supports another: embedding cosine, or word containment.

Cosine catches paraphrase; containment (the share of the claim's content words found in
the evidence) catches near-copies that a short claim's embedding can miss.
"""

from __future__ import annotations

import re

import numpy as np
import Stemmer

from service.components.embedding.embedder import Vectors
from service.core.config import GroundingSettings

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "for",
        "to",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "by",
        "with",
        "as",
        "at",
        "from",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "their",
        "they",
        "we",
        "our",
        "which",
        "who",
        "what",
        "how",
        "when",
        "where",
        "why",
        "than",
        "then",
        "into",
        "over",
        "under",
        "can",
        "could",
        "may",
        "might",
        "will",
        "would",
        "should",
        "do",
        "does",
        "did",
        "not",
        "no",
        "yes",
        "also",
        "such",
        "using",
        "use",
        "used",
        "via",
        "both",
        "each",
        "per",
        "more",
        "most",
        "less",
        "very",
        "much",
        "many",
        "all",
        "any",
        "some",
        "author",  # "the authors show ...": how an answer refers to a paper, never in its text
        "authors",
    }
)


_stemmer = Stemmer.Stemmer("english")

# irregular forms of verbs that carry a finding, which a stemmer leaves apart: "did not grow"
# is about what "grew" says (light verbs such as "seen", "shown", "found" stay as they are:
# mapped, they match sentences on words that say nothing)
_IRREGULAR = {
    "grew": "grow",
    "grown": "grow",
    "rose": "rise",
    "risen": "rise",
    "fell": "fall",
    "fallen": "fall",
    "bound": "bind",
    "underwent": "undergo",
    "undergone": "undergo",
    "lost": "lose",
    "chose": "choose",
    "chosen": "choose",
    "drove": "drive",
    "driven": "drive",
}


def _words(text: str) -> list[str]:
    """Lower-case words, irregular verb forms as their base; "mean--square" (a PDF's or
    LaTeX's dash) is "mean-square"."""
    return [_IRREGULAR.get(w, w) for w in _WORD.findall(text.lower().replace("--", "-"))]


def content_words(text: str) -> set[str]:
    """Stemmed words minus stop words; numbers always count ("8" in "8 tasks")."""
    words = [w for w in _words(text) if w not in _STOP and (len(w) > 1 or w.isdigit())]
    return set(_stemmer.stemWords(words))


def stem(word: str) -> str:
    """One word's Snowball stem ("reduces" -> "reduc")."""
    return str(_stemmer.stemWord(word))


def stem_words(text: str) -> set[str]:
    """Every word of `text`, stemmed (stop words kept: "more", "less" matter here)."""
    return set(_stemmer.stemWords(_words(text)))


def containment(claim: str, evidence: str) -> float:
    words = content_words(claim)
    if not words:
        return 0.0
    return len(words & content_words(evidence)) / len(words)


def cosine_matrix(a: Vectors, b: Vectors) -> Vectors:
    """Rows of `a` against rows of `b` (both L2-normalised)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    out: Vectors = a @ b.T
    return out


def support(
    cosine: float, claim: str, evidence: str, share: float = GroundingSettings().containment_support
) -> float:
    """How well `evidence` supports `claim`: the cosine, or 1.0 for a near-copy (a text whose
    content words are at least `share` inside it, whatever the cosine says:
    `PAPERLENS_GROUNDING__CONTAINMENT_SUPPORT`)."""
    return max(cosine, 1.0 if containment(claim, evidence) >= share else 0.0)
