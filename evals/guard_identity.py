"""Does the injection guard change what the model sees on papers with no injection?

For every question of the QA suite (the 60 sample abstracts) and of the whole-paper
suite (the 18 full-text PDFs, every split), the evidence `/ask` would show the model is
built twice, with the guard and with it switched off, and compared; so is the text every
sample paper's summary prompt shows (its sentences). Identical evidence and prompts mean identical
answers from the same model, so the guard cannot lose a right answer on these suites.
No LLM is needed (retrieval and evidence only).

    python -m evals.guard_identity
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evals.client import ROOT, SAMPLE
from service.answering import summary_service
from service.container import build_services
from service.core.config import Settings
from service.corpus.loader import parse_bytes
from service.evidence import select as evidence
from service.evidence.injection import DEFAULTS as INJECTION
from service.evidence.summary_evidence import summary_evidence
from service.retrieval.request_check import QueryKind

FULLTEXT = ROOT / "evals" / "data" / "fulltext"


@contextmanager
def guard_off() -> Iterator[None]:
    saved = evidence.instructions, getattr(summary_service, "instruction_sentences")  # noqa: B009
    setattr(evidence, "instructions", lambda *_: set())  # noqa: B010
    setattr(summary_service, "instruction_sentences", lambda _t, _e=None, _b=None: [])  # noqa: B010
    try:
        yield
    finally:
        setattr(evidence, "instructions", saved[0])  # noqa: B010
        setattr(summary_service, "instruction_sentences", saved[1])  # noqa: B010


def questions() -> list[str]:
    qa = [json.loads(line)["question"] for line in (ROOT / "evals" / "data" / "qa_questions.jsonl").open()]
    full = [
        json.loads(line)["question"]
        for f in sorted(FULLTEXT.glob("*.jsonl"))
        for line in f.open()
        if line.strip()
    ]
    return qa + full


def run() -> dict[str, Any]:
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="paperlens-guard-")), llm="none", _env_file=None
    )
    services = build_services(settings)
    services.ingest.ingest(parse_bytes(SAMPLE.name, SAMPLE.read_bytes()))
    for pdf in sorted((FULLTEXT / "pdfs").glob("*.pdf")):
        services.ingest.ingest(parse_bytes(pdf.name, pdf.read_bytes()))
    differ: list[str] = []
    asked = questions()
    for question in asked:
        query = services.check.query(QueryKind.QUESTION, question, settings.ask_k, None)
        on = services.ask.prepare(query).evidence.render()
        with guard_off():
            off = services.ask.prepare(query).evidence.render()
        if on != off:
            differ.append(question)
    papers = services.store.papers.page(0, services.store.papers.count())
    summary = services.summary

    def summary_sentences(paper: Any) -> str:
        # the service's own name for it (guard_off swaps it there)
        removed = getattr(summary_service, "instruction_sentences")(  # noqa: B009
            paper.body, summary.embedder.embed, INJECTION.whole_text_flag_score
        )
        return summary_evidence(
            summary.picker,
            summary.embedder,
            paper,
            summary.settings.summary.sentences_per_role,
            summary.settings.summary.paper_text_tokens,
            removed,
        ).render()

    summaries_differ = []
    for p in papers:
        if not p.blocks:
            on = summary_sentences(p)
            with guard_off():
                off = summary_sentences(p)
            if on != off:
                summaries_differ.append(p.id)
    return {
        "questions": len(asked),
        "evidence_differs": differ,
        "abstract_papers": sum(not p.blocks for p in papers),
        "summary_prompt_differs": summaries_differ,
    }


def main() -> None:
    print(json.dumps(run(), indent=1))


if __name__ == "__main__":
    main()
