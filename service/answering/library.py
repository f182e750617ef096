"""Questions about the library: "Which papers here do X?", "What work uses Y?".

Such a question is answered with every paper that does X, not with one evidence block.
The papers search finds best for the question are the candidates
(`PAPERLENS_LIBRARY_CANDIDATES`); each is judged on its own sentences closest to the
question: the model is shown the question, the paper's title and those sentences, and
answers one token, yes or no, to the question rewritten (one short call first) as a
yes/no question about one paper ("Does this paper study offline RL?"). P(yes) ranks
the papers; those at or above
`PAPERLENS_LIBRARY_MIN_CONFIDENCE` are listed, best first, each cited by the sentence
that matched the question best. The question opens every judgement's prompt, so the
calls for one question share the start of their prompt (llama.cpp reuses it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.components.embedding.embedder import Vectors
from service.core.config import Settings
from service.evidence.injection import data_title
from service.evidence.select import Evidence, select_evidence
from service.generation.accounting import Timings, Usage
from service.generation.generate import Generator
from service.generation.prompts import load_prompt
from service.retrieval.retriever import HybridRetriever, Passage


@dataclass
class Match:
    paper_id: str
    title: str
    confidence: float
    evidence: list[Evidence]  # the paper's sentences closest to the question, best first


@dataclass
class LibraryResult:
    matches: list[Match]  # at or above the bar, best first
    judged: int  # candidate papers judged
    usage: Usage = field(default_factory=Usage.zero)
    failed: bool = False  # no judgement could be made (no LLM, or it failed)
    criterion: str = ""  # the question each paper was judged on


class LibraryReader:
    def __init__(self, retriever: HybridRetriever, generator: Generator, settings: Settings) -> None:
        self.retriever = retriever
        self.generator = generator
        self.settings = settings
        self.prompt = load_prompt(settings.prompts_dir, "library")
        self.criterion_prompt = load_prompt(settings.prompts_dir, "library_criterion")

    def criterion(self, question: str, timings: Timings, usage: Usage) -> str:
        """The library question as a yes/no question about one paper ("Does this paper
        study offline RL?"): the first line of the model's reply, the question itself when
        there is none (no LLM)."""
        generated = self.generator.generate(
            self.criterion_prompt.render(question=question),
            self.settings.library_criterion_tokens,
            timings,
            fallback=lambda: question,
        )
        usage.add(generated.usage)
        return generated.text.strip().split("\n", 1)[0].strip() or question

    def candidates(
        self, question: str, vector: Vectors, paper_ids: list[str] | None
    ) -> list[tuple[str, list[Passage]]]:
        """The best papers for the question by hybrid search, each with its passages found."""
        n = self.settings.library_candidates
        found = self.retriever.search_by_vector(question, vector, n * 3, paper_ids)
        by_paper: dict[str, list[Passage]] = {}
        for p in found:
            by_paper.setdefault(p.paper_id, []).append(p)
        return list(by_paper.items())[:n]

    def read(
        self, question: str, vector: Vectors, paper_ids: list[str] | None, timings: Timings
    ) -> LibraryResult:
        with timings.measure("retrieve"):
            candidates = self.candidates(question, vector, paper_ids)
        result = LibraryResult([], 0)
        if not candidates:
            return result
        criterion = self.criterion(question, timings, result.usage)
        result.criterion = criterion
        for paper_id, passages in candidates:
            with timings.measure("evidence"):
                evidence = select_evidence(
                    question,
                    passages,
                    self.retriever.embedder,
                    max_sentences=self.settings.library_sentences,
                    token_budget=self.settings.library_paper_tokens,
                    question_vector=vector,
                    tuning=self.settings.grounding,
                    per_paper_share=1.0,
                ).items
            if not evidence:
                continue
            evidence.sort(key=lambda e: -e.score)
            sentences = "\n".join(f"- {e.text}" for e in evidence)
            messages = self.prompt.render(
                question=criterion, title=data_title(evidence[0].title), sentences=sentences
            )
            judged = self.generator.judge(messages, ("yes", "no"), timings, label="library")
            if judged is None:
                result.failed = True
                break
            result.judged += 1
            result.usage.add(judged.usage)
            yes = round(judged.probabilities["yes"], 4)
            if yes >= self.settings.library_min_confidence:
                result.matches.append(Match(paper_id, evidence[0].title, yes, evidence))
        result.matches.sort(key=lambda m: -m.confidence)
        return result
