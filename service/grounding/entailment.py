"""Does a cited sentence entail a claim, or contradict it? Polarity and direction checks.

Support (`similarity.support`) says a claim and a sentence are about the same thing; it
cannot see "does not require" against "requires", or "slower" against "faster": the
embedding of a sentence barely moves when its polarity flips. This module reads the
clause of the evidence that the claim matches and compares:

- negation: an odd number of negation cues on one side only ("not", "no", "without",
  "fails to", "cannot", "unable", "never", "bypasses", "eliminates", "avoids", and the
  words results use to deny an outcome: "poor", "inadequate", "ineffective", "unreliable")
  flips the statement; a denial in the claim ("X does not require Y") is gainsaid only by
  a sentence that speaks of the point denied ("requires"), not by one that merely shares
  the topic: that pair is neutral, and similarity decides;
- direction: a comparative or change word in the claim whose opposite is in the clause
  and which is not there itself ("faster" / "slower", "increases" / "decreases",
  "outperforms" / "underperforms"); "more" / "less" are left out, as they qualify
  whichever noun follows and so flip too often between clauses that agree.

A contradicted claim is dropped however similar it is. A claim that matches its clause
with the same polarity and direction is entailed; `entails` is what the attribution
check keeps. This is a rule-based stand-in for a trained NLI model: no NLI or
cross-encoder weights can be installed offline from the pinned package index these
machines reach, and the rules are cheap (microseconds per sentence pair).
"""

from __future__ import annotations

import re
from enum import StrEnum

from service.grounding.similarity import content_words, stem

_NEGATION = re.compile(
    r"\b(not|no|never|none|neither|nor|without|cannot|unable|fail(?:s|ed|ing|ures?)?|lacks?|lacking"
    r"|\w+n't|insufficient|unnecessary|rather than|instead of|bypass(?:es|ed|ing)?|eliminat(?:es?|ed|ing)"
    r"|avoid(?:s|ed|ing)?|free of|poor(?:ly)?|inadequate(?:ly)?|ineffective|unreliable|unsuccessful"
    r"|impossible|unlikely)\b",
    re.IGNORECASE,
)
# negation words that do not negate the claim they sit in
_NOT_NEGATING = re.compile(
    r"\b(not only|no longer than|no more than|not least|without (loss of generality|sacrificing|compromising|"
    r"degrading|losing|hurting|introducing)|"
    # "not specific to A but also B", "not limited to": widens a statement, does not deny it
    r"not (?:\w+ly )?(?:specific|limited|restricted|exclusive|unique|confined|just|merely|solely|simply)"
    r"(?: to)?)\b",
    re.IGNORECASE,
)
_OPPOSITES = [
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("higher", "lower"),
    ("larger", "smaller"),
    ("faster", "slower"),
    ("better", "worse"),
    ("improve", "worsen"),
    ("improve", "degrade"),
    ("improve", "hurt"),
    ("outperform", "underperform"),
    ("superior", "inferior"),
    ("gain", "loss"),
    ("positive", "negative"),
    ("above", "below"),
    ("succeed", "fail"),
    ("success", "failure"),
    ("accurate", "inaccurate"),
    ("efficient", "inefficient"),
    ("stronger", "weaker"),
    ("upregulate", "downregulate"),
    ("activate", "inhibit"),
    ("benefit", "harm"),
    ("agree", "disagree"),
]
_WORD = re.compile(r"[a-z]+")
_ASIDE = re.compile(r"\([^()]*\)|\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]")
_CLAUSE = re.compile(
    r"[;:]|,\s+(?:but|while|whereas|although|though|yet|and)\s+|\s+(?:but|whereas)\s+", re.IGNORECASE
)


# a sentence that states what a study set out to learn ("To evaluate whether NT predicts
# GDM", "the impact on survival remains unclear") holds the question's words, not its answer;
# "objective" only as a study's ("The objective of this study was"), not a loss ("a suitable objective")
_AIM = re.compile(
    r"\b(to (\w+ly )?(evaluate|assess|investigate|determine|examine|compare|identify|clarify|explore|test|"
    r"analy[sz]e|establish|study|review)|(this|the present|our) (paper|study|work|article|report) "
    r"(assess|evaluat|investigat|examin|explor)\w*|aims?\b|aimed|"
    r"^\W*objectives?\b|objectives? (of|was|were|is|are)\b|"
    r"(?<!-)purpose|we (sought|hypothesi[sz]ed|asked|wondered)|"
    r"whether|remains? (unclear|unknown|uncertain|controversial|to be)|"
    r"(is|was|are|were) (unknown|unclear|not known)|"
    r"little is known|is not known|hypothesis)\b",
    re.IGNORECASE,
)


def states_aim(sentence: str) -> bool:
    """Whether `sentence` states a study's aim or open question rather than a finding."""
    return _AIM.search(sentence) is not None


MIN_SHARED = 0.5
"""Least share of the claim's content words the evidence must hold for polarity to count:
below it the two sentences are about different things, and a "not" in one says nothing
about the other."""


class Verdict(StrEnum):
    ENTAILS = "entails"
    NEUTRAL = "neutral"
    CONTRADICTS = "contradicts"


# stemmed once: "reduce", "reduces" and "reduced" are one direction word
_OPPOSITE_STEMS = [(stem(a), stem(b)) for a, b in _OPPOSITES]


def _directions(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower())}


# negation cues that judge what precedes them ("agreement was poor", "the test was unreliable")
_JUDGING = re.compile(
    r"poor(?:ly)?|inadequate(?:ly)?|ineffective|unreliable|unsuccessful|impossible|unlikely|insufficient|unnecessary",
    re.IGNORECASE,
)
_COPULA = re.compile(
    r"\b(is|are|was|were|be|been|being|remain(?:s|ed)?|seem(?:s|ed)?|prove[sdn]?)\s+(?:\w+ly\s+)?$"
)
_FAILING = re.compile(r"fail(?:s|ed)?", re.IGNORECASE)  # "X fails to ...": X does not
NEGATION_SCOPE = 6  # words after a negation cue that it applies to
# "X is not (strictly) required for Y": X is optional, which says nothing against a claim
# that does not speak of need ("ATM can compensate for X in Y")
_NEED = re.compile(
    r"^\s*(?:\w+ly\s+)?(required|necessary|needed|essential|obligatory|indispensable)\b", re.IGNORECASE
)
# "all strains, except AL28, could survive": the statement holds the other way for AL28,
# a name (a capital or a digit in it) among the next few words before any punctuation
_EXCEPT = re.compile(
    r"\b(?:except(?:\s+for)?|other than|apart from|with the exception of)\s+([^,;:()]{1,40})", re.IGNORECASE
)
_NAME = re.compile(r"\b[\w-]*[A-Z0-9][\w-]*")


def _excepted(text: str, about: set[str]) -> int:
    """How many "except X" phrases of `text` set aside a name X the claim is about."""
    return sum(
        any(stem(n.lower()) in about for n in _NAME.findall(" ".join(e.group(1).split()[:3])))
        for e in _EXCEPT.finditer(text)
    )


def negated(text: str, about: set[str] | None = None) -> bool:
    """An odd number of negation cues (after removing those that do not negate). With
    `about` (stemmed content words), only cues followed within NEGATION_SCOPE words by
    one of them count: in "the lack of paired data limits the ability to generate
    dance", "lack" negates the data, not the dance generation a claim is about."""
    cleaned = _NOT_NEGATING.sub(" ", text)
    count = 0
    for m in _NEGATION.finditer(cleaned):
        after = cleaned[m.end() :].split()
        window = " ".join(_scope(after))
        judged = _JUDGING.fullmatch(m.group(0)) and _COPULA.search(cleaned[: m.start()])
        if _after_verb(m.group(0), cleaned[: m.start()], after):
            # "A. lwoffii survived poorly in serum": the survival is judged, not the serum, nor
            # the subject ("methods perform poorly with an SRCC of 0.454" judges the performing,
            # and does not gainsay "the methods' SRCC is 0.454")
            window = " ".join(cleaned[: m.start()].split()[-1:])
        elif judged or (_FAILING.fullmatch(m.group(0)) and cleaned[m.end() :].lstrip().startswith("to ")):
            # "agreement ... was poor", "existing methods fail to learn actions": the thing judged
            # comes first ("prevent unreliable results": not)
            window += " " + " ".join(cleaned[: m.start()].split()[-NEGATION_SCOPE:])
        need = _NEED.match(cleaned[m.end() :])
        if need and about is not None and stem(need.group(1).lower()) not in about:
            continue
        if about is None or content_words(window) & about:
            count += 1
    if about is not None:
        count += _excepted(cleaned, about)
    return count % 2 == 1


def _scope(words: list[str]) -> list[str]:
    """The words a negation cue reaches: up to the first comma or semicolon after a content
    word ("in which foci could not be detected (26), MSH-5 still appears as six foci": the
    foci that appear are not denied); "did not, however, improve X" reaches "improve X"."""
    if words[:1] == [","]:  # "not, however, improve": past the aside
        aside = next((i for i, w in enumerate(words[1:], 1) if w.endswith(",")), 0)
        words = words[aside + 1 :]
    words = words[:NEGATION_SCOPE]
    for i, w in enumerate(words):
        if w.endswith((",", ";")) and content_words(w):
            return words[: i + 1]
    return words


def _after_verb(cue: str, before: str, after: list[str]) -> bool:
    """An adverb cue that follows its verb ("grew poorly", "performed poorly on X"), not one
    that precedes a participle ("poorly characterised X") or follows a copula."""
    if not cue.lower().endswith("ly") or not before.strip() or _COPULA.search(before):
        return False
    following = after[0].lower().strip(",.;:") if after else ""
    return not following.endswith(("ed", "en", "wn"))


def matching_clause(claim: str, evidence: str) -> str:
    """The clause of `evidence` that shares most content words with `claim`."""
    clauses = [c for c in _CLAUSE.split(evidence) if c and c.strip()]
    if len(clauses) <= 1:
        return evidence
    words = content_words(claim)
    return max(clauses, key=lambda c: len(words & content_words(c)))


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(text) if c and c.strip()] or [text]


_CAPTION = re.compile(r"^\W*(?:supplementary\s+)?(?:fig(?:ure)?s?|table)\.?\s*S?\d", re.IGNORECASE)


def judge(claim: str, evidence: str, min_shared: float = MIN_SHARED) -> Verdict:
    """ENTAILS / CONTRADICTS by polarity and direction; NEUTRAL when the texts share too
    little to be about the same statement (the similarity check decides those). Clause by
    clause: each clause of the claim is read against the evidence clause it matches, so
    "X rose for A, but not for B" agrees with the same sentence in the paper, and a
    paper's "no difference in X, and Y does not stem from Z" has two negations, not an even
    count that cancels out."""
    if states_aim(evidence) and not states_aim(claim):
        return Verdict.NEUTRAL  # "we asked whether X agree" neither says they do nor that they do not
    # a caption names what a figure plots ("FIG 7 The survival of AB and AL strains in serum"):
    # without a "not" it denies nothing
    plotted = _CAPTION.match(evidence) is not None
    words = content_words(claim)
    shared = words & content_words(evidence)
    if len(shared) < 2 or len(shared) < min_shared * len(words):
        return Verdict.NEUTRAL
    unsaid = False  # a denial in the claim ("X does not require Y") the evidence neither asserts nor denies
    for part in _clauses(claim):
        clause = matching_clause(part, evidence)
        common = content_words(part) & content_words(clause)
        if len(common) < 2:
            continue  # a short aside ("but not for B") is read with the clause it qualifies
        denies = negated(clause, common)
        if not plotted and negated(part, common) != denies:
            if denies or _asserts_denied(part, clause):
                return Verdict.CONTRADICTS
            unsaid = True
        # statistics in brackets ("OR 0.93 per 10 mm Hg increase; ...") are units, not directions
        plain = _ASIDE.sub(" ", part)
        if _opposed(plain, matching_clause(plain, _ASIDE.sub(" ", evidence))):
            return Verdict.CONTRADICTS
    return Verdict.NEUTRAL if unsaid else Verdict.ENTAILS


# cues whose denied word follows them ("does not require X", "without X", "fails to learn")
_FORWARD = re.compile(
    r"\b(not|no|never|without|cannot|unable to|\w+n't|fail(?:s|ed)? to|lacks?|lacking)\s+", re.IGNORECASE
)
# words between a cue and the point it denies ("not significantly improve", "without being associated")
_HEDGE = re.compile(
    r"\w+ly|significant|statistical|clear|much|any|real|be|being|been|ha(?:ve|s|d|ving)|do|does|did|get|got",
    re.IGNORECASE,
)


def _asserts_denied(claim: str, clause: str) -> bool:
    """Whether `clause` holds a word the claim denies: the first content word after one of
    the claim's forward negation cues ("require" in "X does not require truncating
    rollouts"). A clause without a "not" contradicts "X does not require Y" only when it
    speaks of requiring; "world models generate synthetic experience" shares the topic,
    not the denied point. True when the claim has no forward cue (a judging word
    such as "poor" names what precedes it): that case stays as `negated` reads it."""
    cleaned = _NOT_NEGATING.sub(" ", claim)
    heads: set[str] = set()
    for m in _FORWARD.finditer(cleaned):
        following = [w for w in cleaned[m.end() :].split()[:NEGATION_SCOPE] if not _HEDGE.fullmatch(w)]
        head = next((c for w in following if (c := content_words(w))), None)
        if head:
            heads |= head
    return not heads or bool(heads & content_words(clause))


def _opposed(part: str, clause: str) -> bool:
    """A direction word of `part` whose opposite is in `clause` and which is not there itself."""
    mine, theirs = _directions(part), _directions(clause)
    for sa, sb in _OPPOSITE_STEMS:
        if (sa in mine and sb in theirs and sa not in theirs) or (
            sb in mine and sa in theirs and sb not in theirs
        ):
            return True
    return False
