"""One paper's row of a literature matrix: every column's cell from at most one LLM call.

The engine behind `POST /matrix` (a job over up to 50 papers) and `POST /compare` (2-5
papers, at once):

- `llm`: the paper's few best sentences per column (`matrix_sentences`) are numbered in
  one prompt with all the columns (`prompts/matrix.md`), and the model replies in JSON
  held to a schema: per column a sentence number (or 0) and a short answer taken from
  that sentence. Code checks every cell (`matrix_reply`): a cell whose answer its
  sentence does not carry is "not reported", with the reason. A reply that is not JSON
  makes the paper's cells "not reported" with that reason; a failed call does too, with
  `error` set, so the caller can fall back.
- `extractive` (no LLM, or /compare's default): each column's best sentence is the cell,
  told in the third person, when it matches the column well enough; a sentence serves
  one column only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from service.checks.matrix_reply import Verdict, check_claim, parse_reply, response_format
from service.checks.voice import third_person
from service.components.tokens import count_tokens
from service.components.vector_store.paper_records import StoredPaper
from service.core.config import Settings
from service.core.sentinels import NOT_REPORTED
from service.evidence.injection import data_title
from service.evidence.matrix_sentences import PaperSentences, SentencePicker
from service.evidence.select import Evidence
from service.generation.accounting import Timings, Usage
from service.generation.generate import Generator
from service.generation.prompts import load_prompt

Mode = Literal["llm", "extractive"]


@dataclass
class Cell:
    """A filled cell has a quote (an exact sentence of the paper); an empty one says
    NOT_REPORTED and why (`reason`)."""

    answer: str
    quote: str = ""
    page: int | None = None
    section: str | None = None
    reason: str | None = None

    @property
    def reported(self) -> bool:
        return bool(self.quote)

    @classmethod
    def missing(cls, reason: str) -> Cell:
        return cls(NOT_REPORTED, reason=reason)

    @classmethod
    def quoting(cls, answer: str, sentence: Evidence) -> Cell:
        return cls(answer, sentence.text, sentence.page, sentence.section)


@dataclass
class PaperCells:
    cells: dict[str, Cell]
    engine: Mode
    usage: Usage = field(default_factory=Usage.zero)
    error: str | None = None  # the LLM call failed (every cell says so): the caller may fall back
    withheld: bool = False  # the reply did what an instruction inside the paper asked


class MatrixEngine:
    def __init__(self, picker: SentencePicker, generator: Generator, settings: Settings) -> None:
        self.picker = picker
        self.generator = generator
        self.settings = settings
        self.prompt = load_prompt(settings.prompts_dir, "matrix")

    @property
    def prompt_version(self) -> str:
        return self.prompt.version

    def fill(self, paper: StoredPaper, columns: Sequence[str], mode: Mode, timings: Timings) -> PaperCells:
        """The paper's cell for every column. `mode` `llm` falls to extractive only when
        there is no LLM at all; a failed call is reported in `error`."""
        s = self.settings
        with timings.measure("sentences"):
            picked = self.picker.pick(
                paper.id, columns, s.matrix_sentences_per_column, s.matrix_prompt_tokens, with_abstract=True
            )
        if mode == "extractive" or not self.generator.available:
            return PaperCells(extractive_cells(picked, columns, s.matrix.extractive_min_score), "extractive")
        if not picked.sentences:
            return PaperCells({c: Cell.missing("the paper has no text to quote") for c in columns}, "llm")
        return self._ask(paper, columns, picked, timings)

    def max_tokens(self, columns: Sequence[str]) -> int:
        per_answer = self.settings.matrix_answer_chars // 3
        overhead = self.settings.matrix.cell_overhead_tokens  # a cell's keys, number, quotes, braces
        return 8 + sum(count_tokens(c) + overhead + per_answer for c in columns)

    def _ask(
        self, paper: StoredPaper, columns: Sequence[str], picked: PaperSentences, timings: Timings
    ) -> PaperCells:
        chars = self.settings.matrix_answer_chars
        messages = self.prompt.render(
            answer_words=str(max(3, round(chars * self.settings.matrix.words_per_answer_char))),
            columns="; ".join(f'"{c}"' for c in columns),
            title=data_title(paper.title),
            sentences=picked.numbered(),
        )
        generated = self.generator.structured(
            messages,
            self.max_tokens(columns),
            timings,
            response_format(columns, len(picked.sentences), chars),
            sources=[paper.title, paper.body],
            question=" ".join(columns),
        )
        if generated.error or (not generated.from_llm and not generated.withheld):
            reason = f"the model failed: {generated.error or 'unavailable'}"
            return PaperCells(
                {c: Cell.missing(reason) for c in columns}, "llm", generated.usage, error=reason
            )
        if generated.withheld:
            reason = "the model's reply did what an instruction inside the paper asked; withheld"
            cells = {c: Cell.missing(reason) for c in columns}
            return PaperCells(cells, "llm", generated.usage, withheld=True)
        claims = parse_reply(generated.text, columns)
        if isinstance(claims, str):
            return PaperCells({c: Cell.missing(claims) for c in columns}, "llm", generated.usage)
        texts = [s.text for s in picked.sentences]
        share = self.settings.matrix.min_words_in_sentence
        cells = {c: _cell(check_claim(c, claims.get(c), texts, share), picked) for c in columns}
        return PaperCells(cells, "llm", generated.usage)


def _cell(verdict: Verdict, picked: PaperSentences) -> Cell:
    if not verdict.reported:
        return Cell.missing(verdict.reason or "not reported")
    return Cell.quoting(verdict.answer, picked.sentences[verdict.sentence - 1])


def extractive_cells(picked: PaperSentences, columns: Sequence[str], min_score: float) -> dict[str, Cell]:
    """Each column's best sentence that no earlier column took, when it scores at least
    `min_score` (`MATRIX__EXTRACTIVE_MIN_SCORE`: below it a column's best sentence is no
    answer to it); told in the third person, quoted as it stands."""
    out: dict[str, Cell] = {}
    used: set[int] = set()
    for column in columns:
        ranked = zip(picked.picks.get(column, []), picked.scores.get(column, []), strict=True)
        best = next(((i, s) for i, s in ranked if i not in used), None)
        if best is None or best[1] < min_score:
            out[column] = Cell.missing("no sentence of the paper matches this column well enough")
            continue
        used.add(best[0])
        sentence = picked.sentences[best[0]]
        out[column] = Cell.quoting(third_person(sentence.text), sentence)
    return out
