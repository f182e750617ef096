"""What a written summary must pass, after the answers' own checks (`check_text`).

`check_text` has already dropped every sentence that the numbered sentences of the paper
do not support, by the answers' own rules (its numbers must be in them). Here:

- length: a paragraph keeps its sentences up to SUMMARY__PARAGRAPH_MAX_WORDS (the rest, from the
  end, are dropped: trimmed at a sentence boundary, never mid-sentence; the main result's
  restatement, when one was asked for, goes last); a TLDR keeps
  its first sentence. A summary under its minimum (the model wrote little, or the checks
  dropped much) is kept as it is and says so in `length_note`: a short true summary
  serves a reader better than one padded by a second call.

Every sentence that goes is reported with its reason, as an answer's are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.checks.attribution import CheckedText
from service.checks.markers import MARKERS, strip_markers
from service.components.sentences import split_sentences
from service.core.config import SummaryLength, SummarySettings
from service.core.reasons import DroppedSentence, DropReason
from service.evidence.select import Evidence

_WORD = re.compile(r"\b[\w'\u2019.-]*\w")


@dataclass(frozen=True)
class LengthRule:
    min_words: int
    max_words: int
    max_sentences: int | None = None


def length_rule(length: SummaryLength, tuning: SummarySettings) -> LengthRule:
    """The bounds of a summary of `length` (`SUMMARY__<LENGTH>_MIN_WORDS`, `..._MAX_WORDS`);
    a TLDR is one sentence."""
    if length == "tldr":
        return LengthRule(tuning.tldr_min_words, tuning.tldr_max_words, max_sentences=1)
    return LengthRule(tuning.paragraph_min_words, tuning.paragraph_max_words)


@dataclass
class Said:
    """One summary sentence and the sentences of the paper it rests on."""

    text: str
    sources: list[Evidence]
    kept_whole: bool = False  # trimmed for length last (the main result, asked for on its own)


def count_words(text: str) -> int:
    """Words as a reader counts them: "state-of-the-art" and "3.5" are one word each."""
    return len(_WORD.findall(text))


def said_sentences(checked: CheckedText) -> list[Said]:
    """The checked text's sentences, each with the evidence its markers point at."""
    out = []
    for sentence in split_sentences(checked.text):
        numbers = [int(n) for m in MARKERS.finditer(sentence) for n in re.split(r"[,;]", m.group(1))]
        cited = [checked.cited[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(checked.cited)]
        text = strip_markers(sentence).strip()
        if text:
            out.append(Said(text, cited))
    return out


def fit_length(
    sentences: list[Said], length: SummaryLength, written: int, tuning: SummarySettings
) -> tuple[list[Said], list[DroppedSentence], str | None]:
    """(the sentences kept, those cut for length, a note when the result is out of bounds).
    `written`: how many sentences the model wrote, for the note."""
    rule = length_rule(length, tuning)
    kept = list(sentences)
    dropped: list[DroppedSentence] = []
    if rule.max_sentences is not None and len(kept) > rule.max_sentences:
        for s in kept[rule.max_sentences :]:
            reason = f"a {length} is {rule.max_sentences} sentence"
            dropped.append(DroppedSentence(sentence=s.text, code=DropReason.TOO_LONG, reason=reason))
        kept = kept[: rule.max_sentences]
    while len(kept) > 1 and count_words(" ".join(s.text for s in kept)) > rule.max_words:
        last = max((i for i, s in enumerate(kept) if not s.kept_whole), default=len(kept) - 1)
        cut = kept.pop(last)
        dropped.append(
            DroppedSentence(
                sentence=cut.text,
                code=DropReason.TOO_LONG,
                reason=f"past the {rule.max_words} words a {length} may have",
            )
        )
    words = count_words(" ".join(s.text for s in kept))
    note = None
    if kept and words < rule.min_words:
        note = (
            f"{words} words, under the {rule.min_words} a {length} should have: the model wrote "
            f"{written} sentence(s) and {written - len(kept)} did not pass the checks"
        )
    elif words > rule.max_words:
        note = f"{words} words in one sentence, over the {rule.max_words} a {length} should have"
    return kept, dropped, note
