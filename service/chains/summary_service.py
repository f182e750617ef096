"""GET /papers/{id}/summary: one plain-language paragraph, generated once and cached.

The LLM writes 3-5 sentences; code then drops sentences with numbers the paper does not
contain and checks that no run of more than 15 words is copied from the paper. A copy
gets one retry that names the copied phrase; what still copies is dropped. Only when
nothing is left does the extractive summary (quoted sentences, flagged degraded) stand in. The result is
cached in the store under (paper content, prompt version, model), so every replica
shares it and a repeat costs one lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from service.chains.copying import longest_copied_run
from service.chains.cues import cue_hits
from service.chains.numbers import unsupported_numbers
from service.chains.prompts import load_prompt
from service.chains.usage import Timings, Usage
from service.components.llm.client import LLMUnavailable, Messages, StreamState
from service.components.llm.llm_handle import LLMHandle
from service.components.sentences import split_sentences
from service.components.tokens import encoding
from service.components.vector_store.paper_store import PaperStore, StoredPaper
from service.core.config import Settings
from service.core.errors import NotFound

MAX_COPIED_WORDS = 15
PAPER_TEXT_TOKENS = 900  # of the paper shown to the model (the abstract fits)


def clip_tokens(text: str, n: int) -> str:
    tokens = encoding().encode(text, disallowed_special=())
    return text if len(tokens) <= n else encoding().decode(tokens[:n])


def extractive_summary(body: str) -> str:
    """Three sentences of the paper: the problem, the key idea, the main result."""
    sentences = split_sentences(body)[:40]
    picked: list[str] = []
    for aspect in ("problem", "approach", "key result"):
        for s in sentences:
            if s not in picked and cue_hits(s, aspect):
                picked.append(s)
                break
    for s in sentences:  # pad from the start when cues are missing
        if len(picked) >= 3:
            break
        if s not in picked:
            picked.append(s)
    return " ".join(sorted(picked, key=sentences.index))


class SummaryService:
    def __init__(self, store: PaperStore, llm: LLMHandle, settings: Settings) -> None:
        self.store = store
        self.llm = llm
        self.settings = settings
        self.prompt = load_prompt(settings.prompts_dir, "summary")

    def _paper(self, paper_id: str) -> StoredPaper:
        paper = self.store.get_paper(paper_id)
        if paper is None:
            raise NotFound(f"no paper with id {paper_id!r}; GET /papers lists the ids")
        return paper

    def cache_key(self, paper: StoredPaper) -> str:
        raw = f"{paper.content_hash}|{self.prompt.version}|{self.llm.model}"
        return "summary-" + hashlib.sha256(raw.encode()).hexdigest()[:32]

    def _base(self, paper: StoredPaper) -> dict[str, Any]:
        return {"paper_id": paper.id, "title": paper.title, "prompt_version": self.prompt.version}

    def _source(self, paper: StoredPaper) -> str:
        return "\n\n".join(p for p in (paper.abstract, paper.text) if p)

    def _messages(self, paper: StoredPaper, extra: str = "") -> Messages:
        text = clip_tokens(self._source(paper), PAPER_TEXT_TOKENS)
        messages = self.prompt.render(title=paper.title, text=text)
        if extra:
            messages[-1]["content"] += f"\n\n{extra}"
        return messages

    @staticmethod
    def clean(summary: str, source: str) -> tuple[str, int]:
        """Drop sentences with invented numbers, then the sentences that carry any copied run
        longer than MAX_COPIED_WORDS (runs can span sentences); return (text, longest run)."""
        kept = [
            s for s in split_sentences(" ".join(summary.split())) if not unsupported_numbers(s, [source])
        ][:5]
        while kept:
            run, phrase = longest_copied_run(" ".join(kept), source)
            if run <= MAX_COPIED_WORDS:
                break
            # drop the sentence holding most of the copied phrase
            worst = max(range(len(kept)), key=lambda i: longest_copied_run(kept[i], phrase)[0])
            kept.pop(worst)
        text = " ".join(kept)
        return text, longest_copied_run(text, source)[0]

    def _finish(self, paper: StoredPaper, raw: str, usage: Usage, timings: Timings) -> dict[str, Any]:
        """Check the model's text, retrying once on a long copy; fall back if empty."""
        source = self._source(paper)
        run, phrase = longest_copied_run(raw, source)
        client = self.llm.client
        if run > MAX_COPIED_WORDS and client is not None:
            hint = f'Your last attempt copied "{phrase}" from the paper. Rewrite it in your own simple words.'
            try:
                with timings.measure("llm"):
                    retry = client.complete(self._messages(paper, hint), self.settings.summary_max_tokens)
                usage.add(retry)
                raw = retry.text
            except LLMUnavailable:
                pass
        text, _ = self.clean(raw, source)
        if not text:  # nothing the checks could keep: quote the paper instead
            return self._extractive(paper, usage, timings, degraded=True)
        return {
            **self._base(paper),
            "summary": text,
            "cached": False,
            "engine": "llm",
            "degraded": False,
            "model": self.llm.model,
            "usage": usage.as_dict(),
            "timings_ms": timings.as_dict(),
        }

    def _extractive(
        self, paper: StoredPaper, usage: Usage, timings: Timings, degraded: bool
    ) -> dict[str, Any]:
        return {
            **self._base(paper),
            "summary": extractive_summary(self._source(paper)),
            "cached": False,
            "engine": "extractive",
            "degraded": degraded,
            "model": "extractive",
            "usage": usage.as_dict(),
            "timings_ms": timings.as_dict(),
        }

    def _cached(self, paper: StoredPaper, refresh: bool, timings: Timings) -> dict[str, Any] | None:
        if refresh or self.llm.client is None:
            return None
        with timings.measure("cache"):
            hit = self.store.get_cached(self.cache_key(paper))
        if hit is None:
            return None
        return {**hit, "cached": True, "usage": Usage().as_dict(), "timings_ms": timings.as_dict()}

    def _store(self, paper: StoredPaper, result: dict[str, Any]) -> dict[str, Any]:
        if result["engine"] == "llm" and not result["degraded"]:
            keep = {k: v for k, v in result.items() if k not in ("cached", "usage", "timings_ms")}
            self.store.put_cached(self.cache_key(paper), paper.id, keep)
        return result

    def summary(self, paper_id: str, refresh: bool = False) -> dict[str, Any]:
        timings = Timings()
        paper = self._paper(paper_id)
        hit = self._cached(paper, refresh, timings)
        if hit is not None:
            return hit
        usage = Usage()
        client = self.llm.client
        if client is None:
            return self._extractive(paper, usage, timings, degraded=self.llm.wanted)
        try:
            with timings.measure("llm"):
                completion = client.complete(self._messages(paper), self.settings.summary_max_tokens)
        except LLMUnavailable:
            return self._extractive(paper, usage, timings, degraded=True)
        usage.add(completion)
        return self._store(paper, self._finish(paper, completion.text, usage, timings))

    def stream(self, paper_id: str, refresh: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
        timings = Timings()
        paper = self._paper(paper_id)
        return self._stream(paper, refresh, timings)

    def _stream(
        self, paper: StoredPaper, refresh: bool, timings: Timings
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        hit = self._cached(paper, refresh, timings)
        client = self.llm.client
        if hit is not None or client is None:
            result = hit or self._extractive(paper, Usage(), timings, degraded=self.llm.wanted)
            yield "delta", {"text": result["summary"]}
            yield "final", result
            return
        usage, state = Usage(), StreamState()
        try:
            with timings.measure("llm"):
                for piece in client.stream(self._messages(paper), self.settings.summary_max_tokens, state):
                    yield "delta", {"text": piece}
        except LLMUnavailable:
            yield "final", self._extractive(paper, usage, timings, degraded=True)
            return
        usage.add(state)
        yield "final", self._store(paper, self._finish(paper, state.text, usage, timings))
