"""Follow-up questions: the last user turn rewritten into a standalone question.

Stateless: the conversation comes with the request (the page's history, or the
`messages` of /v1/chat/completions). A rule, not an LLM call, does the rewrite, so a
follow-up costs no more than a first question:
- the papers the conversation is about are the ones its user turns name (most recent
  first), else the ones the last answer cited (its "Sources" lines name their titles);
- a follow-up that names a paper itself stands alone ("what about PROPS?" after "How
  fast is CARP's inference?" becomes "How fast is PROPS's inference?");
- otherwise its pronouns point at that paper ("and how fast is it?" -> "and how fast is
  CARP?"), and a bare aspect is asked of it ("what about the dataset?" -> "What does CARP
  say about the dataset?"). The answer is then looked for in that paper only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.core.config import QuestionSettings
from service.question.question_plan import PaperNames

_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<rest>.+?)\s*\??\s*$", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\b(?:its|their)\b", re.IGNORECASE)
_REFERENCE = re.compile(
    r"\b(?:(?:this|that|the)\s+(?:paper|method|model|approach|work|system|technique|study)|it|they|them)\b",
    re.IGNORECASE,
)


@dataclass
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass
class Standalone:
    question: str
    paper_ids: list[str] | None  # the papers the follow-up is about (None: all)
    rewritten: bool


@dataclass
class _Subject:
    ids: list[str]
    name: str


class FollowUps:
    def __init__(
        self,
        names: PaperNames,
        titles: dict[str, str],
        short_names: dict[str, str],
        tuning: QuestionSettings,
    ) -> None:
        """`titles`: title -> paper id; `short_names`: paper id -> what to call it in a question;
        `tuning.context_free_words`: a question this long without a reference reads on its own."""
        self.names = names
        self.context_free_words = tuning.context_free_words
        self.titles = {t.lower(): pid for t, pid in titles.items()}
        self.short_names = short_names

    def _named(self, text: str) -> list[str]:
        found = self.names.named_in(text)
        low = text.lower()
        found += [pid for title, pid in self.titles.items() if len(title) > 12 and title in low]
        return list(dict.fromkeys(found))

    def _subject(self, ids: list[str]) -> _Subject:
        return _Subject(ids, " and ".join(self.short_names.get(pid, pid) for pid in ids[:3]))

    def standalone(self, question: str, history: Sequence[Turn]) -> Standalone:
        """The question to answer for the last user turn `question`, given the turns before it."""
        subject: _Subject | None = None
        previous: str | None = None
        for turn in history:
            if turn.role == "user":
                step = self._rewrite(turn.content, subject, previous)
                previous = step.question
                if step.paper_ids:
                    subject = self._subject(step.paper_ids)
            elif turn.role == "assistant":
                cited = self._named(turn.content)
                if cited and subject is None:
                    subject = self._subject(cited)
        return self._rewrite(question, subject, previous)

    def _rewrite(self, question: str, subject: _Subject | None, previous: str | None) -> Standalone:
        text = " ".join(question.split())
        named = self._named(text)
        about = _WHAT_ABOUT.match(text)
        if named:
            if about and previous and subject and len(about.group("rest").split()) <= 4:
                # "what about PROPS?": the previous question, asked of the newly named paper
                new = self._subject(named)
                swapped = _replace_names(previous, subject, new.name)
                if swapped != previous:
                    return Standalone(swapped, named, True)
            return Standalone(text, named, False)
        if subject is None:
            return Standalone(text, None, False)
        if _REFERENCE.search(text) or _POSSESSIVE.search(text):
            out = _POSSESSIVE.sub(f"{subject.name}'s", text)
            out = _REFERENCE.sub(subject.name, out, count=1)
            return Standalone(_capitalise(out), subject.ids, True)
        if about:
            return Standalone(f"What does {subject.name} say about {about.group('rest')}?", subject.ids, True)
        if len(text.split()) < self.context_free_words:
            return Standalone(f"{text.rstrip('?. ')} in {subject.name}?", subject.ids, True)
        return Standalone(text, None, False)


def _replace_names(previous: str, old: _Subject, new_name: str) -> str:
    out = previous
    for name in sorted(set(old.name.split(" and ")), key=len, reverse=True):
        out = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", new_name, out)
    return out


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
