"""Every request and response body of paperlens, in one place.

The routes declare these models (`server/responses.py` maps the services' domain results,
`answering/results.py`, to them), the CLI prints them and the evals parse responses with
them. Names are part of the
OpenAPI contract (`tests/test_openapi_contract.py` compares the spec with a snapshot):
fields may be added, never renamed or removed.

Request bounds here are hard caps that protect the server whatever the settings say; the
limits an operator can tune (question length, k) are checked against the settings by
`service.retrieval.request_check`, which answers 400 with what to fix.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.core.config import SummaryAudience as SummaryAudience
from service.core.config import SummaryLength as SummaryLength
from service.core.reasons import DropReason
from service.core.usage import Usage
from service.corpus.paper import Paper

MAX_FILTER_IDS = 500  # paper ids one request may name (each id is at most 128 characters)
MAX_TEXT_CHARS = 20_000  # hard cap on a question; the tunable limit is PAPERLENS_MAX_QUERY_CHARS
MAX_ASPECTS = 8
MAX_HISTORY_TURNS = 40


# --- papers ----------------------------------------------------------------------------
class PapersIn(BaseModel):
    papers: list[Paper] = Field(min_length=1, description="Papers to add or replace (at least one).")


class IngestOut(BaseModel):
    added: list[str]
    unchanged: list[str]
    replaced: list[str]


class PaperSummaryOut(BaseModel):
    id: str
    title: str
    year: int | None
    url: str | None
    n_chunks: int
    has_file: bool = Field(
        False, description="Whether GET /papers/{id}/file serves the paper's original file."
    )
    file_type: str | None = Field(None, description="The kept file's content type, e.g. application/pdf.")


class PaperListOut(BaseModel):
    papers: list[PaperSummaryOut]
    total: int


class PaperOut(PaperSummaryOut):
    abstract: str | None
    text: str | None
    authors: list[str]
    arxiv_id: str | None
    source: str | None
    doi: str | None = None
    pages: int | None = Field(None, description="Pages of the full text (PDFs).")
    text_chars: int = Field(
        0, description="Length of the whole full text; `text` is the window of it the request asked for."
    )
    next_text_offset: int | None = Field(
        None, description="`text_offset` of the next window of the text; null at its end."
    )
    abstract_chars: int = Field(0, description="Length of the whole abstract (cut at `text_limit`).")
    file_name: str | None = Field(None, description="The kept file's name as uploaded.")
    file_bytes: int | None = Field(None, description="The kept file's size in bytes.")
    no_file_reason: str | None = Field(None, description="Why no file is kept, when `has_file` is false.")


class JobFileOut(BaseModel):
    name: str
    status: str = Field(description="queued, done, failed or cancelled.")
    paper_id: str | None = Field(None, description="The (first) paper the file added or replaced.")
    paper_ids: list[str] = Field(default_factory=list, description="Every paper the file holds.")
    chunks: int = 0
    error: str | None = Field(None, description="Why the file failed, in words that say what to fix.")


class JobOut(BaseModel):
    job_id: str
    status: str = Field(
        description="queued, running, done (some files may have failed), failed (all did) or cancelled."
    )
    status_url: str
    files: list[JobFileOut]
    papers_done: int = Field(description="Files finished (done or failed).")
    papers_total: int = Field(description="Files in the job.")
    chunks_done: int


# --- search ----------------------------------------------------------------------------
class Located(BaseModel):
    """Where a passage sits in its paper (null where the source has no pages, e.g. JSON)."""

    page: int | None = Field(None, description="Page the passage starts on (PDFs).")
    section: str | None = Field(None, description="Section heading it sits under (PDFs).")


class SearchHit(Located):
    paper_id: str
    title: str
    chunk_id: str
    text: str
    score: float


class SearchOut(BaseModel):
    results: list[SearchHit]


# --- generated answers -------------------------------------------------------------------
class ChatTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TEXT_CHARS)


class AskIn(BaseModel):
    question: str = Field(max_length=MAX_TEXT_CHARS, description="A question about the indexed papers.")
    paper_ids: list[str] | None = Field(None, max_length=MAX_FILTER_IDS, description="Only use these papers.")
    k: int | None = Field(None, description="Passages to retrieve (default 8).")
    min_confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Decline answers whose verifier confidence is below this (default "
        "PAPERLENS_ANSWER_MIN_CONFIDENCE): higher = fewer answers, more of them right.",
    )
    history: list[ChatTurn] | None = Field(
        None,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns of the conversation, oldest first: a follow-up ('and how fast is it?') "
        "is rewritten into a standalone question about the papers they were about.",
    )


class CompareIn(BaseModel):
    paper_ids: list[str] = Field(max_length=MAX_FILTER_IDS, description="2 to 5 paper ids.")
    aspects: list[str] | None = Field(
        None,
        max_length=64,
        description="Rows of the comparison; default problem, approach, evidence, key result, limitations.",
    )


class UsageOut(Usage):
    """LLM calls and tokens one response cost (zero for a cache hit)."""


class CitationOut(Located):
    n: int
    paper_id: str
    title: str
    chunk_id: str
    quote: str = Field(description="An exact sentence of the paper.")


class DroppedOut(BaseModel):
    """A sentence left out of a generated text, and why."""

    sentence: str
    code: DropReason = Field(description="Why, for code to match on (one of the listed values).")
    reason: str = Field(description="Why, for a reader: the code's message and its detail.")


class GeneratedOut(BaseModel):
    """What every generated response says about how it was made."""

    engine: str = Field(description='"llm" or "extractive".')
    degraded: bool = Field(description="True when the LLM was wanted but failed or is missing.")
    model: str
    prompt_version: str
    usage: UsageOut
    timings_ms: dict[str, float]

    def streamed_text(self) -> str:
        """The text a replayed (cached) stream sends as its one delta; empty: none."""
        return ""


class PaperMatchOut(BaseModel):
    """One paper a library-level answer lists."""

    paper_id: str
    title: str
    n: int = Field(description="The citation (citations[].n) that shows it.")
    confidence: float = Field(description="P(yes) that the paper matches the question.")


class AskOut(GeneratedOut):
    question: str | None = Field(
        None, description="The question answered: a follow-up rewritten to stand alone, else the question."
    )
    answer: str = Field(description="Carries markers [n] matching citations[].n.")
    abstained: bool
    confidence: float | None = Field(
        None,
        description="The verifier's confidence (0-1) that the cited evidence states this answer; "
        "None when no verifier ran (no LLM, PAPERLENS_VERIFIER=off, or nothing was answered).",
    )
    citations: list[CitationOut]
    papers: list[PaperMatchOut] | None = Field(
        None,
        description="For a question about the library ('which papers ...?'): every paper listed, "
        "best first, with its citation number and confidence.",
    )
    dropped: list[DroppedOut] = Field(description="Generated sentences removed by the checks, and why.")
    cached: bool = Field(description="Served from the answer cache (same question, store, prompt, model).")

    def streamed_text(self) -> str:
        return "" if self.abstained else self.answer


class SummarySentenceOut(BaseModel):
    text: str
    sources: list[int] = Field(description="The sources[].n this sentence rests on.")


class SummaryOut(GeneratedOut):
    paper_id: str
    title: str
    summary: str = Field(description="The checked summary as plain text (no markers).")
    cached: bool
    audience: SummaryAudience = Field(
        "general", description="general: a reader outside the field; expert: a reader in it."
    )
    length: SummaryLength = Field("paragraph", description="tldr: one sentence; paragraph: 90-160 words.")
    sentences: list[SummarySentenceOut] = Field(
        default_factory=list, description="The summary's sentences, each with the sources it rests on."
    )
    sources: list[CitationOut] = Field(
        default_factory=list, description="The paper's sentences the summary rests on (page, section)."
    )
    dropped: list[DroppedOut] = Field(
        default_factory=list, description="Written sentences removed by the checks, and why."
    )
    words: int = Field(0, description="Words in `summary`.")
    length_note: str | None = Field(
        None, description="Set when the summary is outside its length's bounds (kept as it is), and why."
    )

    def streamed_text(self) -> str:
        return self.summary


class CellOut(Located):
    text: str
    quote: str


class RowOut(BaseModel):
    paper_id: str
    title: str
    cells: dict[str, CellOut]


class CompareOut(GeneratedOut):
    aspects: list[str]
    rows: list[RowOut]
    summary: str


# --- literature matrix -------------------------------------------------------------------
MAX_COLUMN_CHARS = 120


class MatrixIn(BaseModel):
    paper_ids: list[str] | None = Field(
        None,
        max_length=MAX_FILTER_IDS,
        description="The papers, one row each (at most PAPERLENS_MATRIX_MAX_PAPERS).",
    )
    query: str | None = Field(
        None,
        max_length=MAX_TEXT_CHARS,
        description="Instead of paper_ids: the papers /search finds best for this.",
    )
    top: int | None = Field(
        None, description="With query: how many papers (default PAPERLENS_MATRIX_DEFAULT_TOP)."
    )
    columns: list[str] = Field(
        max_length=64,
        description="1 to PAPERLENS_MATRIX_MAX_COLUMNS short questions or aspects, e.g. 'dataset', "
        "'model size', 'main metric and value', 'does it use real robots?'.",
    )


class MatrixColumnsIn(BaseModel):
    columns: list[str] = Field(max_length=64, description="Columns to add; only they are filled.")


class MatrixCellOut(Located):
    answer: str = Field(description="A short answer taken from the quote, or 'not reported'.")
    quote: str = Field(description="The sentence of the paper the answer rests on; empty when not reported.")
    reported: bool
    reason: str | None = Field(None, description="Why the cell is 'not reported' (what the check found).")


class MatrixRowOut(BaseModel):
    paper_id: str
    title: str
    status: str = Field(description="queued, running, done, failed or cancelled.")
    cells: dict[str, MatrixCellOut] = Field(description="The cells filled so far, by column.")
    error: str | None = Field(None, description="Why the paper's cells could not be made.")


class MatrixOut(BaseModel):
    matrix_id: str
    status: str = Field(description="queued, running, done, failed or cancelled.")
    status_url: str
    query: str | None = None
    columns: list[str]
    papers_done: int = Field(description="Papers whose cells are all made (or failed).")
    papers_total: int
    rows: list[MatrixRowOut]
    engine: str = Field(description='"llm" or "extractive" (no LLM: each cell is its best sentence).')
    degraded: bool = Field(description="An LLM was wanted and is missing or failed for some paper.")
    model: str
    prompt_version: str
    usage: UsageOut
    elapsed_s: float = Field(description="Seconds the job has run (until it ended).")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable name, e.g. `bad_input`, `llm_busy`.")
    message: str = Field(description="What went wrong and what to change.")
    type: str = Field(description="OpenAI-style error class (invalid_request_error, rate_limit_error, ...).")
    param: str | None = Field(None, description="The request field at fault, when one is.")


class ErrorOut(BaseModel):
    """Every error response has this shape."""

    error: ErrorDetail


# --- OpenAI-compatible chat (/v1) ----------------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls...: accepted and ignored
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatCompletionIn(BaseModel):
    """The standard body; sampling parameters are accepted and ignored (answers are grounded
    by the same chain as /ask)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description="`paperlens` (GET /v1/models).")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_HISTORY_TURNS + 10)
    stream: bool = False
    stream_options: dict[str, bool] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    n: int | None = Field(None, ge=1, le=1, description="Only 1.")
    paper_ids: list[str] | None = Field(
        None, max_length=MAX_FILTER_IDS, description="paperlens extension: only use these papers."
    )


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(description="The answer with [n] markers, then a 'Sources:' list.")
    question: str | None = Field(None, description="The standalone question answered.")
    citations: list[CitationOut] = Field(default_factory=list)
    abstained: bool = False
    degraded: bool = False


class ChatChoiceOut(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop"] = "stop"


class ChatUsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoiceOut]
    usage: ChatUsageOut


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "paperlens"


class ModelListOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
