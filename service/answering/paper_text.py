"""What of a paper the summary and compare prompts see, and the sentences their checks match.

An abstract-only paper is short: it is shown whole (up to the token budget). A whole
paper (a PDF with located blocks) is not: its first 900 tokens are the title page. So a
long paper is shown by the parts that carry its story, each given a share of the same
budget: the abstract, the introduction's last paragraph (where the contribution is
stated), the first paragraphs of the results, and the conclusion (or the discussion's
opening). The sentences a compare cell may quote come from the parts where each aspect
lives, each with its page and section.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.components.sentences import split_sentences
from service.components.tokens import clip_tokens, count_tokens
from service.components.vector_store.paper_records import StoredPaper
from service.corpus.paper import NOT_EVIDENCE_PARTS, TextBlock
from service.grounding.injection import (
    WHOLE_TEXT_FLAG_SCORE,
    Embed,
    data_only,
    instruction_score,
    instruction_sentences,
)

MIN_PARAGRAPH_CHARS = 200  # shorter text blocks are headings run in, captions' tails, labels
# (part, which paragraphs, share of the budget); a missing part's share goes to the others
STORY: list[tuple[str, str, float]] = [
    ("abstract", "all", 0.4),
    ("introduction", "last", 0.15),
    ("results", "first", 0.25),
    ("conclusion", "first", 0.2),
    ("discussion", "first", 0.2),
]
# sentences a compare cell may quote: at most this many from each part, in reading order
SENTENCES_PER_PART = {
    "abstract": 30,
    "introduction": 12,
    "methods": 25,
    "results": 35,
    "discussion": 20,
    "conclusion": 15,
    "front": 0,
}
MAX_SENTENCES = 120


@dataclass(frozen=True)
class Sentence:
    text: str
    page: int | None = None
    section: str | None = None
    part: str | None = None


def _paragraphs(blocks: list[TextBlock], part: str) -> list[str]:
    return [
        b.text for b in blocks if b.part == part and b.kind == "text" and len(b.text) >= MIN_PARAGRAPH_CHARS
    ]


def story_text(paper: StoredPaper, tokens: int, embed: Embed | None = None) -> str:
    """The text a summary or compare prompt shows of `paper`, within `tokens` (cl100k); a
    sentence addressed to a machine reader is not shown (`data_only`; `embed` lets a
    sentence off the paper's topic count as one more sign of it)."""
    body = data_only(paper.body, embed, WHOLE_TEXT_FLAG_SCORE)
    if not paper.blocks or count_tokens(body) <= tokens:
        return clip_tokens(body, tokens)
    picked: list[tuple[str, float]] = []
    has_conclusion = bool(_paragraphs(paper.blocks, "conclusion"))
    for part, which, share in STORY:
        if part == "discussion" and has_conclusion:
            continue  # the discussion stands in only for a missing conclusion
        paragraphs = _paragraphs(paper.blocks, part)
        if part == "abstract" and not paragraphs and paper.abstract:
            paragraphs = [paper.abstract]
        if paragraphs:
            text = {"all": " ".join(paragraphs), "last": paragraphs[-1], "first": " ".join(paragraphs[:2])}[
                which
            ]
            picked.append((data_only(text, embed, WHOLE_TEXT_FLAG_SCORE), share))
    if not picked:
        return clip_tokens(body, tokens)
    total = sum(share for _, share in picked)
    return "\n\n".join(clip_tokens(text, int(tokens * share / total)) for text, share in picked)


def quotable_sentences(paper: StoredPaper, embed: Embed | None = None) -> list[Sentence]:
    """The sentences a compare cell may quote, with where they are (none that instructs)."""
    if not paper.blocks:
        removed = set(instruction_sentences(paper.body, embed, WHOLE_TEXT_FLAG_SCORE))
        return [Sentence(s) for s in split_sentences(paper.body)[:80] if s not in removed]
    taken: dict[str, int] = {}
    out: list[Sentence] = []
    for block in paper.blocks:
        if block.part in NOT_EVIDENCE_PARTS or block.kind != "text":
            continue
        for sentence in split_sentences(block.text):
            limit = SENTENCES_PER_PART.get(block.part, 10)
            if (
                taken.get(block.part, 0) >= limit
                or len(sentence) < 30
                or instruction_score(sentence) >= WHOLE_TEXT_FLAG_SCORE
            ):
                continue
            taken[block.part] = taken.get(block.part, 0) + 1
            out.append(Sentence(sentence, block.page, block.section or None, block.part))
    return out[:MAX_SENTENCES]
