"""Post-hoc attribution: keep only what the evidence supports.

For every sentence of a generated text:
- its markers `[n]` are read; markers that point at no evidence are dropped;
- it is supported by a cited sentence when their embedding cosine reaches the threshold
  or the cited sentence contains most of its (stemmed) content words;
- numbers must appear in the supporting evidence; if the cited sentences do not carry
  the claim, the best evidence sentence that does is cited instead;
- a sentence that names a paper (the short name before the colon of its title, such
  as "CARP", or the whole title) can only be supported by that paper's sentences;
- a sentence no evidence supports is dropped, and so is one whose numbers appear in no
  supporting evidence sentence;
- a sentence that repeats a run of GROUNDING__LOOP_WORDS words within itself ("X can be prevented
  by Y, but X can be prevented by Y") is a small model's generation loop: dropped, as
  its second half says nothing and its first is no safer;
- a sentence that says several papers have something in common ("Both papers share
  ...", "while both focus on ...") needs supporting sentences from two papers at least.
Whether a supporting sentence says the opposite is the verifier's judgement, after these
checks (`answering.verifier`): hand-written negation cues went, as they did not pay on
held-out questions (evals/reports/*-rule-ablation*.md).
Citations are renumbered in order of first use and markers moved to sentence ends.
Nothing left means the caller abstains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.checks.markers import MARKERS, strip_markers
from service.components.embedding.embedder import Embedder, Vectors
from service.components.sentences import split_sentences
from service.core.config import GroundingSettings
from service.core.reasons import DropReason, drop_message
from service.core.sentinels import CANNOT_ANSWER, OPTIONS_MARK
from service.corpus.names import title_head
from service.evidence.numbers import numbers_in, unsupported_numbers
from service.evidence.select import Evidence, EvidenceSet
from service.evidence.similarity import containment, cosine_matrix
from service.evidence.similarity import support as support_score

# The prompt's sentinel (CANNOT_ANSWER), and the ways a small model words the same refusal.
_ABSTAIN = re.compile(
    rf"{re.escape(CANNOT_ANSWER)}|not in (the )?sources"
    r"|not (stated|mentioned|answered) in the (evidence|sources)",
    re.I,
)
_WORDS = re.compile(r"\w+")


# a sentence that says several papers have something in common ("Both papers share the
# goal of ...", "... while both focus on domain transfer", "they all use ...")
_SHARED = re.compile(
    r"\b(?:both|all(?: three| four| five| of the)?|each of the|the (?:two|three|four|five))\s+"
    r"(?:papers|works|studies|methods|approaches|models|frameworks|systems|of them)\b"
    r"|\b(?:both|they (?:both|all)|the papers)\s+(?:share|focus|use|aim|address|rely|tackle|target|propose|"
    r"improve|leverage|employ|study|consider|explore|present|introduce)\w*\b"
    r"|\bin common\b|\bshare (?:the|a|an|that|similar)\b",
    re.IGNORECASE,
)
DEFAULTS = GroundingSettings()  # the thresholds below: `PAPERLENS_GROUNDING__<NAME>`


@dataclass
class Dropped:
    sentence: str
    code: DropReason
    detail: str = ""

    @property
    def reason(self) -> str:
        return drop_message(self.code, self.detail)

    @property
    def miscopied(self) -> bool:
        """Dropped for a number that the sentences supporting it do not hold: the claim
        rests on real evidence and got a detail wrong ("2,244" for "1,224")."""
        return self.code is DropReason.NUMBERS_MISSING


@dataclass
class CheckedText:
    text: str
    cited: list[Evidence]  # in citation order: cited[i] is marker [i + 1]
    dropped: list[Dropped] = field(default_factory=list)
    model_abstained: bool = False

    @property
    def empty(self) -> bool:
        return not self.text


def repeats_itself(sentence: str, run: int = DEFAULTS.loop_words) -> bool:
    """Whether some `run` consecutive words occur twice in `sentence`."""
    words = _WORDS.findall(sentence.lower())
    seen: set[tuple[str, ...]] = set()
    for i in range(len(words) - run + 1):
        gram = tuple(words[i : i + run])
        if gram in seen:
            return True
        seen.add(gram)
    return False


def _split_with_markers(text: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, marker numbers); a marker-only piece joins the previous."""
    out: list[tuple[str, list[int]]] = []
    for sentence in split_sentences(text.replace("\n", " ")):
        numbers = [int(n) for m in MARKERS.finditer(sentence) for n in re.split(r"[,;]", m.group(1))]
        claim = strip_markers(sentence).strip()
        if not re.search(r"\w", claim):
            if out:
                out[-1][1].extend(numbers)
            continue
        out.append((claim, numbers))
    return out


_ACRONYM = re.compile(r"(?<![\w-])([A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9*\-]*)(?![\w-])")


def _pattern(names: set[str]) -> re.Pattern[str]:
    return re.compile("|".join(rf"(?<![\w-]){re.escape(n)}(?![\w-])" for n in sorted(names)), re.IGNORECASE)


@dataclass
class _PaperNames:
    """Names that identify one paper among the evidence. Strong: the short name before the
    colon of its title ("CARP: Visuomotor ..." -> CARP) and the names it goes by in the
    corpus (`Evidence.aliases`). Weak: acronyms such as GPT-style or MuJoCo that occur in
    that paper's evidence sentences and in no other paper's. A claim that uses a strong
    name is about that paper, whatever weak names it also uses."""

    strong: dict[str, re.Pattern[str]]
    weak: dict[str, re.Pattern[str]]

    def named_in(self, claim: str) -> set[str]:
        strong = {pid for pid, p in self.strong.items() if p.search(claim)}
        return strong or {pid for pid, p in self.weak.items() if p.search(claim)}

    def count_in(self, claim: str) -> int:
        return len({pid for table in (self.strong, self.weak) for pid, p in table.items() if p.search(claim)})


def _paper_names(items: list[Evidence]) -> _PaperNames:
    strong: dict[str, set[str]] = {}
    weak: dict[str, set[str]] = {}
    for e in items:
        head = title_head(e.title)
        if head is not None and 2 <= len(head) <= 30:
            strong.setdefault(e.paper_id, set()).add(head)
        strong.setdefault(e.paper_id, set()).update(e.aliases)
        strong[e.paper_id].add(e.title)  # a "which paper" answer quotes the whole title
    texts: dict[str, str] = {}
    for e in items:
        texts[e.paper_id] = f"{texts.get(e.paper_id, '')} {e.text}".lower()
    for acronym in {a for e in items for a in _ACRONYM.findall(e.text) if len(a) >= 3}:
        # owned by the papers whose sentences use it in any case ("DeepMind", "Deepmind")
        word = re.compile(rf"(?<![\w-]){re.escape(acronym.lower())}(?![\w-])")
        owners = [pid for pid, text in texts.items() if word.search(text)]
        if len(owners) == 1:
            weak.setdefault(owners[0], set()).add(acronym)
    return _PaperNames(
        {pid: _pattern(ns) for pid, ns in strong.items() if ns},
        {pid: _pattern(ns) for pid, ns in weak.items() if ns},
    )


_PIECE = re.compile(r",\s+(?:and\s+)?|;\s+|\s+(?:while|whereas)\s+|,?\s+but\s+", re.IGNORECASE)


def _clauses(claim: str, names: _PaperNames) -> list[str]:
    """A sentence about several papers cut where each paper's part starts: "A does X, B
    does Y, and C does Z" -> three clauses; a piece naming no paper stays with the one before."""
    out: list[str] = []
    for piece in (p.strip() for p in _PIECE.split(claim) if p and p.strip()):
        if out and not names.named_in(piece):
            out[-1] = f"{out[-1]}, {piece}"
        else:
            out.append(piece)
    return out


def _support_for(
    claim: str,
    markers: list[int],
    items: list[Evidence],
    sims: Vectors,
    names: _PaperNames,
    threshold: float,
    premise: str = "",
    tuning: GroundingSettings = DEFAULTS,
) -> list[int] | Dropped:
    """Indexes of the evidence that supports `claim`, or why nothing does."""
    share = tuning.containment_support
    support = [support_score(float(sims[i]), claim, items[i].text, share) for i in range(len(items))]
    # A claim that names a paper ("CARP ...") must rest on that paper's sentences.
    named = names.named_in(claim)
    cited = sorted({m - 1 for m in markers if 1 <= m <= len(items)})
    if named:
        support = [v if items[i].paper_id in named else 0.0 for i, v in enumerate(support)]
    supporting = [i for i in cited if support[i] >= threshold]
    if supporting and _grounded(claim, supporting, items, premise):
        return supporting
    # The citations do not carry the claim: cite the best evidence sentence that does.
    ranked = sorted((i for i in range(len(items)) if support[i] >= threshold), key=lambda i: -support[i])
    best = next((i for i in ranked if _grounded(claim, [i], items, premise)), None)
    if best is not None:
        return [best]
    anchored = _number_anchored(claim, items, named, premise, tuning.number_anchor_containment)
    if anchored is not None:
        return anchored
    if ranked:
        missing = unsupported_numbers(claim, [items[i].text for i in ranked] + [premise])
        return Dropped(claim, DropReason.NUMBERS_MISSING, str(sorted(missing)))
    return Dropped(claim, DropReason.NO_EVIDENCE)


def _number_anchored(
    claim: str, items: list[Evidence], named: set[str], premise: str, share: float
) -> list[int] | Dropped | None:
    """A claim whose numbers all occur in one evidence sentence needs only `share` of its
    content words there (not the cosine): "TACO gives a 40% performance boost in online RL on
    the DeepMind Control tasks" and "For online RL, TACO achieves 40% performance boost ...
    Deepmind Control Suite" share 8 of 12 words, and the number pins the sentence down."""
    if not numbers_in(claim) - numbers_in(premise):
        return None
    for i, e in enumerate(items):
        if named and e.paper_id not in named:
            continue
        if containment(claim, e.text) >= share and _grounded(claim, [i], items, premise):
            return [i]
    return None


def _shared_support(
    claim: str,
    items: list[Evidence],
    vectors: Vectors,
    embedder: Embedder,
    threshold: float,
    premise: str,
    share: float,
) -> list[int] | Dropped:
    """Indexes of the evidence behind a claim that several papers have something in common,
    or why it fails: it needs supporting sentences from two papers at least ("Both papers
    improve DICE-based methods" rests on the one paper that does), none contradicting it,
    with its numbers. Scored without the words that say it is shared ("both
    papers share the goal of"), which no paper's own sentence holds."""
    shared = re.sub(r"\s+", " ", _SHARED.sub(" ", claim)).strip()
    cosines = cosine_matrix(embedder.embed([shared]), vectors)[0]
    support = [support_score(float(c), shared, e.text, share) for c, e in zip(cosines, items, strict=True)]
    supporting = [i for i in range(len(items)) if support[i] >= threshold]
    if len({items[i].paper_id for i in supporting}) < 2:
        return Dropped(claim, DropReason.SHARED_BY_ONE)
    if not _grounded(shared, supporting, items, premise):
        return Dropped(claim, DropReason.NUMBERS_MISSING)
    return supporting


def _grounded(claim: str, supporting: list[int], items: list[Evidence], premise: str = "") -> bool:
    """Numbers in the supporting sentences; a number the question itself states is the
    question's setting restated, not a claim."""
    texts = [items[i].text for i in supporting] + [premise]
    return not unsupported_numbers(claim, texts)


def check_text(
    text: str,
    evidence: EvidenceSet,
    embedder: Embedder,
    question: str | None = None,
    tuning: GroundingSettings = DEFAULTS,
) -> CheckedText:
    support_threshold = tuning.support_threshold
    raw = text.strip().removeprefix("Answer:").strip()
    if _ABSTAIN.search(raw) and len(raw) < 120:
        return CheckedText("", [], model_abstained=True)
    items = evidence.items
    if strip_markers(raw).strip(" .") == "":
        # The model only pointed at evidence: answer with those sentences themselves, if
        # they carry the question's terms (a bare pointer is weak evidence of an answer).
        chosen = [int(n) for m in MARKERS.finditer(raw) for n in re.split(r"[,;]", m.group(1))]
        raw = " ".join(
            f"{items[n - 1].text} [{n}]"
            for n in dict.fromkeys(chosen)
            if 1 <= n <= len(items)
            and (question is None or containment(question, items[n - 1].text) >= tuning.pointer_match)
        )
    pieces = _split_with_markers(raw)
    if not pieces or not items:
        return CheckedText("", [], [Dropped(p[0], DropReason.NO_EVIDENCE) for p in pieces])
    names = _paper_names(items)
    several_papers = len({e.paper_id for e in items}) > 1
    premise = (question or "").split(OPTIONS_MARK, 1)[0]  # the question, without its options
    claims = [claim for claim, _ in pieces]
    sims = cosine_matrix(embedder.embed(claims), evidence.vectors)
    kept: list[tuple[str, list[int]]] = []
    dropped: list[Dropped] = []
    for row, (claim, markers) in enumerate(pieces):
        if repeats_itself(claim, tuning.loop_words):
            dropped.append(Dropped(claim, DropReason.REPEATS_ITSELF))
            continue
        if several_papers and _SHARED.search(claim):
            shared = _shared_support(
                claim,
                items,
                evidence.vectors,
                embedder,
                support_threshold,
                premise,
                tuning.containment_support,
            )
            if isinstance(shared, Dropped):
                dropped.append(shared)
            else:
                kept.append((claim, shared))
            continue
        clauses = _clauses(claim, names) if names.count_in(claim) > 1 else [claim]
        if len(clauses) > 1:
            # "A does X, while B does Y": each paper's clause must hold on its own.
            parts = [check_text(c, evidence, embedder, question, tuning) for c in clauses]
            if all(not p.empty for p in parts):
                kept.append((claim, sorted({items.index(e) for p in parts for e in p.cited})))
            else:
                reasons = "; ".join(d.reason for p in parts for d in p.dropped)
                dropped.append(Dropped(claim, DropReason.CLAUSE_UNSUPPORTED, reasons))
            continue
        verdict = _support_for(claim, markers, items, sims[row], names, support_threshold, premise, tuning)
        if isinstance(verdict, Dropped):
            dropped.append(verdict)
        else:
            kept.append((claim, verdict))
    order: dict[int, int] = {}
    for _, supporting in kept:
        for i in supporting:
            order.setdefault(i, len(order) + 1)
    sentences = []
    for claim, supporting in kept:
        marks = "".join(f"[{order[i]}]" for i in sorted(supporting, key=lambda i: order[i]))
        body = claim.rstrip()
        end = body[-1] if body[-1] in ".!?" else "."
        body = body.rstrip(".!?")
        sentences.append(f"{body} {marks}{end}")
    cited_items = [items[i] for i in sorted(order, key=lambda i: order[i])]
    return CheckedText(" ".join(sentences), cited_items, dropped)
