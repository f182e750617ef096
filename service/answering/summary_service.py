"""GET /papers/{id}/summary: one plain-language paragraph, generated once and cached.

The LLM writes 3-5 sentences; code then drops sentences with numbers the paper does not
contain and checks that no run of more than 15 words is copied from the paper. A copy
gets one retry that names the copied phrase; what still copies is dropped. Only when
nothing is left does the extractive summary (quoted sentences, flagged degraded) stand in.
Sentences of the paper (and its title) that address a machine reader are not shown to
it, and a draft that still does what such a sentence asked is withheld by the Generator
and replaced by the extractive summary (degraded, so never cached): the paper is data,
not instructions (`grounding/injection.py`).
The result is cached in the store under (paper content, prompt version, model), so every
replica shares it and a repeat costs one lookup.
"""

from __future__ import annotations

import logging

from service.answering.accounting import Timings
from service.answering.answer_cache import ResultCache, cache_key
from service.answering.extractive import extractive_summary
from service.answering.generation import Generated, Generator, OnDelta
from service.answering.paper_text import story_text
from service.answering.prompts import load_prompt
from service.answering.voice import third_person
from service.components.embedding.embedder import Embedder
from service.components.llm.client import Messages
from service.components.sentences import split_sentences
from service.components.vector_store.paper_records import StoredPaper
from service.components.vector_store.paper_store import PaperStore
from service.core.config import Settings
from service.grounding.copying import longest_copied_run
from service.grounding.injection import WHOLE_TEXT_FLAG_SCORE, data_only, data_title, instruction_sentences
from service.grounding.numbers import unsupported_numbers
from service.grounding.similarity import cosine_matrix, support
from service.schemas import SummaryOut

log = logging.getLogger(__name__)

MAX_COPIED_WORDS = 15
# a summary sentence whose closest sentence of the paper (instructions left out) is further
# than this says something the paper does not: dropped. Honest one-line summaries (SciTLDR
# dev TLDRs against their abstracts) fall below it 0.4 % of the time; what injected papers
# asked for (the injection suites' dev halves) 43 % of the time, as whole replies; of the
# embedded model's own summaries of 50 SciTLDR papers (report 20261130-043659) 7 of 187
# sentences, each a vague analogy ("It's like when you tell your friend what kind of ice
# cream they want").
SUMMARY_SUPPORT = 0.3
PAPER_TEXT_TOKENS = 900  # of the paper shown to the model: an abstract fits; a long paper, its story


def clean_summary(summary: str, source: str) -> tuple[str, int]:
    """Drop sentences with invented numbers, then the sentences that carry any copied run
    longer than MAX_COPIED_WORDS (runs can span sentences); return (text, longest run)."""
    kept = [s for s in split_sentences(" ".join(summary.split())) if not unsupported_numbers(s, [source])][:5]
    while kept:
        run, phrase = longest_copied_run(" ".join(kept), source)
        if run <= MAX_COPIED_WORDS:
            break
        # drop the sentence holding most of the copied phrase
        worst = max(range(len(kept)), key=lambda i: longest_copied_run(kept[i], phrase)[0])
        kept.pop(worst)
    text = third_person(" ".join(kept))  # "the authors show", not the paper's "we show"
    return text, longest_copied_run(text, source)[0]


class SummaryService:
    def __init__(
        self, store: PaperStore, generator: Generator, settings: Settings, embedder: Embedder
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.generator = generator
        self.settings = settings
        self.prompt = load_prompt(settings.prompts_dir, "summary")
        self.cache = ResultCache(store.summaries, SummaryOut)

    def cache_key(self, paper: StoredPaper) -> str:
        return cache_key("summary", paper.content_hash, self.prompt.version, self.generator.model)

    def summary(self, paper_id: str, refresh: bool = False) -> SummaryOut:
        return self.summarise(self.store.papers.require(paper_id), refresh)

    def summarise(
        self, paper: StoredPaper, refresh: bool = False, on_delta: OnDelta | None = None
    ) -> SummaryOut:
        """The summary of `paper`; the model's first draft goes to `on_delta` as it is written."""
        return self.cache.run(
            self.cache_key(paper),
            lambda: self._generate(paper, on_delta),
            on_delta,
            owner=paper.id,
            refresh=refresh,
        )

    def _messages(self, paper: StoredPaper, extra: str = "") -> Messages:
        messages = self.prompt.render(
            title=data_title(paper.title), text=story_text(paper, PAPER_TEXT_TOKENS, self.embedder.embed)
        )
        if extra:
            messages[-1]["content"] += f"\n\n{extra}"
        return messages

    def _generate(self, paper: StoredPaper, on_delta: OnDelta | None) -> SummaryOut:
        timings = Timings()
        source = paper.body

        # the paper without its instructions: what the summary may rest on (a figure only an
        # instruction states is no support), and what the extractive summary quotes
        clean = data_only(source, self.embedder.embed, WHOLE_TEXT_FLAG_SCORE)

        def extractive() -> str:
            return extractive_summary(clean)

        limit = self.settings.summary_max_tokens
        sources = [paper.title, source]
        removed = instruction_sentences(source, self.embedder.embed, WHOLE_TEXT_FLAG_SCORE)
        draft = self.generator.generate(
            self._messages(paper),
            limit,
            timings,
            fallback=extractive,
            on_delta=on_delta,
            sources=sources,
            removed=removed,
        )
        if not draft.from_llm:
            return self._result(paper, draft, draft.text, timings)
        run, phrase = longest_copied_run(draft.text, source)
        if run > MAX_COPIED_WORDS:  # one retry that names the copied phrase
            hint = f'Your last attempt copied "{phrase}" from the paper. Rewrite it in your own simple words.'
            retry = self.generator.generate(
                self._messages(paper, hint),
                limit,
                timings,
                fallback=lambda: "",
                sources=sources,
                removed=removed,
            )
            draft.usage.add(retry.usage)
            if retry.from_llm:
                draft.text = retry.text
        text, _ = clean_summary(draft.text, clean)
        text = self._supported(text, clean)
        if draft.withheld:
            log.warning("summary of %s followed instructions inside the paper; not used", paper.id)
        if not text:  # nothing the checks could keep: quote the paper instead
            fallback = self.generator.fallback(extractive(), failed=True)
            fallback.usage = draft.usage
            return self._result(paper, fallback, fallback.text, timings)
        return self._result(paper, draft, text, timings)

    def _supported(self, summary: str, source: str) -> str:
        """`summary` without the sentences no sentence of `source` comes near (cosine)."""
        sentences, evidence = split_sentences(summary), split_sentences(source)
        if not sentences or not evidence:
            return summary
        cos = cosine_matrix(self.embedder.embed(sentences), self.embedder.embed(evidence))
        kept = [
            s
            for s, row in zip(sentences, cos, strict=True)
            if max(support(float(c), s, e) for c, e in zip(row, evidence, strict=True)) >= SUMMARY_SUPPORT
        ]
        return " ".join(kept)

    def _result(self, paper: StoredPaper, generated: Generated, text: str, timings: Timings) -> SummaryOut:
        return SummaryOut(
            paper_id=paper.id,
            title=paper.title,
            summary=text,
            cached=False,
            engine=generated.engine,
            degraded=generated.degraded,
            model=generated.model,
            prompt_version=self.prompt.version,
            usage=generated.usage,
            timings_ms=timings.as_dict(),
        )
