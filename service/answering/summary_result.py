"""The main result of a paper, with its number, when a paragraph summary left it out.

A small model summarising a paper tends to write "the method outperforms the baselines"
and drop the figure a reader came for, however the prompt asks. Pointing at the result
sentence in the prompt did not change that (evals/reports/*-summary-facts-all-pointer.md).
So it is asked for separately, in the form a small model does well: the paper's best
result sentences that carry a number are numbered, the model chooses the one that states
the main result and restates it in one sentence (`prompts/summary_result.md`, under a JSON
schema). The restatement is checked like every summary sentence (`check_text`: it must rest
on the paper's sentences, its numbers in them); a reply that cannot be read, fails its
checks or states no number adds nothing. Trimmed for length, the restatement goes last.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from service.checks.attribution import Dropped, check_text
from service.checks.summary_checks import Said, said_sentences
from service.checks.voice import third_person
from service.components.embedding.embedder import Embedder
from service.core.config import Settings
from service.evidence.numbers import numbers_in
from service.evidence.summary_evidence import RESULT, SummaryEvidence
from service.generation.accounting import Timings, Usage
from service.generation.generate import Generator
from service.generation.prompts import Prompt, load_prompt


class ChosenResult(BaseModel):
    sentence: int
    restated: str = Field(max_length=400)


def response_format(n: int) -> dict[str, Any]:
    """The reply's schema: the number of one of `n` sentences, then the restatement."""
    schema = {
        "type": "object",
        "properties": {
            "sentence": {"type": "integer", "minimum": 1, "maximum": n},
            "restated": {"type": "string", "maxLength": 300},
        },
        "required": ["sentence", "restated"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "main_result", "schema": schema}}


class ResultSentence:
    def __init__(self, generator: Generator, settings: Settings, embedder: Embedder) -> None:
        self.generator = generator
        self.settings = settings
        self.embedder = embedder
        self.prompt: Prompt = load_prompt(settings.prompts_dir, "summary_result")

    def candidates(self, picked: SummaryEvidence) -> list[int]:
        """The best result sentences that carry a number (items of `picked`), best first."""
        ranked = [i for i in picked.ranked.get(RESULT, []) if numbers_in(picked.items[i].text)]
        return ranked[: self.settings.summary.result_candidates]

    def missing(self, picked: SummaryEvidence, kept: list[Said]) -> list[int]:
        """The candidates, when `kept` states none of their numbers; else none."""
        found = self.candidates(picked)
        stated = numbers_in(" ".join(s.text for s in kept))
        if not found or any(numbers_in(picked.items[i].text) & stated for i in found):
            return []
        return found

    def write(
        self,
        title: str,
        audience: str,
        picked: SummaryEvidence,
        found: list[int],
        timings: Timings,
        usage: Usage,
        sources: list[str],
        removed: list[str],
        dropped: list[Dropped],
    ) -> Said | None:
        """The main result restated from one of `found`, checked; None when nothing passes
        (a restatement the checks drop is added to `dropped`, with its reason)."""
        shown = "\n".join(f"[{n}] {picked.items[i].text}" for n, i in enumerate(found, start=1))
        generated = self.generator.structured(
            self.prompt.render(audience=audience, title=title, sentences=shown),
            self.settings.summary.result_max_tokens,
            timings,
            response_format(len(found)),
            sources=sources,
            removed=removed,
        )
        usage.add(generated.usage)
        try:
            chosen = ChosenResult.model_validate(json.loads(generated.text or "{}"))
        except (ValueError, ValidationError):
            return None
        if not 1 <= chosen.sentence <= len(found):
            return None
        with timings.measure("check"):
            checked = check_text(
                chosen.restated, picked.evidence, self.embedder, tuning=self.settings.grounding
            )
        dropped += checked.dropped
        said = said_sentences(checked)
        if len(said) != 1 or not numbers_in(said[0].text) or not said[0].sources:
            return None
        return Said(third_person(said[0].text), said[0].sources, kept_whole=True)
