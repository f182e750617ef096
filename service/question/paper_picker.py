"""Which papers a question about several papers means, when it describes them instead of
naming them ("the rectified flow paper and the exponential-integrator sampler paper").

Names the catalogue knows are found by code (`question/question_plan.py`); a description is
not a name, and no list of words finds them all. So the model is shown the papers search
finds best for the question, numbered with their short names and titles, and chooses the
ones the question refers to (`prompts/each_papers.md`), under a JSON schema: a closed
choice among numbered options, which a small model does well. One call, made only for a
question about several papers that names fewer than two.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from service.core.config import Settings
from service.generation.accounting import Timings, Usage
from service.generation.generate import Generator
from service.generation.prompts import load_prompt


class Picked(BaseModel):
    papers: list[int]


def response_format(n: int, most: int) -> dict[str, Any]:
    """The reply's schema: up to `most` distinct paper numbers from 1 to `n`."""
    numbers = {"type": "integer", "minimum": 1, "maximum": n}
    schema = {
        "type": "object",
        "properties": {"papers": {"type": "array", "items": numbers, "maxItems": most}},
        "required": ["papers"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "papers", "schema": schema}}


class PaperPicker:
    def __init__(self, generator: Generator, settings: Settings) -> None:
        self.generator = generator
        self.settings = settings
        self.prompt = load_prompt(settings.prompts_dir, "each_papers")

    def pick(
        self,
        question: str,
        candidates: Sequence[tuple[str, str]],
        timings: Timings,
        usage: Usage,
    ) -> list[str]:
        """The ids of the `candidates` ((id, shown name)) the question refers to, in their
        order; empty when the model picks none or its reply cannot be read."""
        if len(candidates) < 2:
            return []
        papers = "\n".join(f"{n}. {shown}" for n, (_, shown) in enumerate(candidates, start=1))
        generated = self.generator.structured(
            self.prompt.render(papers=papers, question=question),
            self.settings.each_pick_tokens,
            timings,
            response_format(len(candidates), self.settings.ask_each_papers),
            sources=[shown for _, shown in candidates],
            question=question,
        )
        usage.add(generated.usage)
        try:
            numbers = Picked.model_validate(json.loads(generated.text or "{}")).papers
        except (ValueError, ValidationError):
            return []
        chosen = sorted({n for n in numbers if 1 <= n <= len(candidates)})
        return [candidates[n - 1][0] for n in chosen]
