"""What a question's form adds to /ask: one prompt rule, and a rewrite of the checked text.

- yes/no: the model is asked to open with Yes or No; code then decides the word from the
  evidence sentence that speaks most to the question's statement (its polarity and
  direction against the question's), so the verdict always agrees with the evidence;
  when the model's checked sentence says otherwise, that evidence sentence is the answer.
  No sentence speaks to it: the model's checked sentence decides; nothing left: "The
  papers do not say."
- which paper: the answer must name the paper; when the model wrote "The work that ...
  is [1]" or a bare verb phrase, code names the first cited paper by its title.
- several papers: the model is asked to answer for each named paper in its own sentence
  (evidence for each comes from `AskService`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from service.answering.question_plan import AUXILIARIES, Form, QuestionPlan
from service.core.sentinels import NOT_SAID_PREFIX
from service.corpus.names import title_head
from service.grounding.attribution import CheckedText
from service.grounding.entailment import MIN_SHARED, Verdict, judge, negated, states_aim
from service.grounding.evidence import Evidence, EvidenceSet
from service.grounding.findings import null_finding, significant_finding
from service.grounding.markers import strip_markers
from service.grounding.numbers import numbers_in
from service.grounding.question_fit import added_words, asks_for_name, new_names
from service.grounding.similarity import containment, content_words, stem_words

RULES = {
    Form.YES_NO: "\n- Start the answer with Yes or No, then give the fact from the evidence that decides it."
    " Answer No when the evidence shows no effect, no difference, no association or a poor result.",
}
# No rule for "which paper": asked to lead with a title, the model writes a title sentence
# that no evidence sentence supports; code names the paper instead (`name_the_paper`).
MULTI_RULE = "\n- The question is about several papers: answer for each paper in its own sentence, naming it."
NOT_SAID = f"{NOT_SAID_PREFIX}."
DECIDING_SHARE = 0.35  # least weighted share of the question's words a deciding sentence holds
AIM_PRIOR = -0.15  # a yes/no question's evidence: a study's aim restates the question, findings decide it
NAME_PRIOR = 0.1  # a "which robot / what benchmark?" question's evidence: a sentence naming one
QUOTED_TRIES = 3  # evidence sentences tried, best first, when the model's answer missed the question
RECITE_SHARE = 0.4  # least share of an answer's words the sentence it is re-cited to holds

_VERDICT = re.compile(r"^\s*(yes|no)\b[\s,.:;!-]*", re.IGNORECASE)
_AUX = re.compile(rf"^\s*({AUXILIARIES})\s+", re.IGNORECASE)
_TITLE_PART = re.compile(r"^.*?:\s+(?=\S)")
_EMPTY_NAMING = re.compile(r"^[^.]*\b(is|are)\s*(\[\d+\])+\.\s*", re.IGNORECASE)


def form_rule(plan: QuestionPlan) -> str:
    return RULES.get(plan.form, "") + (MULTI_RULE if plan.multi and plan.form is Form.OPEN else "")


def evidence_prior(plan: QuestionPlan, question: str) -> Callable[[Evidence], float] | None:
    """What a sentence's kind adds to its evidence score for this question. A yes/no
    question's aim sentences restate it, and findings decide it. A question asking which
    one ("Which real robot was it tested on?", "What benchmark did they build?") is
    answered by a sentence that names something neither the question nor the paper's title
    does ("the real-world Unitree G1"), which may share fewer of its words than a sentence
    about the topic."""
    if plan.form is Form.YES_NO:
        return lambda e: AIM_PRIOR if states_aim(e.text) else 0.0
    if plan.form is Form.OPEN and asks_for_name(question):
        return lambda e: NAME_PRIOR if new_names(f"{question} {e.title}", e.text) else 0.0
    return None


def split_verdict(text: str) -> tuple[str | None, str]:
    """The model's opening "Yes" or "No" (None without one), and the rest of its text,
    which is checked on its own."""
    m = _VERDICT.match(text)
    if m is None:
        return None, text
    body = text[m.end() :]
    return m.group(1).capitalize(), body[:1].upper() + body[1:]


def proposition(question: str) -> str:
    """ "Does X need Y?" -> "X need Y": what a Yes asserts."""
    after_title = _TITLE_PART.sub("", question)
    last = after_title if _AUX.match(after_title) else question
    return _AUX.sub("", last).rstrip(" ?")


def verdict(question: str, sentence: str, min_shared: float = MIN_SHARED) -> str | None:
    """Yes or No as `sentence` answers the yes/no `question`; None when it does not speak
    to the question's statement."""
    match judge(proposition(question), strip_markers(sentence), min_shared):
        case Verdict.ENTAILS:
            return "Yes"
        case Verdict.CONTRADICTS:
            return "No"
        case _:
            return None


def _closest(claim: str, evidence: EvidenceSet) -> list[tuple[float, Evidence]]:
    """Evidence sentences holding at least DECIDING_SHARE of the claim's distinctive words,
    most first. Words are weighted by how few evidence sentences hold them: the topic
    ("video generation models") is in every sentence of the paper, the point asked about
    ("out-of-distribution") only in the one that decides it. A sentence stating a study's
    aim restates the question: it is no answer."""
    words = content_words(claim)
    texts = [content_words(e.text) for e in evidence.items]
    weight = {w: math.log(1 + len(texts) / (1 + sum(w in t for t in texts))) for w in words}
    total = sum(weight.values()) or 1.0
    scored = [
        (sum(weight[w] for w in words & t) / total, e)
        for t, e in zip(texts, evidence.items, strict=True)
        if not states_aim(e.text)
    ]
    return sorted((se for se in scored if se[0] >= DECIDING_SHARE), key=lambda se: (-se[0], -se[1].score))


def answering_sentences(question: str, evidence: EvidenceSet, limit: int) -> list[Evidence]:
    """The evidence sentences most likely to answer an open question, best first."""
    return [e for _, e in _closest(question, evidence)[:limit]]


def deciding_evidence(question: str, evidence: EvidenceSet) -> Evidence | None:
    """The evidence sentence that decides a yes/no question: the one holding most of the
    question's distinctive words (see `_closest`)."""
    candidates = _closest(proposition(question), evidence)
    # a sentence that denies the point ("by bypassing video generation") outweighs one that only
    # shares more of its words without a verdict on it ("UVA jointly optimizes video and action")
    denying = [e for _, e in candidates if verdict(question, e.text, DECIDING_SHARE) == "No"]
    if denying:
        return denying[0]
    return candidates[0][1] if candidates else None


def null_evidence(question: str, evidence: EvidenceSet) -> Evidence | None:
    """The sentence reporting a null finding ("no significant difference", "did not reduce")
    among the evidence sentences that share a word with the question's statement, when such
    sentences outnumber those reporting a significant finding (`findings`); None otherwise,
    and for a question that itself denies ("Does X work without labels?"), where a "not" in
    the evidence may be its Yes."""
    claim = proposition(question)
    if negated(claim):
        return None
    words = content_words(claim)
    shared = {e.n: len(words & content_words(e.text)) for e in evidence.items if not states_aim(e.text)}
    about = [e for e in evidence.items if shared.get(e.n)]
    nulls = [e for e in about if null_finding(e.text)]
    if len(nulls) <= sum(significant_finding(e.text) for e in about):
        return None
    return max(nulls, key=lambda e: shared[e.n])


def recite_to_added_words(question: str, checked: CheckedText, evidence: EvidenceSet) -> CheckedText:
    """A one-citation answer whose added words ("the sodium ion") its cited sentence lacks,
    cited instead to the evidence sentence of the same paper that holds all of them and at
    least RECITE_SHARE of the answer's words: similarity picked a sentence that restates the
    question ("... binds cyclic tetra-adenylate (cA4)"), the answer rests on another one."""
    if len(checked.cited) != 1:
        return checked
    first = checked.cited[0]
    added = added_words(question, checked.text)
    if not added or added & stem_words(first.text):
        return checked
    for e in evidence.items:
        same_paper = e.paper_id == first.paper_id
        if same_paper and added <= stem_words(e.text) and containment(checked.text, e.text) >= RECITE_SHARE:
            return CheckedText(checked.text, [e], checked.dropped, checked.model_abstained)
    return checked


def cited_once(sentence: str, n: int = 1) -> str:
    """`sentence` with the marker [n] before its closing punctuation."""
    body = sentence.rstrip()
    end = body[-1] if body[-1:] in (".", "!", "?") else "."
    return f"{body.rstrip('.!?')} [{n}]{end}"


def cover_every_paper(
    checked: CheckedText, evidence: EvidenceSet, named: list[str], question: str
) -> CheckedText:
    """A question about several named papers whose checked answer speaks for only some of
    them: each paper left out gets its part from its own best evidence sentence (a finding,
    not an aim), verbatim and cited, led by the paper's name. The model often answers for
    the first paper only; the evidence for the others was in its prompt all along. When no
    sentence of the answer was supported at all, every named paper speaks this way; an
    answer the model declined, or one the evidence contradicts, stays declined."""
    if checked.empty and (
        checked.model_abstained or any(d.contradicted_by is not None for d in checked.dropped)
    ):
        return checked  # the model found nothing, or the evidence says otherwise: that stands
    if checked.empty and len(named) < 2:
        return checked
    # an answer whose every sentence was unsupported (a garbled "ARNOLD was introduced by
    # ARNOLD") leaves each paper to speak through its own best sentence
    answered = {e.paper_id for e in checked.cited}
    text, cited = checked.text, list(checked.cited)
    for pid in named:
        if pid in answered:
            continue
        own = [e for e in evidence.items if e.paper_id == pid and not states_aim(e.text)]
        best = max(own, key=lambda e: e.score, default=None)
        if best is None:
            continue
        cited.append(best)
        asked = [a for a in best.aliases if a.lower() in question.lower()]  # the name the user used
        name = (asked or list(best.aliases) or [title_head(best.title) or best.title])[0]
        text = f"{text} {name}: {cited_once(best.text, len(cited))}".strip()
    return CheckedText(text, cited, checked.dropped, checked.model_abstained)


def yes_no_answer(
    question: str, checked: CheckedText, evidence: EvidenceSet, model_word: str | None
) -> CheckedText:
    """The checked answer led by a verdict that agrees with the evidence.

    The verdict is read from the checked sentence (its polarity against the question's);
    the model's own Yes/No counts only when the sentence does not settle it. An evidence
    sentence that says No (a negation or opposite direction on the question's point) wins
    over a checked sentence that does not: absent a "not", a sentence is weak evidence
    of Yes, while an explicit "not" on the point asked about is strong evidence of No."""
    deciding = deciding_evidence(question, evidence)
    decided = verdict(question, deciding.text, DECIDING_SHARE) if deciding else None
    said = verdict(question, checked.text) if not checked.empty else None
    if said == "No" and all(states_aim(e.text) for e in checked.cited):
        # "X is not sufficient" cited to "we evaluated whether X is sufficient": no finding says No
        checked, said = CheckedText("", [], checked.dropped), None
    # the question's numbers ("larger than 7 cm") are its setting: a sentence without them is about another
    setting = numbers_in(question) - numbers_in(" ".join(e.text for e in checked.cited))
    if (
        deciding is not None
        and decided is not None
        and (checked.empty or (decided == "No" and said != "No") or bool(setting))
    ):
        return CheckedText(f"{decided}. {cited_once(deciding.text)}", [deciding], checked.dropped)
    if not checked.empty and said != "No" and (null := null_evidence(question, evidence)) is not None:
        # a Yes, or no word at all, where the results report no effect on the point asked about
        return CheckedText(f"No. {cited_once(null.text)}", [null], checked.dropped)
    word = said or model_word
    if checked.empty or word is None:
        return checked
    if deciding is not None and not added_words(question, checked.text):
        # "Yes. <the question restated> [1]" states what was asked, not what was found: the
        # sentence that speaks most to the question is the text, for the reader to check
        return CheckedText(f"{word}. {cited_once(deciding.text)}", [deciding], checked.dropped)
    return CheckedText(f"{word}. {checked.text}", checked.cited, checked.dropped)


def names_a_paper(text: str, checked: CheckedText) -> bool:
    """Whether `text` names a cited paper: its title, or the short name before its colon."""
    low = text.lower()
    for e in checked.cited:
        head = title_head(e.title)
        if e.title.lower() in low or (head is not None and len(head) <= 30 and head.lower() in low):
            return True
    return False


def name_the_paper(checked: CheckedText) -> str:
    """`checked.text`, led by the first cited paper's title when it names none."""
    text = checked.text
    if not checked.cited or names_a_paper(text, checked):
        return text
    first = checked.cited[0]
    lead = f"The paper is “{first.title}” [1]."
    rest = _EMPTY_NAMING.sub("", text, count=1).strip()
    if rest and rest[0].islower():  # "projects the backward gradient ..." has lost its subject
        rest = f"It {rest}"
    return f"{lead} {rest}".strip()
