"""What the endpoint services return: domain results, not HTTP bodies.

`server/responses.py` maps each to its response model in `schemas.py` (the routes declare
those, with their field descriptions; the CLI prints them), so the services never build
an HTTP body and the API can change its shape without touching them. The field names are
the response models' own, so the mapping is by attribute; the summary cache keeps a
`Summary` as JSON and the matrix store a `MatrixCell`, which is why these are Pydantic
models and not plain dataclasses.
Usage is `core.usage.Usage`, as the one LLM step (`generation.py`) counts it; the response
models carry it as `schemas.UsageOut`, the same type under the API's name.
"""

from __future__ import annotations

from pydantic import BaseModel

from service.core.config import SummaryAudience, SummaryLength
from service.core.reasons import DroppedSentence
from service.generation.accounting import Usage


class Made(BaseModel):
    """How a generated result was made: engine, model, prompt, cost and timings."""

    engine: str  # "llm" or "extractive"
    degraded: bool  # the LLM was wanted but failed or is missing
    model: str
    prompt_version: str
    usage: Usage
    timings_ms: dict[str, float]

    def streamed_text(self) -> str:
        """The text a replayed (cached) stream sends as its one delta; empty: none."""
        return ""


class Citation(BaseModel):
    """An exact sentence of a paper a result rests on, numbered as its markers cite it."""

    n: int
    paper_id: str
    title: str
    chunk_id: str
    quote: str
    page: int | None = None
    section: str | None = None


class PaperMatch(BaseModel):
    """One paper a library-level answer lists, with the citation that shows it."""

    paper_id: str
    title: str
    n: int
    confidence: float


class Answer(Made):
    """The checked answer to one question (`AskService`)."""

    question: str | None = None  # a follow-up rewritten to stand alone, else the question
    answer: str  # carries markers [n] matching citations[].n
    abstained: bool
    confidence: float | None = None  # the verifier's, when one ran
    citations: list[Citation]
    papers: list[PaperMatch] | None = None  # a 'which papers ...?' question's list
    dropped: list[DroppedSentence]
    cached: bool

    def streamed_text(self) -> str:
        return "" if self.abstained else self.answer


class SummarySentence(BaseModel):
    text: str
    sources: list[int]  # the sources[].n it rests on


class Summary(Made):
    """The checked summary of one paper (`SummaryService`)."""

    paper_id: str
    title: str
    summary: str  # plain text, no markers
    cached: bool
    audience: SummaryAudience = "general"
    length: SummaryLength = "paragraph"
    sentences: list[SummarySentence] = []
    sources: list[Citation] = []
    dropped: list[DroppedSentence] = []
    words: int = 0
    length_note: str | None = None

    def streamed_text(self) -> str:
        return self.summary


class CompareCell(BaseModel):
    """One paper's cell for one aspect of a comparison: the text and the quote it rests on."""

    text: str
    quote: str
    page: int | None = None
    section: str | None = None


class CompareRow(BaseModel):
    paper_id: str
    title: str
    cells: dict[str, CompareCell]


class Comparison(Made):
    """Papers side by side with a summary that weighs them (`CompareService`)."""

    aspects: list[str]
    rows: list[CompareRow]
    summary: str


class MatrixCell(BaseModel):
    """One cell of a literature matrix: a short answer and the sentence it rests on, or
    'not reported' and why."""

    answer: str
    quote: str
    reported: bool
    reason: str | None = None
    page: int | None = None
    section: str | None = None


class MatrixRow(BaseModel):
    paper_id: str
    title: str
    status: str  # queued, running, done, failed or cancelled
    cells: dict[str, MatrixCell]  # the cells filled so far, by column
    error: str | None = None


class Matrix(BaseModel):
    """A literature matrix and its progress (`MatrixService`, kept by `MatrixStore`)."""

    matrix_id: str
    status: str
    status_url: str
    query: str | None = None
    columns: list[str]
    papers_done: int
    papers_total: int
    rows: list[MatrixRow]
    engine: str
    degraded: bool
    model: str
    prompt_version: str
    usage: Usage
    elapsed_s: float
