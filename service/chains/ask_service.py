"""POST /ask: retrieve, select sentence-level evidence, one LLM call, check, cite.

The chain makes at most one LLM call per question. When retrieval finds nothing
relevant it abstains without calling the LLM; when the LLM fails after retries the
extractive engine answers and the response says `degraded`. A question asked again
while the store, prompt and model are unchanged is answered from `AnswerCache`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from service.chains.answer_cache import AnswerCache, CacheKey
from service.chains.attribution import CheckedText, check_text
from service.chains.evidence import EvidenceSet, select_evidence
from service.chains.extractive import extractive_answer
from service.chains.prompts import load_prompt
from service.chains.usage import Timings, Usage
from service.components.llm.client import LLMUnavailable, StreamState
from service.components.llm.llm_handle import LLMHandle
from service.components.tokens import count_tokens
from service.components.vector_store.paper_store import PaperStore
from service.core.config import Settings
from service.retrieval.request_check import check_search_request
from service.retrieval.retriever import HybridRetriever

ABSTAIN_TEXT = "The indexed papers do not answer this question."


@dataclass
class _Prepared:
    question: str
    evidence: EvidenceSet
    timings: Timings
    relevant: bool


class AskService:
    def __init__(
        self, retriever: HybridRetriever, store: PaperStore, llm: LLMHandle, settings: Settings
    ) -> None:
        self.retriever = retriever
        self.store = store
        self.llm = llm
        self.settings = settings
        self.prompt = load_prompt(settings.prompts_dir, "ask")
        self.cache = AnswerCache(settings.ask_cache_size)

    # --- shared steps ---------------------------------------------------------------
    def _check_request(
        self, question: str, paper_ids: Sequence[str] | None, k: int | None
    ) -> tuple[str, list[str] | None, int]:
        s = self.settings
        k = s.ask_k if k is None else k
        question, ids = check_search_request(
            self.store,
            question,
            k,
            s.max_k,
            paper_ids,
            field="question",
            max_chars=s.max_question_chars,
            empty_hint="ask something about the indexed papers",
        )
        return question, ids, k

    def _cache_key(self, question: str, ids: list[str] | None, k: int) -> CacheKey:
        model = self.llm.model if self.llm.client else "extractive"
        return AnswerCache.key(question, ids, k, self.store.generation(), self.prompt.version, model)

    def _from_cache(self, key: CacheKey) -> dict[str, Any] | None:
        timings = Timings()
        with timings.measure("cache"):
            hit = self.cache.get(key)
        if hit is None:
            return None
        return {**hit, "cached": True, "usage": Usage().as_dict(), "timings_ms": timings.as_dict()}

    def _prepare(self, question: str, ids: list[str] | None, k: int) -> _Prepared:
        s = self.settings
        timings = Timings()
        with timings.measure("retrieve"):
            question_vector = self.retriever.embedder.embed([question])[0]  # once, for both steps
            passages = self.retriever.search_by_vector(question, question_vector, k, ids)
        overhead = count_tokens(
            "\n".join(m["content"] for m in self.prompt.render(evidence="", question=question))
        )
        with timings.measure("evidence"):
            evidence = select_evidence(
                question,
                passages,
                self.retriever.embedder,
                max_sentences=s.ask_evidence_sentences,
                token_budget=max(0, s.ask_prompt_tokens - overhead - 16),
                question_vector=question_vector,
            )
        relevant = bool(evidence.items) and evidence.best_score >= s.relevance_threshold
        return _Prepared(question, evidence, timings, relevant)

    def _result(
        self,
        prep: _Prepared,
        checked: CheckedText | None,
        engine: str,
        degraded: bool,
        usage: Usage,
    ) -> dict[str, Any]:
        abstained = checked is None or checked.empty
        citations = (
            []
            if abstained or checked is None
            else [
                {"n": n, "paper_id": e.paper_id, "title": e.title, "chunk_id": e.chunk_id, "quote": e.text}
                for n, e in enumerate(checked.cited, start=1)
            ]
        )
        return {
            "answer": ABSTAIN_TEXT if abstained or checked is None else checked.text,
            "abstained": abstained,
            "citations": citations,
            "engine": engine,
            "degraded": degraded,
            "model": self.llm.model if engine == "llm" else "extractive",
            "prompt_version": self.prompt.version,
            "cached": False,
            "usage": usage.as_dict(),
            "timings_ms": prep.timings.as_dict(),
            "dropped": [
                {"sentence": d.sentence, "reason": d.reason} for d in (checked.dropped if checked else [])
            ],
        }

    def _check(self, prep: _Prepared, text: str) -> CheckedText:
        with prep.timings.measure("check"):
            return check_text(
                text, prep.evidence, self.retriever.embedder, self.settings.support_threshold, prep.question
            )

    def _extractive(self, prep: _Prepared, usage: Usage, degraded: bool) -> dict[str, Any]:
        checked = self._check(prep, extractive_answer(prep.evidence))
        return self._result(prep, checked, "extractive", degraded, usage)

    def _messages(self, prep: _Prepared) -> list[dict[str, str]]:
        return self.prompt.render(evidence=prep.evidence.render(), question=prep.question)

    # --- entry points -----------------------------------------------------------------
    def ask(
        self, question: str, paper_ids: Sequence[str] | None = None, k: int | None = None
    ) -> dict[str, Any]:
        question, ids, k = self._check_request(question, paper_ids, k)
        key = self._cache_key(question, ids, k)
        hit = self._from_cache(key)
        if hit is not None:
            return hit
        result = self._answer(self._prepare(question, ids, k))
        self.cache.put(key, result)
        return result

    def _answer(self, prep: _Prepared) -> dict[str, Any]:
        usage = Usage()
        client = self.llm.client
        if not prep.relevant:
            return self._result(prep, None, "llm" if client else "extractive", False, usage)
        if client is None:
            return self._extractive(prep, usage, degraded=self.llm.wanted)
        try:
            with prep.timings.measure("llm"):
                completion = client.complete(self._messages(prep), self.settings.ask_max_answer_tokens)
        except LLMUnavailable:
            return self._extractive(prep, usage, degraded=True)
        usage.add(completion)
        return self._result(prep, self._check(prep, completion.text), "llm", False, usage)

    def stream(
        self, question: str, paper_ids: Sequence[str] | None = None, k: int | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """("delta", {"text"}) events while the model writes, then one ("final", response).

        Validation happens before the first event, so bad input is still a plain 4xx.
        A cached answer comes as one delta and the final event.
        """
        question, ids, k = self._check_request(question, paper_ids, k)
        key = self._cache_key(question, ids, k)
        hit = self._from_cache(key)
        if hit is not None:
            return self._replay(hit)
        return self._stream_and_keep(key, self._prepare(question, ids, k))

    @staticmethod
    def _replay(result: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        if not result["abstained"]:
            yield "delta", {"text": result["answer"]}
        yield "final", result

    def _stream_and_keep(self, key: CacheKey, prep: _Prepared) -> Iterator[tuple[str, dict[str, Any]]]:
        for event, data in self._stream(prep):
            if event == "final":
                self.cache.put(key, data)
            yield event, data

    def _stream(self, prep: _Prepared) -> Iterator[tuple[str, dict[str, Any]]]:
        usage = Usage()
        client = self.llm.client
        if not prep.relevant or client is None:
            yield from self._replay(self._answer(prep))
            return
        state = StreamState()
        try:
            with prep.timings.measure("llm"):
                for piece in client.stream(self._messages(prep), self.settings.ask_max_answer_tokens, state):
                    yield "delta", {"text": piece}
        except LLMUnavailable:
            yield "final", self._extractive(prep, usage, degraded=True)
            return
        usage.add(state)
        yield "final", self._result(prep, self._check(prep, state.text), "llm", False, usage)
