"""The comparison summary: the papers weighed against each other on the columns, each
claim resting on the cells of two papers at least.

The model is shown every paper's filled cell on the column the papers can best be compared
on (most papers filled, then the most numbers: "which is faster", "which needs less data"),
numbered, and writes two short sentences, each citing the cells it
uses. Code checks them like an answer (`check_text`: every claim supported by its cited
cells, numbers and names included), then keeps only the sentences whose cited cells come
from two papers or more: one paper's cell retold is not a comparison. Without an LLM, or
when no written sentence survives, the summary is the best column's cells side by side,
put together by code ("On key result, A: ...; B: ..."); a paper the written sentences do
not name gets its cell on that column added the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.answering.results import CompareRow
from service.checks.attribution import check_text
from service.checks.markers import MARKERS, strip_markers
from service.checks.voice import third_person
from service.components.embedding.embedder import Embedder
from service.components.sentences import split_sentences
from service.core.config import CompareSettings, GroundingSettings
from service.corpus.names import title_head
from service.evidence.numbers import numbers_in
from service.evidence.select import Evidence, EvidenceSet
from service.generation.accounting import Timings, Usage
from service.generation.generate import Generator
from service.generation.prompts import Prompt

WEIGHABLE = ("key result", "evidence", "approach")  # default aspects that compare best, best first


@dataclass
class Weighed:
    summary: str
    usage: Usage
    llm_failed: bool = False


def short_name(title: str) -> str:
    return title_head(title) or title


def comparable_columns(rows: Sequence[CompareRow], columns: Sequence[str], min_papers: int) -> list[str]:
    """Columns at least `min_papers` papers filled, most filled first, then those whose cells
    carry the most numbers, then the default aspects that compare best, then in table order."""

    def filled(column: str) -> list[str]:
        return [r.cells[column].text for r in rows if _filled(r, column)]

    ranked = sorted(
        (c for c in columns if len(filled(c)) >= min_papers),
        key=lambda c: (
            -len(filled(c)),
            -sum(bool(numbers_in(t)) for t in filled(c)),
            WEIGHABLE.index(c) if c in WEIGHABLE else len(WEIGHABLE),
            columns.index(c),
        ),
    )
    return ranked


def cells_line(rows: Sequence[CompareRow], column: str) -> str:
    """One column's filled cells side by side, in the papers' order: built from cells only."""
    parts = [f"{short_name(r.title)}: {r.cells[column].text.rstrip('.')}" for r in rows if _filled(r, column)]
    return f"On {column}, {'; '.join(parts)}."


def _facts(rows: Sequence[CompareRow], columns: Sequence[str]) -> tuple[list[Evidence], str]:
    """The cells of `columns` as numbered evidence, and their text for the prompt."""
    items: list[Evidence] = []
    lines: list[str] = []
    for column in columns:
        lines.append(f"{column}:")
        for r in rows:
            if not _filled(r, column):
                continue
            cell = r.cells[column]
            n = len(items) + 1
            items.append(
                Evidence(n, r.paper_id, r.title, "", cell.quote, 1.0, (n, 0), cell.page, cell.section)
            )
            lines.append(f"[{n}] {short_name(r.title)}: {cell.quote}")
    return items, "\n".join(lines)


def _two_paper_sentences(text: str, cited: list[Evidence], min_papers: int) -> list[str]:
    """The checked text's sentences whose markers point at cells of `min_papers` papers or more."""
    kept = []
    for sentence in split_sentences(text):
        numbers = {
            int(n) for m in MARKERS.finditer(sentence) for n in m.group(1).replace(";", ",").split(",")
        }
        papers = {cited[n - 1].paper_id for n in numbers if 1 <= n <= len(cited)}
        if len(papers) >= min_papers:
            kept.append(strip_markers(sentence).strip())
    return kept


def _filled(row: CompareRow, column: str) -> bool:
    cell = row.cells.get(column)
    return cell is not None and bool(cell.quote)


def named(summary: str, row: CompareRow) -> bool:
    low = summary.lower()
    return any(n.lower() in low for n in {row.title, short_name(row.title)})


class Weigher:
    def __init__(
        self,
        prompt: Prompt,
        generator: Generator,
        embedder: Embedder,
        tuning: CompareSettings,
        grounding: GroundingSettings,
    ) -> None:
        """`tuning.summary_columns`: columns the summary call is shown (every paper's cell on
        each): one keeps a 3-paper call to about 3 quotes, the size that took 14 s on 2 slow
        vCPUs where 6 took 19 s. `tuning.summary_max_tokens`: two short sentences; a third,
        cut at the limit, is dropped."""
        self.prompt = prompt
        self.generator = generator
        self.embedder = embedder
        self.tuning = tuning
        self.grounding = grounding

    def weigh(
        self,
        rows: list[CompareRow],
        columns: Sequence[str],
        timings: Timings,
        *,
        call: bool,
        sources: Sequence[str] = (),
        removed: Sequence[str] = (),
    ) -> Weighed:
        usage = Usage.zero()
        least = self.tuning.min_papers_per_claim
        ranked = comparable_columns(rows, columns, least)
        if not ranked:
            return Weighed("The papers' texts do not state the compared aspects side by side.", usage)
        sentences: list[str] = []
        failed = False
        if call and self.generator.available:
            items, facts = _facts(rows, ranked[: self.tuning.summary_columns])
            generated = self.generator.generate(
                self.prompt.render(evidence=facts),
                self.tuning.summary_max_tokens,
                timings,
                fallback=lambda: "",
                sources=sources,
                removed=removed,
            )
            usage.add(generated.usage)
            failed = not generated.from_llm
            if generated.from_llm and generated.text:
                evidence = EvidenceSet(items, self.embedder.embed([i.text for i in items]), 1.0)
                checked = check_text(generated.text, evidence, self.embedder, tuning=self.grounding)
                if not checked.empty:
                    sentences = [
                        third_person(s) for s in _two_paper_sentences(checked.text, checked.cited, least)
                    ]
        if not sentences:  # nothing written survived: the best column's cells side by side
            return Weighed(cells_line(rows, ranked[0]), usage, failed)
        summary = " ".join(sentences)
        silent = [r for r in rows if not named(summary, r) and _filled(r, ranked[0])]
        if silent:  # a comparison silent on a paper reads as if it had nothing to say
            summary = f"{summary} {cells_line(silent, ranked[0])}"
        return Weighed(summary, usage, failed)
