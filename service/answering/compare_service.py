"""POST /compare: 2-5 papers side by side, at once: the small, synchronous case of the
literature matrix (`matrix_engine`), with a summary that weighs the papers (`weighing`).

Cells, by `PAPERLENS_COMPARE_CELLS`:
- `extractive` (default): each cell is the paper sentence that best matches the aspect
  (the matrix engine's sentence choice, which prefers the part of the paper where a
  default aspect lives), told in the third person; its quote is the sentence itself.
  Then one LLM call writes the summary. One call per comparison: 3 papers in about 10-14 s
  on 2 vCPUs, where a call per paper took 40 s.
- `llm`: the matrix engine's one JSON call per paper fills all its aspects with short
  answers, each checked against its sentence; a cell the paper's sentences do not carry
  says "not stated". The summary is then put together from the cells without another call.
When the LLM fails for a paper, that paper and the rest are extractive (degraded);
without an LLM, cells are extractive and the summary is put together from them.
"""

from __future__ import annotations

from service.answering.matrix_engine import Cell, MatrixEngine
from service.answering.results import CompareCell, CompareRow, Comparison
from service.answering.weighing import Weigher
from service.components.embedding.embedder import Embedder
from service.components.vector_store.paper_records import StoredPaper
from service.components.vector_store.paper_store import PaperStore
from service.core.config import Settings
from service.core.errors import BadInput
from service.core.sentinels import NOT_STATED
from service.evidence.injection import data_title, instruction_sentences
from service.generation.accounting import Timings, Usage
from service.generation.generate import Generated, Generator
from service.generation.prompts import load_prompt
from service.retrieval.request_check import RequestCheck
from service.schemas import MAX_ASPECTS, CompareIn

DEFAULT_ASPECTS = ["problem", "approach", "evidence", "key result", "limitations"]


def compare_cell(cell: Cell) -> CompareCell:
    if not cell.reported:
        return CompareCell(text=NOT_STATED, quote="")
    return CompareCell(text=cell.answer, quote=cell.quote, page=cell.page, section=cell.section)


class CompareService:
    def __init__(
        self,
        store: PaperStore,
        embedder: Embedder,
        generator: Generator,
        check: RequestCheck,
        settings: Settings,
        engine: MatrixEngine,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.generator = generator
        self.request_check = check
        self.settings = settings
        self.engine = engine
        self.summary_prompt = load_prompt(settings.prompts_dir, "compare_summary")
        self.weigher = Weigher(
            self.summary_prompt,
            generator,
            embedder,
            settings.compare,
            settings.grounding,
        )

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

    def compare(self, request: CompareIn) -> Comparison:
        papers, names = self._validate(request)
        usage, timings = Usage.zero(), Timings()
        use_llm = self.generator.available
        llm_cells = use_llm and self.settings.compare_cells == "llm"
        rows = []
        removed: list[str] = []  # every paper's instructions, kept from the model (found once)
        bars = self.settings.grounding.injection
        for paper in papers:
            removed += instruction_sentences(
                paper.body, self.embedder.embed, bars.whole_text_flag_score, bars
            )
            filled = self.engine.fill(paper, names, "llm" if llm_cells and use_llm else "extractive", timings)
            usage.add(filled.usage)
            if filled.error is not None or filled.withheld:  # this and the remaining papers: extractive
                use_llm = False
                filled = self.engine.fill(paper, names, "extractive", timings)
            rows.append(
                CompareRow(
                    paper_id=paper.id,
                    title=data_title(paper.title),  # the summary names papers by it: no hidden order
                    cells={a: compare_cell(filled.cells[a]) for a in names},
                )
            )
        sources = [t for p in papers for t in (p.title, p.body)]
        weighed = self.weigher.weigh(
            rows, names, timings, call=use_llm and not llm_cells, sources=sources, removed=removed
        )
        usage.add(weighed.usage)
        use_llm = use_llm and not weighed.llm_failed
        # how the cells were made: by the LLM, or extractively (degraded when the LLM failed
        # midway, or was wanted and is missing)
        made = (
            Generated("", "llm", False, self.generator.model)
            if use_llm
            else self.generator.fallback("", failed=self.generator.available)
        )
        return Comparison(
            aspects=names,
            rows=rows,
            summary=weighed.summary,
            engine=made.engine,
            degraded=made.degraded,
            model=made.model,
            prompt_version=f"{self.engine.prompt_version}+{self.summary_prompt.version}",
            usage=usage,
            timings_ms=timings.as_dict(),
        )
