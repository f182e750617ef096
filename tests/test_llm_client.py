"""The LLM client's retries against a real local server that fails on purpose."""

from __future__ import annotations

import time

import pytest

from service.components.llm.client import LLMClient, LLMUnavailable, StreamState

from .fake_llm import FakeLLM, reply, sleep, status

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def client(fake: FakeLLM, **kw: float) -> LLMClient:
    opts: dict[str, float] = {"timeout_s": 0.5, "retry_total_s": 8.0, "max_attempts": 5, **kw}
    return LLMClient(fake.base_url, "k", "fake", backoff_max_s=0.2, **opts)  # type: ignore[arg-type]


def test_retries_429_500_and_timeouts_then_succeeds(fake_llm: FakeLLM) -> None:
    fake_llm.reset(status(429, retry_after="0"), status(500), status(503), sleep(1.0), reply("hello there"))
    out = client(fake_llm).complete(MESSAGES, 20)
    assert out.text == "hello there"
    assert out.attempts == 5
    assert len(fake_llm.requests) == 5


def test_retry_after_is_honoured(fake_llm: FakeLLM) -> None:
    fake_llm.reset(status(429, retry_after="1"), reply("ok"))
    t0 = time.monotonic()
    assert client(fake_llm).complete(MESSAGES, 5).text == "ok"
    assert time.monotonic() - t0 >= 0.95


def test_client_errors_are_not_retried(fake_llm: FakeLLM) -> None:
    fake_llm.reset(status(400), reply("never"))
    with pytest.raises(LLMUnavailable, match="BadRequest"):
        client(fake_llm).complete(MESSAGES, 5)
    assert len(fake_llm.requests) == 1


def test_gives_up_within_the_total_budget(fake_llm: FakeLLM) -> None:
    fake_llm.reset(*[status(500)] * 50)
    t0 = time.monotonic()
    with pytest.raises(LLMUnavailable):
        client(fake_llm, retry_total_s=1.5, max_attempts=50).complete(MESSAGES, 5)
    assert time.monotonic() - t0 < 3.0


def test_stream_retries_opening_then_yields_deltas_and_usage(fake_llm: FakeLLM) -> None:
    fake_llm.reset(status(502), reply("one two three"))
    state = StreamState()
    pieces = list(client(fake_llm).stream(MESSAGES, 10, state))
    assert "".join(pieces) == "one two three" == state.text
    assert state.completion_tokens == 3 and state.prompt_tokens > 0 and state.attempts == 2
