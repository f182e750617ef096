"""What a question's form changes in /ask's checked text.

- yes/no: when the model opens with Yes or No, its word leads the checked rest of its
  answer (checked like any answer, then judged by the verifier with the word in it).
  Nothing left after the checks: "The papers do not say."
- an answer whose added words its cited sentence lacks is cited to the sentence of the
  same paper that holds them (`recite_to_added_words`, part of the question-fit family).

Code no longer overrides the model's word from negation cues, null-finding patterns or aim
sentences, adds a prompt rule per question form, names a which-paper answer's paper or
gives a named paper the answer left out: those rules did not pay on held-out questions
(evals/reports/*-rule-ablation*.md) and were deleted on 2026-12-07.
"""

from __future__ import annotations

import re

from service.checks.attribution import CheckedText
from service.checks.question_fit import added_words
from service.core.sentinels import NOT_SAID_PREFIX
from service.evidence.select import EvidenceSet
from service.evidence.similarity import containment, stem_words

NOT_SAID = f"{NOT_SAID_PREFIX}."

_VERDICT = re.compile(r"^\s*(yes|no)\b[\s,.:;!-]*", re.IGNORECASE)


def split_verdict(text: str) -> tuple[str | None, str]:
    """The model's opening "Yes" or "No" (None without one), and the rest of its text,
    which is checked on its own."""
    m = _VERDICT.match(text)
    if m is None:
        return None, text
    body = text[m.end() :]
    return m.group(1).capitalize(), body[:1].upper() + body[1:]


def recite_to_added_words(
    question: str, checked: CheckedText, evidence: EvidenceSet, share: float
) -> CheckedText:
    """A one-citation answer whose added words ("the sodium ion") its cited sentence lacks,
    cited instead to the evidence sentence of the same paper that holds all of them and at
    least `share` of the answer's words (`PAPERLENS_GROUNDING__RECITE_SHARE`): similarity
    picked a sentence that restates the question ("... binds cyclic tetra-adenylate (cA4)"),
    the answer rests on another one."""
    if len(checked.cited) != 1:
        return checked
    first = checked.cited[0]
    added = added_words(question, checked.text)
    if not added or added & stem_words(first.text):
        return checked
    for e in evidence.items:
        same_paper = e.paper_id == first.paper_id
        if same_paper and added <= stem_words(e.text) and containment(checked.text, e.text) >= share:
            return CheckedText(checked.text, [e], checked.dropped, checked.model_abstained)
    return checked


def yes_no_answer(checked: CheckedText, word: str | None) -> CheckedText:
    """The checked answer led by the model's Yes or No; without a word it stands as it is."""
    if checked.empty or word is None:
        return checked
    return CheckedText(f"{word}. {checked.text}", checked.cited, checked.dropped, checked.model_abstained)
