"""GET /papers/{id}/summary: a summary grounded like an answer, generated once per option
and cached.

1. The paper's best sentences for each role (problem, what it does, how it is tested,
   the main result with its number, a limitation) are picked by the literature matrix's
   ranker over the whole paper (`summary_evidence.py`), so a full paper's results and
   conclusion are in reach, not only its abstract.
2. One LLM call writes the paragraph (`prompts/summary.md`) or the one-sentence TLDR
   (`prompts/summary_tldr.md`) from them, for a reader outside the field
   (`audience=general`: technical names kept and explained in a few words) or in it
   (`expert`). A sentence that copies the paper stays: it is as true as the paper, and
   dropping copies (or a retry asking for other words) cost the blind dev summaries a
   third of their facts (evals/reports/*-summary-facts-dev-without-copy_check.md).
3. Every sentence is checked like an answer, by the same code
   (`checks.attribution.check_text`): it must rest on the numbered sentences, its
   numbers in them; then length (`summary_checks.py`). What goes is reported in
   `dropped` with its reason; each kept sentence lists the sources it rests on (page and
   section for a PDF).
4. Nothing left, no LLM, or a draft that did what an instruction inside the paper asked
   (withheld by the Generator): the summary quotes the paper's best sentences instead
   (engine extractive; degraded when an LLM was wanted, so never cached). Sentences that
   address a machine reader are never shown to the model nor quoted.

The result is cached in the store under (paper content, prompt version, model, audience,
length), so every replica shares it and a repeat costs one lookup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from service.answering.answer_cache import ResultCache, cache_key
from service.answering.results import Citation, Summary, SummarySentence
from service.answering.summary_result import ResultSentence
from service.checks.attribution import check_text
from service.checks.summary_checks import (
    Said,
    count_words,
    fit_length,
    said_sentences,
)
from service.checks.voice import third_person
from service.components.embedding.embedder import Embedder
from service.components.llm.client import Messages
from service.components.vector_store.paper_records import StoredPaper
from service.components.vector_store.paper_store import PaperStore
from service.core.config import Settings
from service.core.reasons import DroppedSentence
from service.evidence.injection import data_only, data_title, instruction_sentences
from service.evidence.matrix_sentences import SentencePicker
from service.evidence.summary_evidence import EXTRACTIVE_ROLES, TLDR_ROLES, SummaryEvidence, summary_evidence
from service.generation.accounting import Timings
from service.generation.extractive import extractive_summary
from service.generation.generate import Generated, Generator, OnDelta
from service.generation.prompts import load_prompt
from service.schemas import SummaryAudience, SummaryLength

log = logging.getLogger(__name__)

# who the summary is for: (the reader, the rule the prompt adds)
AUDIENCES: dict[SummaryAudience, tuple[str, str]] = {
    "general": (
        "an educated reader outside the paper's field, such as a science journalist or a researcher "
        "from another field",
        "Explain each technical name in a few plain words the first time it appears (for example "
        '"TinyNet, a small image-recognition network"), but never replace a name with vague words '
        'such as "things" or "a special kind of math".',
    ),
    "expert": (
        "a researcher in the paper's field",
        "Use the field's terms without explaining them; be specific about the method, the setting "
        "and the numbers.",
    ),
}
PROMPTS: dict[SummaryLength, str] = {"paragraph": "summary", "tldr": "summary_tldr"}


@dataclass(frozen=True)
class SummaryOptions:
    audience: SummaryAudience = "general"
    length: SummaryLength = "paragraph"


class SummaryService:
    def __init__(
        self,
        store: PaperStore,
        generator: Generator,
        settings: Settings,
        embedder: Embedder,
        picker: SentencePicker,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.generator = generator
        self.settings = settings
        self.picker = picker
        self.prompts = {length: load_prompt(settings.prompts_dir, name) for length, name in PROMPTS.items()}
        self.cache = ResultCache(store.summaries, Summary)
        self.result = ResultSentence(generator, settings, embedder)

    def cache_key(self, paper: StoredPaper, options: SummaryOptions) -> str:
        prompt = self.prompts[options.length]
        reader = AUDIENCES[options.audience]
        result = self.result.prompt.version if self.settings.summary.result_sentence else "-"
        return cache_key(
            "summary",
            paper.content_hash,
            prompt.version,
            result,
            self.generator.model,
            options.length,
            reader,
        )

    def summary(self, paper_id: str, refresh: bool = False, options: SummaryOptions | None = None) -> Summary:
        return self.summarise(self.store.papers.require(paper_id), refresh, options=options)

    def summarise(
        self,
        paper: StoredPaper,
        refresh: bool = False,
        on_delta: OnDelta | None = None,
        options: SummaryOptions | None = None,
    ) -> Summary:
        """The summary of `paper`; the model's first draft goes to `on_delta` as it is written."""
        options = options or SummaryOptions()
        return self.cache.run(
            self.cache_key(paper, options),
            lambda: self._generate(paper, options, on_delta),
            on_delta,
            owner=paper.id,
            refresh=refresh,
        )

    def _messages(self, paper: StoredPaper, picked: SummaryEvidence, options: SummaryOptions) -> Messages:
        reader, rule = AUDIENCES[options.audience]
        return self.prompts[options.length].render(
            audience=reader, audience_rule=rule, title=data_title(paper.title), sentences=picked.render()
        )

    def _generate(
        self, paper: StoredPaper, options: SummaryOptions, on_delta: OnDelta | None, again: bool = True
    ) -> Summary:
        timings = Timings()
        source = paper.body
        # the paper is data: what addresses a machine reader is never shown, at the bar of a
        # text shown whole; a draft that does what it asked is withheld (the Generator)
        bars = self.settings.grounding.injection
        removed = instruction_sentences(source, self.embedder.embed, bars.whole_text_flag_score, bars)
        with timings.measure("sentences"):
            picked = summary_evidence(
                self.picker,
                self.embedder,
                paper,
                self.settings.summary.sentences_per_role,
                self.settings.summary.paper_text_tokens,
                removed,
            )
        if not picked.items:  # nothing to show the model (every passage read as an instruction)
            quoted = self.generator.fallback(
                extractive_summary(data_only(source, self.embedder.embed, bars.whole_text_flag_score, bars))
            )
            return self._result(
                paper, options, quoted, [Said(quoted.text, [])] if quoted.text else [], [], timings
            )

        tldr_limit = self.settings.summary.tldr_max_tokens
        limit = self.settings.summary_max_tokens if options.length == "paragraph" else tldr_limit
        sources = [paper.title, source]
        draft = self.generator.generate(
            self._messages(paper, picked, options),
            limit,
            timings,
            fallback=lambda: "",
            on_delta=on_delta,
            sources=sources,
            removed=removed,
        )
        if draft.steering and again:  # the lines that steered the model are now left out: write again
            summary = self._generate(paper, options, on_delta, again=False)
            summary.usage.add(draft.usage)  # the probes that found them count too
            return summary
        if not draft.from_llm:
            return self._quoted(paper, options, picked, draft, timings)
        if draft.withheld:
            log.warning("summary of %s followed instructions inside the paper; not used", paper.id)
        with timings.measure("check"):
            checked = check_text(
                draft.text,
                picked.evidence,
                self.embedder,
                tuning=self.settings.grounding,
            )
            written = said_sentences(checked)
            kept = [Said(third_person(s.text), s.sources) for s in written]  # "the authors show", not "we"
            tuning = self.settings.summary
        wrote = len(written) + len(checked.dropped)  # sentences the model wrote, for the length note
        found = (
            self.result.missing(picked, kept)
            if options.length == "paragraph" and tuning.result_sentence
            else []
        )
        if kept and found:  # the main result's numbers were left out: the model restates it
            said = self.result.write(
                data_title(paper.title),
                AUDIENCES[options.audience][0],
                picked,
                found,
                timings,
                draft.usage,
                sources,
                removed,
                checked.dropped,
            )
            wrote += 1
            if said is not None:
                kept.insert(len(kept) - 1 if len(kept) >= 3 else len(kept), said)
        with timings.measure("check"):
            kept, cut, note = fit_length(kept, options.length, wrote, tuning)
        dropped = [
            DroppedSentence(sentence=d.sentence, code=d.code, reason=d.reason) for d in checked.dropped
        ] + cut
        if not kept:  # nothing the checks could keep: quote the paper instead
            failed = self.generator.fallback("", failed=True)
            failed.usage = draft.usage
            return self._quoted(paper, options, picked, failed, timings, dropped)
        return self._result(paper, options, draft, kept, dropped, timings, note)

    def _quoted(
        self,
        paper: StoredPaper,
        options: SummaryOptions,
        picked: SummaryEvidence,
        generated: Generated,
        timings: Timings,
        dropped: list[DroppedSentence] | None = None,
    ) -> Summary:
        """The paper's own best sentences: one each for the problem, the method and the
        result (a TLDR: the method's, else the result's), exact quotes with their sources."""
        tuning = self.settings.summary
        paragraph = options.length == "paragraph"
        roles = EXTRACTIVE_ROLES if paragraph else TLDR_ROLES
        most = tuning.quoted_paragraph_sentences if paragraph else tuning.quoted_tldr_sentences
        chosen = picked.quoted(roles, most)
        said = [Said(picked.items[i].text, [picked.items[i]]) for i in chosen]
        return self._result(paper, options, generated, said, dropped or [], timings)

    def _result(
        self,
        paper: StoredPaper,
        options: SummaryOptions,
        generated: Generated,
        said: list[Said],
        dropped: list[DroppedSentence],
        timings: Timings,
        note: str | None = None,
    ) -> Summary:
        order: dict[int, int] = {}  # id of a source sentence -> its n, in order of first use
        cited = []
        for s in said:
            for e in s.sources:
                if id(e) not in order:
                    order[id(e)] = len(order) + 1
                    cited.append(e)
        text = " ".join(s.text for s in said)
        return Summary(
            paper_id=paper.id,
            title=paper.title,
            summary=text,
            cached=False,
            audience=options.audience,
            length=options.length,
            sentences=[SummarySentence(text=s.text, sources=[order[id(e)] for e in s.sources]) for s in said],
            sources=[
                Citation(
                    n=n,
                    paper_id=e.paper_id,
                    title=e.title,
                    chunk_id=e.chunk_id,
                    quote=e.text,
                    page=e.page,
                    section=e.section,
                )
                for n, e in enumerate(cited, start=1)
            ],
            dropped=dropped,
            words=count_words(text),
            length_note=note,
            engine=generated.engine,
            degraded=generated.degraded,
            model=generated.model,
            prompt_version=self.prompts[options.length].version,
            usage=generated.usage,
            timings_ms=timings.as_dict(),
        )
