"""What kind of answer a question wants, read from its wording (no LLM call).

- a yes/no question ("Does X need Y?") is answered Yes, No or "The papers do not say";
- a "which paper" question ("Which work uses A* search ...?") must name the paper;
- a question about several papers (two or more papers named, or "both", "each",
  "compare", "versus" with one named) gets evidence from every named paper and an answer
  per paper.

Papers are recognised by the names users call them (`corpus.names`, kept with each
paper). Matching is case-sensitive, so "props" in a sentence does not name a paper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Named(Protocol):
    """What naming reads of a paper."""

    @property
    def id(self) -> str: ...
    @property
    def names(self) -> list[str]: ...


class Form(StrEnum):
    OPEN = "open"
    YES_NO = "yes_no"
    LIBRARY = "library"  # "which papers here ...?": every paper that does it, listed


AUXILIARIES = r"is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|may|might|must"
"""The words a yes/no question opens with."""
_YES_NO = re.compile(rf"^\s*({AUXILIARIES})\b", re.IGNORECASE)
# "Is X better or worse ...?" offers a choice between two directions: an open question.
# ("Does BESO need hierarchical policies or extra clustering?" is still a yes/no question.)
_CHOICE = re.compile(
    r"\b(\w+er|more|less|fewer|increase[sd]?|decrease[sd]?|positive(?:ly)?|negative(?:ly)?|up|down)"
    r"\s+or\s+\w+",
    re.IGNORECASE,
)
# "Which papers ...", "What work uses ...", "List the studies that ...", "Anything in my
# library on ...", "Are there papers about ...": a list of papers, not one answer.
_LIBRARY = re.compile(
    r"^\s*(?:(?:which|what)\s+(?:(?!(?:do|does|did|is|are|was|were|the|these|those)\b)\S+\s+){0,3}?"
    r"(?:papers|works|studies|articles|publications)\b"
    r"|what\s+(?:other\s+)?work\b"
    r"|(?:list|name|find|show)\b.{0,40}\b(?:papers|works|studies|articles)\b"
    r"|(?:are\s+there|is\s+there|do\s+i\s+have)\b.{0,40}\b(?:papers?|works?|stud(?:y|ies)|articles?)\b)"
    r"|\b(?:in|from|across|among)\s+(?:my|the|this)\s+(?:library|collection|corpus)\b",
    re.IGNORECASE,
)
_SEVERAL = re.compile(
    r"\b(both|each|compare[sd]?|comparison|versus|vs\.?|differ(?:s|ent|ence)?)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class QuestionPlan:
    form: Form
    named: list[str] = field(default_factory=list)  # ids of the papers the question names
    several: bool = False  # asks about more than one paper

    @property
    def multi(self) -> bool:
        return self.several or len(self.named) > 1


class PaperNames:
    """Name -> paper ids for a set of papers; a name two papers share names neither."""

    def __init__(self, papers: Iterable[Named]) -> None:
        owners: dict[str, set[str]] = {}
        for p in papers:
            for name in p.names:
                owners.setdefault(name, set()).add(p.id)
        self.owner = {n: next(iter(ids)) for n, ids in owners.items() if len(ids) == 1}
        by_paper: dict[str, list[str]] = {}
        for name, pid in sorted(self.owner.items()):
            by_paper.setdefault(pid, []).append(name)
        self._by_paper = {pid: tuple(ns) for pid, ns in by_paper.items()}
        # acronyms match as written ("props" is a word); longer names in any case
        # ("the streaming diffusion policy" names "Streaming Diffusion Policy")
        self._folded = {n.lower(): pid for n, pid in self.owner.items() if not _exact(n)}
        alternation = "|".join(
            re.escape(n) if _exact(n) else f"(?i:{re.escape(n)})"
            for n in sorted(self.owner, key=len, reverse=True)
        )
        self._pattern = re.compile(rf"(?<![\w-])({alternation})(?![\w-])") if alternation else None

    def of(self, paper_id: str) -> tuple[str, ...]:
        """The names `paper_id` goes by (only those no other paper shares)."""
        return self._by_paper.get(paper_id, ())

    def named_in(self, text: str) -> list[str]:
        """Ids of the papers `text` names, in order of first mention."""
        if self._pattern is None:
            return []
        return list(
            dict.fromkeys(
                self.owner.get(m.group(1)) or self._folded[m.group(1).lower()]
                for m in self._pattern.finditer(text)
            )
        )


def _exact(name: str) -> bool:
    """Acronym-like names (CARP, A2PR, D-PoT) match only as written."""
    return name.upper() == name or len(name) <= 5 or (" " not in name and sum(c.isupper() for c in name) > 1)


_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)


def is_yes_no(question: str) -> bool:
    """ "Does X need Y?", "Nasal fractures: is closed reduction satisfying?" (the part after
    a title's colon), "The nurse cystoscopist: a feasible option?" (a question with no
    wh-word); not "Is X better or worse?" (a choice)."""
    if _CHOICE.search(question):
        return False
    last = re.split(r":\s+|\.\s+", question.strip())[-1]
    return bool(_YES_NO.match(last)) or (question.rstrip().endswith("?") and not _WH.search(question))


def plan_question(question: str, names: PaperNames | None = None) -> QuestionPlan:
    named = names.named_in(question) if names else []
    if _LIBRARY.search(question):
        form = Form.LIBRARY
    elif is_yes_no(question):
        form = Form.YES_NO
    else:
        form = Form.OPEN
    return QuestionPlan(
        form, named, several=bool(_SEVERAL.search(question)) and form in (Form.OPEN, Form.YES_NO)
    )
