"""The one LLM client: any OpenAI-compatible chat endpoint, with retries.

Retries (tenacity) cover 429, 5xx, timeouts and connection errors: exponential backoff
with jitter, or the server's `Retry-After` when it sends one, within a total time
budget and a per-call timeout. Anything else (a 400, a bad key) fails at once. When the
retries run out, `LLMUnavailable` tells the caller to fall back to the extractive engine.

A reply is complete only when the server says so: a stream must end with a chunk that
carries a `finish_reason` (the server's "[DONE]" follows it), a plain reply must carry
one too. A stream the server cuts, or a body that is not the JSON the API promises, is a
failed call (`LLMUnavailable`), never an answer, so it is never cached and never a 500.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import openai
from openai import OpenAI
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

Messages = list[dict[str, str]]


class LLMUnavailable(Exception):
    """The LLM could not answer after retries (or is switched off)."""


# What a malformed reply raises inside the SDK: bad JSON, missing fields, wrong types.
MALFORMED = (ValueError, KeyError, TypeError, AttributeError, IndexError)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 1
    # the first token's alternatives and their probabilities, when the server sent logprobs
    first_token: dict[str, float] | None = None

    def choice(self, options: Sequence[str]) -> dict[str, float]:
        """How likely the model thought each option (its first word, any case): read from
        the first token's probabilities when the server gave them, renormalised over the
        options; else 1 for the option the reply opens with. A server without logprobs
        (or a reply none of the options opens) still gives a usable, if coarse, judgement."""
        keys = [o.lower() for o in options]
        if self.first_token:
            mass = dict.fromkeys(keys, 0.0)
            for token, p in self.first_token.items():
                word = token.strip().lower()
                for k in keys:
                    if word and k.startswith(word):
                        mass[k] += p
                        break
            total = sum(mass.values())
            if total > 0:
                return {k: v / total for k, v in mass.items()}
        opening = self.text.strip().lower()
        return {k: float(opening.startswith(k)) for k in keys}


@dataclass
class StreamState:
    """Filled in while a stream runs; read after it ends."""

    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 1
    finish_reason: str | None = None  # "length": the model hit max_tokens, the text is cut


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | openai.RateLimitError):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def retry_after_seconds(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    raw = headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


class LLMClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        timeout_s: float = 60.0,
        retry_total_s: float = 90.0,
        max_attempts: int = 5,
        temperature: float = 0.0,
        backoff_max_s: float = 8.0,
        prompt_tokens_per_s: float = 40.0,
        output_tokens_per_s: float = 12.0,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.prompt_tokens_per_s = prompt_tokens_per_s
        self.output_tokens_per_s = output_tokens_per_s
        self.temperature = temperature
        self.retry_total_s = retry_total_s
        self.max_attempts = max_attempts
        self._backoff = wait_random_exponential(multiplier=0.25, max=backoff_max_s)
        self._client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)

    def close(self) -> None:
        self._client.close()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = retry_after_seconds(exc)
        return hinted if hinted is not None else float(self._backoff(state))

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(is_retryable),
            wait=self._wait,
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.retry_total_s),
            reraise=True,
        )

    def call_timeout(self, messages: Messages, max_tokens: int) -> float:
        """Seconds one call may take: what its prompt (about 4 characters a token) and its
        answer need at the slowest expected speeds, plus 5 s, and never more than
        `timeout_s`. A short question fails in seconds, not a minute."""
        prompt_tokens = sum(len(m["content"]) for m in messages) / 4
        needed = 5.0 + prompt_tokens / self.prompt_tokens_per_s + max_tokens / self.output_tokens_per_s
        return min(self.timeout_s, needed)

    def _request(
        self, messages: Messages, max_tokens: int, stream: bool, floor_s: float = 0.0, **extra: Any
    ) -> Any:
        kwargs: dict[str, Any] = {
            **extra,
            "timeout": min(self.timeout_s, max(floor_s, self.call_timeout(messages, max_tokens))),
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
        }
        if stream:
            kwargs.update(stream=True, stream_options={"include_usage": True})
        return self._client.chat.completions.create(**kwargs)

    def complete(self, messages: Messages, max_tokens: int, floor_s: float = 0.0, **extra: Any) -> Completion:
        """One plain reply; `extra` goes to the API as is (`response_format`, `logprobs`).
        `floor_s`: the least time the call is given, whatever its size (a one-token
        judgement is mostly prompt, and a busy machine reads prompts slower than expected)."""
        attempts = 0
        try:
            for attempt in self._retrying():
                with attempt:
                    attempts += 1
                    resp = self._request(messages, max_tokens, False, floor_s, **extra)
        except openai.OpenAIError as err:
            raise LLMUnavailable(f"{err.__class__.__name__}: {err}") from err
        except MALFORMED as err:
            raise LLMUnavailable(f"the LLM server's reply is malformed: {err}") from err
        try:
            choice = resp.choices[0]
            if not choice.finish_reason:
                raise LLMUnavailable("the LLM server's reply has no finish_reason (cut short)")
            usage = resp.usage
            return Completion(
                text=choice.message.content or "",
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                attempts=attempts,
                first_token=_first_token_probabilities(choice),
            )
        except MALFORMED as err:
            raise LLMUnavailable(f"the LLM server's reply is malformed: {err}") from err

    def stream(self, messages: Messages, max_tokens: int, state: StreamState) -> Iterator[str]:
        """Yield text deltas. Opening the stream is retried; a stream that breaks after
        its first token is not (the caller already showed those tokens)."""
        try:
            for attempt in self._retrying():
                with attempt:
                    state.attempts = attempt.retry_state.attempt_number
                    chunks = self._request(messages, max_tokens, stream=True)
                    iterator = iter(chunks)
                    first = next(iterator, None)
        except openai.OpenAIError as err:
            raise LLMUnavailable(f"{err.__class__.__name__}: {err}") from err
        except MALFORMED as err:
            raise LLMUnavailable(f"the LLM server's stream is malformed: {err}") from err
        deadline = time.monotonic() + self.call_timeout(messages, max_tokens)
        try:
            for chunk in _chain(first, iterator):
                if time.monotonic() > deadline:  # a server that trickles tokens forever
                    chunks.close()
                    raise LLMUnavailable("the LLM call took longer than its time budget")
                if chunk.usage:
                    state.prompt_tokens = chunk.usage.prompt_tokens
                    state.completion_tokens = chunk.usage.completion_tokens
                if chunk.choices:
                    state.finish_reason = chunk.choices[0].finish_reason or state.finish_reason
                    piece = chunk.choices[0].delta.content if chunk.choices[0].delta else None
                    if piece:
                        state.text += piece
                        yield piece
        except openai.OpenAIError as err:
            raise LLMUnavailable(f"the stream broke: {err}") from err
        except MALFORMED as err:
            raise LLMUnavailable(f"the LLM server's stream is malformed: {err}") from err
        if state.finish_reason is None:
            raise LLMUnavailable("the stream ended without a finish_reason (cut short)")


def _first_token_probabilities(choice: Any) -> dict[str, float] | None:
    """{token: probability} of the first generated token's top alternatives, or None."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    top = getattr(content[0], "top_logprobs", None) or [content[0]]
    out: dict[str, float] = {}
    for t in top:
        out[t.token] = out.get(t.token, 0.0) + math.exp(t.logprob)
    return out


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    if first is not None:
        yield first
    yield from rest
