"""The verifier: one judgement after the LLM call, behind one small interface.

`Verifier.judge(question, answer, evidence, cited, timings) -> Verdict | None`: how sure
the backend is that the evidence states this answer to this question (a score in 0-1, the
answer's `confidence`) and why. `evidence` is every sentence the model was shown, `cited`
the indexes of those the checked answer rests on. Backends (`PAPERLENS_VERIFIER`):

- `llm`: the model is shown the cited evidence, the question and the answer, and asked
  for one word, yes or no, under a one-token reply; the score is P(yes) renormalised
  over yes/no from the first token's probabilities (a server without logprobs gives 1 or
  0). A small model judges reliably when the evidence is in front of it and the choice is
  closed; asked about the answer alone it does no better than chance.
- `choice`: the model is shown every evidence sentence, numbered, and the question, and
  asked which sentence states the answer (its number, or 0 for none) under a one-token
  reply; the score is the probability it gives the sentences the answer cites. It judges
  the citation, not the wording: an answer that cites a neighbouring value's sentence, or
  a question no sentence answers, scores low.
- `rules`: no model; the checks that run after every LLM call, as a judgement: each
  sentence must rest on the evidence it cites (`attribution.check_text`) and the answer must
  answer what was asked (`question_fit.unanswered`); the score is 1 or 0 and the reason is
  the first rule that failed. In `/ask` an answer has already passed them, so it scores 1;
  the backend exists so one table of cases (evals/data/verdict_cases.jsonl) can hold every
  backend to the same verdicts.
- `off`: no judgement (answers carry no confidence and none is declined for it).

An NLI or cross-encoder backend fits the same interface when one can be installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, Field

from service.checks.attribution import check_text
from service.checks.markers import strip_markers
from service.checks.question_fit import unanswered
from service.components.embedding.embedder import Embedder
from service.core.config import Settings
from service.evidence.select import Evidence, EvidenceSet
from service.generation.accounting import Timings, Usage
from service.generation.generate import Generator
from service.generation.prompts import load_prompt


class Verdict(BaseModel):
    score: float = Field(ge=0, le=1, description="How sure the backend is the evidence states this answer.")
    reason: str
    backend: str
    usage: Usage = Field(default_factory=Usage.zero)


class Verifier(Protocol):
    name: str

    def judge(
        self, question: str, answer: str, evidence: Sequence[str], cited: Sequence[int], timings: Timings
    ) -> Verdict | None: ...


class NoVerifier:
    name = "off"

    def judge(
        self, question: str, answer: str, evidence: Sequence[str], cited: Sequence[int], timings: Timings
    ) -> Verdict | None:
        return None


class LLMVerifier:
    name = "llm"

    def __init__(self, generator: Generator, settings: Settings) -> None:
        self.generator = generator
        self.prompt = load_prompt(settings.prompts_dir, "verify")

    def judge(
        self, question: str, answer: str, evidence: Sequence[str], cited: Sequence[int], timings: Timings
    ) -> Verdict | None:
        shown = [evidence[i] for i in cited]
        if not shown:
            return None
        lines = "\n".join(f"[{n}] {text}" for n, text in enumerate(shown, start=1))
        messages = self.prompt.render(evidence=lines, question=question, answer=strip_markers(answer).strip())
        judged = self.generator.judge(messages, ("yes", "no"), timings, label="verify")
        if judged is None:
            return None
        score = round(judged.probabilities["yes"], 4)
        reason = (
            "the evidence states this answer" if score >= 0.5 else "the evidence does not state this answer"
        )
        return Verdict(score=score, reason=reason, backend=self.name, usage=judged.usage)


class ChoiceVerifier:
    name = "choice"
    MAX_OPTIONS = 9  # one token per option: "1".."9", and "0" for none

    def __init__(self, generator: Generator, settings: Settings) -> None:
        self.generator = generator
        self.prompt = load_prompt(settings.prompts_dir, "verify_choice")

    def judge(
        self, question: str, answer: str, evidence: Sequence[str], cited: Sequence[int], timings: Timings
    ) -> Verdict | None:
        if not cited or not evidence:
            return None
        # the cited sentences always among the options, then the rest in their order
        order = [*dict.fromkeys([*cited, *range(len(evidence))])][: self.MAX_OPTIONS]
        order.sort()
        lines = "\n".join(f"{n}. {evidence[i]}" for n, i in enumerate(order, start=1))
        messages = self.prompt.render(evidence=lines, question=question)
        options = [str(n) for n in range(len(order) + 1)]
        judged = self.generator.judge(messages, options, timings, label="verify")
        if judged is None:
            return None
        p = judged.probabilities
        score = round(min(1.0, sum(p[str(order.index(i) + 1)] for i in cited if i in order)), 4)
        best = max(p, key=lambda k: p[k])
        reason = (
            "the sentence it cites states the answer"
            if score >= 0.5
            else "no sentence states the answer"
            if best == "0"
            else f"sentence {best}, which it does not cite, states the answer"
        )
        return Verdict(score=score, reason=reason, backend=self.name, usage=judged.usage)


class RulesVerifier:
    name = "rules"

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.embedder = embedder
        self.tuning = settings.grounding

    def judge(
        self, question: str, answer: str, evidence: Sequence[str], cited: Sequence[int], timings: Timings
    ) -> Verdict | None:
        """`answer`'s marker [k] is `evidence[cited[k - 1]]`, as in a checked answer."""
        shown = [evidence[i] for i in cited]
        if not shown:
            return None
        with timings.measure("verify"):
            items = [
                Evidence(n, "paper", "", f"paper::{n}", text, 1.0) for n, text in enumerate(shown, start=1)
            ]
            checked = check_text(
                answer,
                EvidenceSet(items, self.embedder.embed(shown), 1.0),
                self.embedder,
                question,
                self.tuning,
            )
            if checked.empty or checked.dropped:
                why = checked.dropped[0].reason if checked.dropped else "the answer says nothing"
                return Verdict(score=0.0, reason=why, backend=self.name)
            quotes = [e.text for e in checked.cited]
            why_not = unanswered(question, checked.text, quotes, shown, (), self.tuning)
        if why_not is not None:
            return Verdict(score=0.0, reason=why_not, backend=self.name)
        return Verdict(
            score=1.0,
            reason="every sentence rests on its evidence and answers the question",
            backend=self.name,
        )


def open_verifier(generator: Generator, settings: Settings, embedder: Embedder) -> Verifier:
    match settings.verifier:
        case "llm":
            return LLMVerifier(generator, settings)
        case "choice":
            return ChoiceVerifier(generator, settings)
        case "rules":
            return RulesVerifier(embedder, settings)
        case _:
            return NoVerifier()
