"""POST /compare: 2-5 papers side by side, one cell per aspect, each with a quote.

Cells, by `PAPERLENS_COMPARE_CELLS`:
- `extractive` (default): each cell is the paper sentence that best describes the aspect,
  chosen from the part of the paper where the aspect lives (approach from the methods,
  key result from the results or abstract), told in the third person; its quote is the
  sentence itself. Then one LLM call writes the comparison summary from one chosen cell
  per paper, checked like an answer; a paper it does not name gets a sentence of its own
  from its cell. One call per comparison: 10-14 s for 3 papers on 2 vCPUs, where one
  call per paper took 40 s.
- `llm`: one call per paper writes all its aspects at once (`aspect: text` lines, which
  a 1.5B model keeps to better than JSON); code matches every cell to the paper sentence
  that supports it (embedding cosine or word containment) and checks its numbers; a cell
  nothing supports becomes "not stated". The summary is then put together from the
  cells without another call, so a comparison costs one call per paper.
Without an LLM, cells are extractive and the summary is put together from them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from service.answering.accounting import Timings
from service.answering.generation import Generated, Generator
from service.answering.paper_text import Sentence, quotable_sentences, story_text
from service.answering.prompts import load_prompt
from service.answering.voice import third_person
from service.components.embedding.embedder import Embedder
from service.components.vector_store.paper_records import StoredPaper
from service.components.vector_store.paper_store import PaperStore
from service.core.config import Settings
from service.core.errors import BadInput
from service.core.sentinels import NOT_STATED
from service.corpus.names import title_head
from service.grounding.attribution import check_text
from service.grounding.cues import cue_hits
from service.grounding.evidence import Evidence, EvidenceSet
from service.grounding.injection import WHOLE_TEXT_FLAG_SCORE, data_title, instruction_sentences
from service.grounding.markers import strip_markers
from service.grounding.numbers import unsupported_numbers
from service.grounding.similarity import cosine_matrix, support
from service.retrieval.request_check import RequestCheck
from service.schemas import MAX_ASPECTS, CellOut, CompareIn, CompareOut, RowOut, UsageOut

DEFAULT_ASPECTS = ["problem", "approach", "evidence", "key result", "limitations"]
ASPECT_HINTS = {
    "problem": "the problem or challenge the paper addresses",
    "approach": "the method or model the paper proposes",
    "evidence": "the data, benchmarks or experiments used for evaluation",
    "key result": "the main result or improvement the paper reports",
    "limitations": "a limitation, weakness or open problem the paper admits",
}
PAPER_TEXT_TOKENS = 700
SUMMARY_ASPECTS = ("approach", "key result", "problem")  # what the summary call is shown, per paper
SUMMARY_MAX_TOKENS = 90  # two short sentences; a third, cut at the limit, is dropped
# where each aspect lives in a structured paper: the extractive engine prefers those parts
ASPECT_PARTS = {
    "problem": ("abstract", "introduction"),
    "approach": ("abstract", "methods"),
    "evidence": ("methods", "results"),
    "key result": ("abstract", "results", "conclusion"),
    "limitations": ("discussion", "conclusion"),
}
PART_WEIGHT = 0.1
EXTRACTIVE_MIN_SIMILARITY = 0.3
CUE_WEIGHT = 0.2
_NOT_STATED = re.compile(rf"^\W*({re.escape(NOT_STATED)}|not mentioned|n/?a|none|unknown)\W*$", re.I)
_UNSUPPORTED = CellOut(text=NOT_STATED, quote="")


def _cell(text: str, quote: Sentence) -> CellOut:
    return CellOut(text=text, quote=quote.text, page=quote.page, section=quote.section)


def parse_aspect_lines(text: str, aspects: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().lstrip("-*• ").partition(":")
        name = key.strip().lower().strip("*_ ")
        if sep and name in aspects and name not in out:
            out[name] = value.strip().strip("*_ ")
    return out


def _first_quoted(row: RowOut, aspects: Sequence[str]) -> CellOut | None:
    """The row's first filled cell, the summary's own aspects (approach first) before the rest."""
    order = [a for a in SUMMARY_ASPECTS if a in aspects] + [a for a in aspects if a not in SUMMARY_ASPECTS]
    return next((row.cells[a] for a in order if row.cells[a].quote), None)


def speak_for_every_paper(summary: str, rows: list[RowOut], aspects: Sequence[str]) -> str:
    """`summary` with a sentence for each compared paper it does not name: the paper's short
    name and its first filled cell. A 1.5B model given three papers and a short budget often
    writes about the first two; a comparison that is silent on a paper reads as if that
    paper had nothing to say. Named means by the title or its short name, the names the
    prompt shows: the acronyms an abstract defines ("DICE", "SOTA") are too often another
    paper's topic to count."""
    low = summary.lower()
    parts = [summary] if summary else []
    for row in rows:
        head = title_head(row.title)
        if any(n.lower() in low for n in [row.title, *([head] if head else [])]):
            continue
        cell = _first_quoted(row, aspects)
        if cell is not None:
            parts.append(f"{head or row.title}: {cell.text.rstrip('.')}.")
    return " ".join(parts)


class CompareService:
    def __init__(
        self,
        store: PaperStore,
        embedder: Embedder,
        generator: Generator,
        check: RequestCheck,
        settings: Settings,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.generator = generator
        self.request_check = check
        self.settings = settings
        self.cells_prompt = load_prompt(settings.prompts_dir, "compare")
        self.summary_prompt = load_prompt(settings.prompts_dir, "compare_summary")

    def _validate(self, request: CompareIn) -> tuple[list[StoredPaper], list[str]]:
        ids = list(dict.fromkeys(request.paper_ids))
        if not 2 <= len(ids) <= 5:
            raise BadInput(f"compare takes 2 to 5 distinct paper ids; got {len(ids)}")
        names = [" ".join(a.lower().split()) for a in (request.aspects or DEFAULT_ASPECTS)]
        if not names or len(names) > MAX_ASPECTS or any(not a or len(a) > 40 or ":" in a for a in names):
            raise BadInput(
                f"aspects must be 1 to {MAX_ASPECTS} non-empty names of at most 40 characters, without ':'"
            )
        papers = [self.store.papers.get(pid) for pid in self.request_check.known_ids(ids)]
        return [p for p in papers if p is not None], list(dict.fromkeys(names))

    def _support(
        self, sentences: list[Sentence], vectors: np.ndarray, cells: dict[str, str]
    ) -> dict[str, CellOut]:
        """Each claimed cell with its best supporting sentence (claims nothing supports are left out)."""
        out: dict[str, CellOut] = {}
        claims = {a: t for a, t in cells.items() if t and not _NOT_STATED.match(t)}
        if claims and sentences:
            sims = cosine_matrix(self.embedder.embed(list(claims.values())), vectors)
            for row, (aspect, claim) in enumerate(claims.items()):
                scores = [support(float(sims[row, i]), claim, s.text) for i, s in enumerate(sentences)]
                best = int(np.argmax(scores))
                if scores[best] >= self.settings.support_threshold and not unsupported_numbers(
                    claim, [sentences[best].text]
                ):
                    out[aspect] = _cell(claim, sentences[best])
        return out

    def _extractive_cells(
        self, sentences: list[Sentence], vectors: np.ndarray, aspects: list[str]
    ) -> dict[str, CellOut]:
        out: dict[str, CellOut] = {}
        if not sentences:
            return out
        probes = self.embedder.embed([ASPECT_HINTS.get(a, a) for a in aspects])
        sims = cosine_matrix(probes, vectors)
        used: set[int] = set()
        for row, aspect in enumerate(aspects):
            scores = [
                float(sims[row, i])
                + CUE_WEIGHT * min(cue_hits(s.text, aspect), 2)
                + (PART_WEIGHT if s.part in ASPECT_PARTS.get(aspect, ()) else 0.0)
                - (1.0 if i in used else 0.0)
                for i, s in enumerate(sentences)
            ]
            best = int(np.argmax(scores))
            if scores[best] >= EXTRACTIVE_MIN_SIMILARITY:
                used.add(best)
                out[aspect] = _cell(third_person(sentences[best].text), sentences[best])
        return out

    def compare(self, request: CompareIn) -> CompareOut:
        papers, names = self._validate(request)
        usage, timings = UsageOut.zero(), Timings()
        use_llm = self.generator.available
        llm_cells = use_llm and self.settings.compare_cells == "llm"
        rows = []
        removed: list[str] = []  # every paper's instructions, kept from the model (found once)
        for paper in papers:
            instructions = instruction_sentences(paper.body, self.embedder.embed, WHOLE_TEXT_FLAG_SCORE)
            removed += instructions
            sentences = quotable_sentences(paper, self.embedder.embed)
            vectors = (
                self.embedder.embed([s.text for s in sentences])
                if sentences
                else np.zeros((0, self.embedder.dim))
            )
            cells: dict[str, CellOut] | None = None
            if llm_cells and use_llm:
                messages = self.cells_prompt.render(
                    aspect_lines="\n".join(f"{a}: ..." for a in names),
                    title=data_title(paper.title),
                    text=story_text(paper, PAPER_TEXT_TOKENS, self.embedder.embed),
                )
                generated = self.generator.generate(
                    messages,
                    60 * len(names),
                    timings,
                    fallback=lambda: "",
                    sources=[paper.title, paper.body],
                    removed=instructions,
                )
                usage.add(generated.usage)
                if generated.from_llm:
                    cells = self._support(sentences, vectors, parse_aspect_lines(generated.text, names))
                    cells = {a: c.model_copy(update={"text": third_person(c.text)}) for a, c in cells.items()}
                else:  # the LLM failed: this and the remaining papers are extractive
                    use_llm = False
            if cells is None:
                cells = self._extractive_cells(sentences, vectors, names)
            rows.append(
                RowOut(
                    paper_id=paper.id,
                    title=data_title(paper.title),  # the summary names papers by it: no hidden order
                    cells={a: cells.get(a, _UNSUPPORTED) for a in names},
                )
            )
        # one call per paper already made: the summary is put together from the cells
        sources = [t for p in papers for t in (p.title, p.body)]
        summary, use_llm = self._summary(
            rows, names, usage, timings, use_llm, not llm_cells, sources, removed
        )
        summary = speak_for_every_paper(summary, rows, names)
        # how the cells were made: by the LLM, or extractively (degraded when the LLM failed
        # midway, or was wanted and is missing)
        made = (
            Generated("", "llm", False, self.generator.model)
            if use_llm
            else self.generator.fallback("", failed=self.generator.available)
        )
        return CompareOut(
            aspects=names,
            rows=rows,
            summary=summary,
            engine=made.engine,
            degraded=made.degraded,
            model=made.model,
            prompt_version=f"{self.cells_prompt.version}+{self.summary_prompt.version}",
            usage=usage,
            timings_ms=timings.as_dict(),
        )

    def _summary(
        self,
        rows: list[RowOut],
        names: list[str],
        usage: UsageOut,
        timings: Timings,
        use_llm: bool,
        call: bool,
        sources: list[str],
        removed: list[str],
    ) -> tuple[str, bool]:
        """The comparison summary, and whether the LLM is still usable (False once it failed).

        The call sees one quote per paper, its approach when filled (`_first_quoted`): with two
        per paper the model spent its short budget retelling the first paper; with one it
        contrasts them, in about 14 s for 3 papers on 2 slow vCPUs where two took 19 s."""
        facts: list[Evidence] = []
        for row in rows:
            if (cell := _first_quoted(row, names)) is not None:
                facts.append(Evidence(len(facts) + 1, row.paper_id, row.title, "", cell.quote, 1.0))
        if not facts:
            return "The papers' texts do not state the compared aspects.", use_llm
        fallback = speak_for_every_paper("", rows, names)  # each paper in a sentence of its own
        if not (use_llm and call):
            return fallback, use_llm
        evidence = EvidenceSet(facts, self.embedder.embed([f.text for f in facts]), 1.0)
        generated = self.generator.generate(
            self.summary_prompt.render(evidence=evidence.render()),
            SUMMARY_MAX_TOKENS,
            timings,
            fallback=lambda: "",
            sources=sources,
            removed=removed,
        )
        usage.add(generated.usage)
        if not generated.from_llm:
            return fallback, False
        checked = check_text(generated.text, evidence, self.embedder, self.settings.support_threshold)
        if checked.empty:
            return fallback, True
        # markers refer to the cells' quotes, which the table already shows: drop them
        return third_person(strip_markers(checked.text)), True
