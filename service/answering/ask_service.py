"""POST /ask: retrieve, select sentence-level evidence, one LLM call, check, verify, cite.

The chain makes one answering call per question (and a verifier's one-token judgement);
a question about several papers is answered one paper at a time, a question about the
library by judging each candidate paper (docs/answering.md). When retrieval finds nothing
relevant it abstains without calling the LLM; when the LLM fails after retries the
extractive engine answers and the response says `degraded`. A question asked again
while the store, prompt and model are unchanged is answered from the answer cache.

The question's form (`question_plan`) shapes the call and the checked text
(`ask_rules`): a yes/no answer leads with its verdict word, and every answer is
rewritten in the third person.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from service.answering.answer_cache import MemoryBackend, ResultCache, cache_key
from service.answering.library import LibraryReader, LibraryResult
from service.answering.results import Answer, Citation, PaperMatch
from service.checks.ask_rules import (
    NOT_SAID,
    recite_to_added_words,
    split_verdict,
    yes_no_answer,
)
from service.checks.attribution import CheckedText, Dropped, check_text
from service.checks.markers import shift_markers
from service.checks.question_fit import complete_comparison, rebind_number, unanswered
from service.checks.verifier import Verdict, open_verifier
from service.checks.voice import third_person
from service.components.embedding.embedder import Vectors
from service.components.tokens import count_tokens
from service.components.vector_store.paper_store import PaperStore
from service.core.config import Settings
from service.core.reasons import DroppedSentence, DropReason
from service.core.sentinels import ABSTAIN_TEXT
from service.corpus.names import title_head
from service.evidence.select import (
    EvidenceSet,
    merge_evidence,
    select_evidence,
)
from service.generation.accounting import Timings, Usage
from service.generation.extractive import extractive_answer
from service.generation.generate import Generated, Generator, OnDelta
from service.generation.prompts import load_prompt
from service.question.followup import FollowUps, Turn
from service.question.paper_picker import PaperPicker
from service.question.question_plan import Form, PaperNames, QuestionPlan, plan_question
from service.retrieval.request_check import CheckedQuery, QueryKind, RequestCheck
from service.retrieval.retriever import HybridRetriever, Passage
from service.schemas import AskIn


@dataclass
class Prepared:
    query: CheckedQuery
    plan: QuestionPlan
    evidence: EvidenceSet
    timings: Timings
    relevant: bool
    named: list[str]  # the papers a several-paper question names, within the caller's papers
    sources: list[str]  # the retrieved passages and their titles, as stored: what an injection hides in
    vector: Vectors  # the question's embedding
    focus: str = ""  # the one paper a part of a several-paper answer is about (its name)
    others: tuple[str, ...] = ()  # the names of the papers its other parts answer for


class AskService:
    def __init__(
        self,
        retriever: HybridRetriever,
        store: PaperStore,
        generator: Generator,
        check: RequestCheck,
        settings: Settings,
    ) -> None:
        self.retriever = retriever
        self.store = store
        self.generator = generator
        self.request_check = check
        self.settings = settings
        self.prompt = load_prompt(settings.prompts_dir, "ask")
        self.each_prompt = load_prompt(settings.prompts_dir, "each_question")
        self.verifier = open_verifier(generator, settings, retriever.embedder)
        self.library = LibraryReader(retriever, generator, settings)
        self.picker = PaperPicker(generator, settings)
        self.memory = MemoryBackend(settings.ask_cache_size)
        self.cache = ResultCache(self.memory, Answer)
        self._names: tuple[str, PaperNames, FollowUps] | None = None

    def _catalogue(self) -> tuple[str, PaperNames, FollowUps]:
        generation = self.store.generation.current()
        if self._names is None or self._names[0] != generation:
            papers = self.store.papers.page(0, max(1, self.store.papers.count()))
            names = PaperNames(papers)
            short = {p.id: (names.of(p.id) or (title_head(p.title) or p.title[:60],))[0] for p in papers}
            followups = FollowUps(names, {p.title: p.id for p in papers}, short, self.settings.question)
            self._names = (generation, names, followups)
        return self._names

    def paper_names(self) -> PaperNames:
        """The names papers go by ("CARP", "PROPS"), rebuilt when the store changes."""
        return self._catalogue()[1]

    def check(self, request: AskIn) -> CheckedQuery:
        """Validate before any work (a streaming caller still gets a plain 4xx); a follow-up
        becomes the standalone question it stands for, about the papers it leans on."""
        query = self.request_check.query(QueryKind.QUESTION, request.question, request.k, request.paper_ids)
        query = replace(query, min_confidence=request.min_confidence)
        if not request.history:
            return query
        turns = [Turn(t.role, t.content) for t in request.history]
        standalone = self._catalogue()[2].standalone(query.text, turns)
        scope = query.paper_ids
        if standalone.paper_ids and standalone.rewritten:
            scope = [p for p in standalone.paper_ids if not scope or p in scope] or scope
        return replace(query, text=standalone.question, paper_ids=scope)

    def ask(self, request: AskIn) -> Answer:
        return self.answer(self.check(request))

    def answer(self, query: CheckedQuery, on_delta: OnDelta | None = None) -> Answer:
        """The checked answer; the model's text goes to `on_delta` as it is written."""
        key = cache_key(
            "ask",
            query.text,
            sorted(query.paper_ids or ()),
            query.k,
            self.store.generation.current(),
            self.prompt.version,
            self.each_prompt.version,
            self.picker.prompt.version,
            self.generator.model,
            self.verifier.name,
            self._bar(query),
        )
        return self.cache.run(key, lambda: self._admitted(query, on_delta), on_delta)

    def _admitted(self, query: CheckedQuery, on_delta: OnDelta | None) -> Answer:
        with self.generator.admission():  # a full LLM queue: 503 now, not after retrieval
            return self._answer(self.prepare(query), on_delta)

    def prepare(self, query: CheckedQuery) -> Prepared:
        """Retrieval and sentence-level evidence for a checked question (no LLM call)."""
        s = self.settings
        tune = s.grounding
        timings = Timings()
        names = self.paper_names()
        plan = plan_question(query.text, names)
        # a question about named papers looks in each of them (within the caller's papers)
        named = self._named_in(plan, query)
        with timings.measure("retrieve"):
            question_vector = self.retriever.embedder.embed([query.text])[0]  # once, for both steps
            groups = [
                self.retriever.search_by_vector(query.text, question_vector, max(2, query.k // 2), [pid])
                for pid in named
            ]
            if len(named) < 2:  # papers the question describes without naming them
                found = self.retriever.search_by_vector(query.text, question_vector, query.k, query.paper_ids)
                groups.append(found + self._deeper(query, question_vector, found))
        overhead = count_tokens(
            "\n".join(m["content"] for m in self.prompt.render(evidence="", question=query.text))
        )
        budget = max(0, s.ask_prompt_tokens - overhead - 16)
        with timings.measure("evidence"):
            # each named paper gets its share of the sentences and of the token budget
            evidence = merge_evidence(
                [
                    select_evidence(
                        query.text,
                        passages,
                        self.retriever.embedder,
                        max_sentences=max(2, s.ask_evidence_sentences // len(groups)),
                        token_budget=budget // len(groups),
                        question_vector=question_vector,
                        tuning=tune,
                        per_paper_share=tune.multi_paper_share if plan.multi else tune.per_paper_share,
                    )
                    for passages in groups
                ]
            )
        for e in evidence.items:
            e.aliases = names.of(e.paper_id)
        relevant = bool(evidence.items) and evidence.best_score >= s.relevance_threshold
        sources = list(dict.fromkeys(t for group in groups for p in group for t in (p.title, p.text)))
        return Prepared(query, plan, evidence, timings, relevant, named, sources, question_vector)

    def _deeper(self, query: CheckedQuery, vector: Vectors, found: list[Passage]) -> list[Passage]:
        """More passages of the paper that matches best, beyond the per-paper cap that keeps the
        first list diverse: the best by hybrid search (`ask_top_paper_passages`), then those
        holding its best-matching single sentences (`ask_sentence_passages`)."""
        extra, by_sentence = self.settings.ask_top_paper_passages, self.settings.ask_sentence_passages
        if not found or not (extra or by_sentence):
            return []
        top = found[0].paper_id
        have = {p.chunk_id for p in found}
        deeper: list[Passage] = []
        if extra:
            within = self.retriever.search_by_vector(
                query.text, vector, sum(p.paper_id == top for p in found) + extra, [top]
            )
            deeper = [p for p in within if p.chunk_id not in have][:extra]
            have |= {p.chunk_id for p in deeper}
        return deeper + self.retriever.sentence_matches(query.text, top, by_sentence, have)

    @staticmethod
    def _named_in(plan: QuestionPlan, query: CheckedQuery) -> list[str]:
        """The papers a several-paper question names, within the caller's papers."""
        if not plan.multi:
            return []
        return [p for p in plan.named if not query.paper_ids or p in query.paper_ids]

    def _answer(self, prep: Prepared, on_delta: OnDelta | None, again: bool = True) -> Answer:
        # nothing to ground an answer on: abstain without a call (a paper the question names is
        # related by being named: its part is asked, and the checks and the verifier judge it)
        if not (prep.relevant or (prep.focus and prep.evidence.items)):
            return self._result(prep, None, self.generator.no_call())
        picking = Usage.zero()
        if self.generator.available and (each := self._each_of(prep, picking)):
            return self._per_paper(prep, each, on_delta, picking)
        if prep.plan.form is Form.LIBRARY and self.generator.available:
            listed = self.library.read(prep.query.text, prep.vector, prep.query.paper_ids, prep.timings)
            if not listed.failed:
                return self._listed(prep, listed, on_delta)
        plan = prep.plan
        generated = self.generator.generate(
            self.prompt.render(evidence=prep.evidence.render(), question=self._asked(prep)),
            self.settings.ask_max_answer_tokens,
            prep.timings,
            fallback=lambda: extractive_answer(prep.evidence, self.settings.extractive),
            on_delta=on_delta,
            sources=prep.sources,
            question=prep.query.text,
        )
        generated.usage.add(picking)  # choosing the papers it describes, when that found fewer than two
        if generated.steering and again:  # the lines that steered the model are now left out: ask again
            again_prep = replace(self.prepare(prep.query), focus=prep.focus, others=prep.others)
            answer = self._answer(again_prep, on_delta, again=False)
            answer.usage.add(generated.usage)  # the probes that found them count too
            return answer
        with prep.timings.measure("check"):
            word, text = None, generated.text
            if plan.form is Form.YES_NO:  # the verdict word is code's to decide, not the model's
                word, text = split_verdict(text)
            checked = check_text(
                text,
                prep.evidence,
                self.retriever.embedder,
                prep.query.text,
                self.settings.grounding,
            )
            if plan.form is Form.YES_NO:
                checked = yes_no_answer(checked, word)
            if not checked.empty:
                checked = self._fit(prep, checked)
            if not checked.empty:
                checked.text = third_person(checked.text)
        if generated.withheld:  # it did what an instruction inside a paper asked: not an answer
            checked.dropped.append(Dropped(generated.withheld, DropReason.INSTRUCTION))
        verdict = None
        if not checked.empty and generated.from_llm:
            checked, verdict = self._verified(prep, checked, generated)
        return self._result(prep, checked, generated, verdict)

    @staticmethod
    def _asked(prep: Prepared) -> str:
        """The question as the model reads it: a part of a several-paper answer says which paper."""
        if not prep.focus:
            return prep.query.text
        return f"{prep.query.text}\nAnswer this for {prep.focus} only."

    def _each_of(self, prep: Prepared, usage: Usage) -> list[str]:
        """The papers a several-paper question is answered for one by one: those it names;
        else the caller's papers when it asks about 'each' or 'both' of them; else those
        among the papers search finds that the model says it describes (`paper_picker`)."""
        cap = self.settings.ask_each_papers
        if prep.focus or prep.plan.form is not Form.OPEN or not cap:
            return []
        papers = prep.named if len(prep.named) > 1 else []
        if not papers and prep.plan.several and prep.query.paper_ids:
            papers = list(dict.fromkeys(prep.query.paper_ids))
        elif not papers and prep.plan.several and self.settings.each_candidates:
            papers = self._described(prep, usage)
        return papers if 1 < len(papers) <= cap else []

    def _described(self, prep: Prepared, usage: Usage) -> list[str]:
        """The papers the question describes, chosen by the model among the best by search."""
        n = self.settings.each_candidates
        found = self.retriever.search_by_vector(prep.query.text, prep.vector, n * 3)
        ids = list(dict.fromkeys([*prep.named, *(p.paper_id for p in found)]))[:n]
        titles = {p.paper_id: p.title for p in found}
        shown = []
        for pid in ids:
            title = titles.get(pid) or (paper.title if (paper := self.store.papers.get(pid)) else pid)
            shown.append((pid, self._shown_title(pid, title)))
        return self.picker.pick(prep.query.text, shown, prep.timings, usage)

    def _shown_title(self, paper_id: str, title: str) -> str:
        """A paper as a list shows it: its title, led by the name the catalogue calls it when
        the title does not start with that name ("CARP: Visuomotor Policy ...")."""
        name = self._catalogue()[2].short_names.get(paper_id, "")
        return title if not name or title.startswith(name) else f"{name}: {title}"

    def _per_paper(self, prep: Prepared, papers: list[str], on_delta: OnDelta | None, usage: Usage) -> Answer:
        """One checked, cited line per paper, each answered from that paper's own evidence
        (pooled evidence lets a small model answer for one paper and drop the rest)."""
        _, names, followups = self._catalogue()
        lines: list[str] = []
        citations: list[Citation] = []
        dropped: list[DroppedSentence] = []
        scores: list[float] = []
        degraded = False
        called = {pid: (followups.short_names.get(pid) or pid, *names.of(pid)) for pid in papers}
        one = self._about_one(prep, usage)
        for pid in papers:
            name = called[pid][0]
            others = tuple(n for other, said in called.items() if other != pid for n in said)
            sub = replace(self.prepare(replace(one, paper_ids=[pid])), focus=name, others=others)
            part = self._answer(sub, None)
            usage.add(part.usage)
            degraded |= part.degraded
            prep.timings.absorb(part.timings_ms)
            dropped += part.dropped
            if part.abstained:
                lines.append(f"- {name}: its passages found do not say.")
                continue
            offset = len(citations)
            text = shift_markers(part.answer, offset)
            lines.append(f"- {name}: {text}")
            citations += [c.model_copy(update={"n": c.n + offset}) for c in part.citations]
            if part.confidence is not None:
                scores.append(part.confidence)
        text = "\n".join(lines) if citations else ABSTAIN_TEXT
        if on_delta is not None and citations:
            on_delta(text)
        return Answer(
            question=prep.query.text,
            answer=text,
            abstained=not citations,
            confidence=min(scores) if scores else None,
            citations=citations,
            engine="llm",
            degraded=degraded,
            model=self.generator.model,
            prompt_version=self.prompt.version,
            cached=False,
            usage=usage,
            timings_ms=prep.timings.as_dict(),
            dropped=dropped,
        )

    def _about_one(self, prep: Prepared, usage: Usage) -> CheckedQuery:
        """The question as one about a single paper ("How does the paper ...?"), for each
        paper's part: one short call; the question itself when the model gives nothing."""
        generated = self.generator.generate(
            self.each_prompt.render(question=prep.query.text),
            self.settings.library_criterion_tokens,
            prep.timings,
            fallback=lambda: prep.query.text,
        )
        usage.add(generated.usage)
        line = generated.text.strip().split("\n", 1)[0].strip()
        return replace(prep.query, text=line) if line.endswith("?") else prep.query

    def _listed(self, prep: Prepared, listed: LibraryResult, on_delta: OnDelta | None) -> Answer:
        """A library question's answer: the papers that match, best first, each cited."""
        generated = Generated("", "llm", False, self.generator.model, listed.usage)
        if not listed.matches:
            reason = f"none of the {listed.judged} papers search found for it"
            dropped = Dropped(prep.query.text, DropReason.NO_MATCHING_PAPER, reason)
            return self._result(prep, CheckedText("", [], [dropped]), generated)
        lines = [
            f"{n}. {self._shown_title(m.paper_id, m.title)} [{n}]" for n, m in enumerate(listed.matches, 1)
        ]
        count = len(listed.matches)
        head = f"{count} of the {listed.judged} papers closest to the question match it, best first:"
        text = "\n".join([head, *lines])
        if on_delta is not None:
            on_delta(text)
        out = self._result(prep, CheckedText(text, [m.evidence[0] for m in listed.matches]), generated)
        out.papers = [
            PaperMatch(paper_id=m.paper_id, title=m.title, n=n, confidence=m.confidence)
            for n, m in enumerate(listed.matches, start=1)
        ]
        return out

    def _bar(self, query: CheckedQuery) -> float:
        bar = query.min_confidence
        return self.settings.answer_min_confidence if bar is None else bar

    def _verified(
        self, prep: Prepared, checked: CheckedText, generated: Generated
    ) -> tuple[CheckedText, Verdict | None]:
        """The verifier's confidence in the checked answer; below the bar it is declined."""
        items = prep.evidence.items
        evidence = [f"({e.label()}) {e.text}" for e in items]  # the name an answer may give
        cited = [items.index(e) for e in checked.cited if e in items]
        verdict = self.verifier.judge(prep.query.text, checked.text, evidence, cited, prep.timings)
        if verdict is None:
            return checked, None
        generated.usage.add(verdict.usage)
        bar = self._bar(prep.query)
        if verdict.score < bar:
            reason = f"{verdict.reason} (confidence {verdict.score:.2f} < {bar:.2f})"
            return CheckedText(
                "", [], [*checked.dropped, Dropped(checked.text, DropReason.LOW_CONFIDENCE, reason)]
            ), verdict
        return checked, verdict

    def _fit(self, prep: Prepared, checked: CheckedText) -> CheckedText:
        """`checked` when it answers what was asked (its number rebound to the question's
        condition, a comparison's other side added), else empty with the reason dropped."""
        question = prep.query.text
        cited_papers = {e.paper_id for e in checked.cited}
        context = [e.text for e in prep.evidence.items if e.paper_id in cited_papers]
        names = [f"{e.title} {' '.join(e.aliases)}" for e in checked.cited]
        context += [*names, *prep.others]  # a part need not name the papers other parts answer for
        # a whole paper names its setting (a strain, a cell line) far from the cited sentence
        context += [p.body for pid in sorted(cited_papers) if (p := self.store.papers.get(pid))]
        checked = recite_to_added_words(
            question, checked, prep.evidence, self.settings.grounding.recite_share
        )
        quotes = [e.text for e in checked.cited]
        text = rebind_number(question, checked.text, quotes) or checked.text
        text = complete_comparison(question, text, quotes) or text
        reason = unanswered(question, text, quotes, context, names, self.settings.grounding)
        if reason is not None:  # true sentences, but not the answer: say so instead
            return CheckedText("", [], [*checked.dropped, Dropped(text, DropReason.NOT_THE_ANSWER, reason)])
        return CheckedText(text, checked.cited, checked.dropped)

    def _result(
        self,
        prep: Prepared,
        checked: CheckedText | None,
        generated: Generated,
        verdict: Verdict | None = None,
    ) -> Answer:
        abstained = checked is None or checked.empty
        cited = [] if checked is None or abstained else checked.cited
        refusal = NOT_SAID if prep.plan.form is Form.YES_NO else ABSTAIN_TEXT
        return Answer(
            question=prep.query.text,
            answer=refusal if checked is None or abstained else checked.text,
            abstained=abstained,
            confidence=verdict.score if verdict is not None else None,
            citations=[
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
            engine=generated.engine,
            degraded=generated.degraded,
            model=generated.model,
            prompt_version=self.prompt.version,
            cached=False,
            usage=generated.usage,
            timings_ms=prep.timings.as_dict(),
            dropped=[
                DroppedSentence(sentence=d.sentence, code=d.code, reason=d.reason)
                for d in (checked.dropped if checked else [])
            ],
        )
