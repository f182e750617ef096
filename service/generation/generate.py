"""The one generation step: every LLM call of ask, summary and compare goes through here.

`Generator.generate(messages, max_tokens, timings, on_delta=None, fallback=...)` owns
what each service used to write for itself: the call (always a stream; without
`on_delta` the stream is drained), usage accounting, timing, and the fallback when there
is no LLM or its retries ran out (the fallback text is returned with `engine="extractive"`
and `degraded` set when an LLM was wanted). A reply the model ended at `max_tokens`
loses its unfinished last sentence (streamed deltas showed it; the final text does not).
Callers read `Generated` and never catch `LLMUnavailable` themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from service.components.llm.client import LLMUnavailable, Messages, StreamState
from service.components.llm.gate import LLMBusy, LLMGate
from service.components.llm.llm_handle import LLMHandle
from service.components.sentences import complete_sentences
from service.core.config import InjectionSettings
from service.core.errors import NotReady
from service.evidence.injection import InjectionGuard, learn
from service.generation.accounting import Timings, Usage
from service.generation.probe import Probe, shown_lines

busy_fallback: ContextVar[bool] = ContextVar("busy_fallback", default=False)
"""Set per request (header `X-On-Busy: degraded`): a full LLM queue gives the extractive
answer flagged degraded instead of a 503."""

OnDelta = Callable[[str], None]
"""Receives the model's text as it is written (streaming responses)."""

EXTRACTIVE = "extractive"

log = logging.getLogger(__name__)


@dataclass
class Generated:
    text: str
    engine: str  # "llm" or "extractive"
    degraded: bool  # an LLM was wanted, and the text did not come from it
    model: str
    usage: Usage = field(default_factory=Usage.zero)
    withheld: str = ""  # the model's text, when it did what an instruction inside a paper asked
    error: str = ""  # why the LLM failed, when it did
    steering: tuple[str, ...] = ()  # shown lines the probe found steering the model (now learned)

    @property
    def from_llm(self) -> bool:
        return self.engine == "llm"


@dataclass
class Judged:
    """A judgement call's reply: each option's probability, and what the call cost."""

    probabilities: dict[str, float]
    usage: Usage


@dataclass
class LLMStats:
    """Running totals since start, read by /metrics."""

    calls: int = 0
    failed: int = 0
    degraded: int = 0
    injections: int = 0  # replies withheld for doing what an instruction inside a paper asked
    probes: int = 0  # known-answer probes sent (generation/probe.py)
    steered: int = 0  # calls not made because the paper text shown steered the model
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Generator:
    def __init__(
        self,
        llm: LLMHandle,
        gate: LLMGate | None = None,
        judge_floor_s: float = 30.0,
        probe_calls: int = 0,
        injection: InjectionSettings | None = None,
    ) -> None:
        """`judge_floor_s`: the least time a one-token judgement is given
        (`PAPERLENS_VERIFIER_FLOOR_S`; see `LLMClient.complete`). `probe_calls`: the
        known-answer probes a call showing paper text may cost (0: none;
        `PAPERLENS_INJECTION_PROBE_CALLS`, see `generation/probe.py`). `injection`: the output
        guard's bars (`GroundingSettings.injection`)."""
        self.llm = llm
        self.judge_floor_s = judge_floor_s
        self.probe_calls = probe_calls
        self.injection = injection or InjectionSettings()
        self.gate = gate or LLMGate(1, 1_000_000, 3600.0)
        self.stats = LLMStats()
        self.closed = False

    def close(self) -> None:
        """At shutdown: new calls get 503; open connections are closed so streams end now."""
        self.closed = True
        if self.llm.client is not None:
            self.llm.client.close()

    @property
    def available(self) -> bool:
        return self.llm.client is not None

    @property
    def model(self) -> str:
        """The model answers come from now: the LLM's name, or "extractive" without one."""
        return self.llm.model if self.llm.client is not None else EXTRACTIVE

    def check_capacity(self) -> None:
        """LLMBusy (a 503) now when a call would find the queue full, unless the caller
        opted into the degraded answer; for a stream, whose 200 head goes out before the call."""
        if self.llm.client is not None and not busy_fallback.get():
            self.gate.check()

    @contextmanager
    def admission(self) -> Iterator[None]:
        """Around a request that will call the LLM: a full queue refuses it now (LLMBusy, a
        503), before retrieval, and its place is kept for it until its call."""
        if self.llm.client is None or busy_fallback.get():
            yield
            return
        with self.gate.admission():
            yield

    def no_call(self) -> Generated:
        """Nothing generated because nothing needed to be (e.g. no relevant evidence)."""
        return Generated("", "llm" if self.available else EXTRACTIVE, False, self.model)

    def fallback(self, text: str, failed: bool = False) -> Generated:
        """`text` from the extractive engine; degraded when an LLM was wanted (or just failed)."""
        degraded = failed or self.llm.wanted
        self.stats.degraded += degraded
        return Generated(text, EXTRACTIVE, degraded, EXTRACTIVE)

    def judge(
        self, messages: Messages, options: Sequence[str], timings: Timings, *, label: str = "judge"
    ) -> Judged | None:
        """A one-token choice among `options` ("yes"/"no", "1".."9"), read from the first
        token's probabilities. None when there is no LLM, it failed, or it is busy: the
        caller then goes without the judgement (a judgement never turns into a 503 halfway
        through a request that already holds its answer)."""
        client = self.llm.client
        if client is None or self.closed:
            return None
        try:
            with self.gate.slot() as waited, timings.measure(label):
                timings.add("llm_wait", waited)
                done = client.complete(messages, 1, self.judge_floor_s, logprobs=True, top_logprobs=10)
        except LLMUnavailable as err:
            self.stats.failed += 1
            log.warning("%s judgement failed, answering without it: %s", label, err)
            return None
        except LLMBusy:
            log.warning("%s judgement skipped: the model is busy", label)
            return None
        return Judged(done.choice(options), self._counted(done.prompt_tokens, done.completion_tokens))

    def _counted(self, prompt_tokens: int, completion_tokens: int, spent: Usage | None = None) -> Usage:
        """One call made: counted in the stats; its usage, plus what `spent` (its probes) cost."""
        self.stats.calls += 1
        self.stats.prompt_tokens += prompt_tokens
        self.stats.completion_tokens += completion_tokens
        usage = Usage(llm_calls=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        if spent is not None:
            usage.add(spent)
        return usage

    def _steered(self, messages: Messages, sources: Sequence[str]) -> tuple[Generated | None, Usage]:
        """Before a call showing paper text (the caller holds the slot, so the prompt cache
        keeps the probe's prefix for the call): when the text steered the model, the
        withheld result (the probe's reply, and the shown lines found doing it, learned so
        every path now leaves them out); None when it did not. Also what the probes cost."""
        client = self.llm.client
        spent = Usage.zero()
        if client is None or not self.probe_calls or not any(sources):
            return None, spent

        def ask(probe: Messages) -> str | None:
            try:
                done = client.complete(probe, 16, self.judge_floor_s)
            except LLMUnavailable as err:
                log.warning("known-answer probe failed, calling without it: %s", err)
                return None
            self.stats.probes += 1
            spent.add(self._counted(done.prompt_tokens, done.completion_tokens))
            return done.text

        probe = Probe(ask, self.probe_calls)
        reply = probe.steered(messages)
        if reply is None:
            return None, spent
        found = tuple(probe.locate(shown_lines(messages)))
        if not found:  # no shown line steers it on its own: the model missed the probe, not the text
            log.warning("probe reply %r, but no shown line steers the model; calling", reply[:80])
            return None, spent
        learn(found)
        self.stats.steered += 1
        self.stats.degraded += 1
        log.warning("paper text steered the model (probe reply %r); %d lines found", reply[:80], len(found))
        withheld = reply or "(an empty reply)"
        return Generated("", "llm", True, self.llm.model, spent, withheld=withheld, steering=found), spent

    def structured(
        self,
        messages: Messages,
        max_tokens: int,
        timings: Timings,
        response_format: dict[str, Any],
        *,
        sources: Sequence[str] = (),
        question: str = "",
        removed: Sequence[str] = (),
    ) -> Generated:
        """One call whose reply follows a JSON schema (`response_format`, passed to the server
        as is: llama.cpp samples under it, a remote server follows it), not streamed: the
        caller parses the whole reply. Without an LLM, or when it failed (`error` says how),
        the text is empty and the result degraded; a full queue raises LLMBusy as
        `generate` does. A reply doing what an instruction inside `sources` asked is withheld."""
        client = self.llm.client
        if client is None:
            return self.fallback("")
        if self.closed:
            raise NotReady("paperlens is shutting down; retry on another instance or after restart")
        try:
            with self.gate.slot() as waited, timings.measure("llm"):
                timings.add("llm_wait", waited)
                steered, spent = self._steered(messages, sources)
                if steered is not None:
                    return steered
                done = client.complete(messages, max_tokens, response_format=response_format)
        except LLMUnavailable as err:
            self.stats.failed += 1
            failed = self.fallback("", failed=True)
            failed.error = str(err)
            return failed
        except LLMBusy:
            if not busy_fallback.get():
                raise
            return self.fallback("", failed=True)
        usage = self._counted(done.prompt_tokens, done.completion_tokens, spent)
        if InjectionGuard(sources, question, removed, self.injection).obeyed(done.text):
            self.stats.injections += 1
            self.stats.degraded += 1
            return Generated("", "llm", True, self.llm.model, usage, withheld=done.text)
        return Generated(done.text, "llm", False, self.llm.model, usage)

    def generate(
        self,
        messages: Messages,
        max_tokens: int,
        timings: Timings,
        *,
        fallback: Callable[[], str],
        on_delta: OnDelta | None = None,
        sources: Sequence[str] = (),
        question: str = "",
        removed: Sequence[str] = (),
    ) -> Generated:
        """`sources`: the paper texts the messages show, as stored (before `data_only`): a
        reply that does what an instruction inside them asked is withheld (text empty,
        degraded, so never cached), and no streamed delta shows it. `removed`: sentences the
        caller already kept from the model as instructions."""
        client = self.llm.client
        if client is None:
            return self.fallback(fallback())
        if self.closed:
            raise NotReady("paperlens is shutting down; retry on another instance or after restart")
        state = StreamState()
        try:
            with self.gate.slot() as waited, timings.measure("llm"):  # a full queue: LLMBusy, a 503
                timings.add("llm_wait", waited)
                steered, spent = self._steered(messages, sources)
                if steered is not None:  # nothing streamed: the call is not made
                    return steered
                guard = InjectionGuard(
                    sources, question, removed, self.injection
                )  # after the probe: what it learned counts
                stream = guard.stream(on_delta) if on_delta is not None else None
                for piece in client.stream(messages, max_tokens, state):
                    if stream is not None:
                        stream(piece)
        except LLMUnavailable:
            self.stats.failed += 1
            return self.fallback(fallback(), failed=True)
        except LLMBusy:
            if not busy_fallback.get():
                raise
            return self.fallback(fallback(), failed=True)
        usage = self._counted(state.prompt_tokens, state.completion_tokens, spent)
        text = state.text
        if state.finish_reason == "length":  # stopped at max_tokens: a half sentence says nothing
            text = complete_sentences(text)
        if guard.obeyed(text):
            self.stats.injections += 1
            self.stats.degraded += 1
            return Generated("", "llm", True, self.llm.model, usage, withheld=text)
        if stream is not None:
            stream.flush()
        return Generated(text, "llm", False, self.llm.model, usage)
