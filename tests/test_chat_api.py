"""The OpenAI-compatible API against a running server (uvicorn on loopback, the sample
corpus behind the fake LLM): /v1/models, plain and streamed completions, follow-ups
rewritten and answered from the right paper, OpenAI-style errors, and the official
`openai` client and LangChain's `ChatOpenAI` used unmodified."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from service.container import Container, Services
from service.question.followup import FollowUps, Turn
from service.server.app import create_app

from .conftest import serving
from .fake_llm import FakeLLM

CARP_Q = "How much faster is CARP's inference?"


@pytest.fixture(scope="module")
def server(llm_services: Services) -> Iterator[str]:
    with serving(create_app(llm_services.settings, Container.of(llm_services))) as base:
        yield base


@pytest.fixture
def client(server: str, fake_llm: FakeLLM, llm_services: Services) -> openai.OpenAI:
    fake_llm.reset()
    llm_services.ask.memory.clear()
    return openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)


def test_models_lists_paperlens(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["paperlens"]


def test_plain_completion_keeps_citations_in_text_and_as_data(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="paperlens", messages=[{"role": "user", "content": CARP_Q}])
    message = r.choices[0].message
    assert r.object == "chat.completion" and r.choices[0].finish_reason == "stop"
    assert "10x" in (message.content or "") and "[1]" in (message.content or "")
    assert "\nSources:\n[1] CARP: Visuomotor Policy Learning" in (message.content or "")
    extra = message.model_extra or {}
    assert extra["citations"][0]["title"].startswith("CARP") and "10x" in extra["citations"][0]["quote"]
    assert extra["question"] == CARP_Q and r.usage is not None and r.usage.completion_tokens > 0


def test_streamed_completion_follows_the_chunk_format(client: openai.OpenAI, server: str) -> None:
    chunks = list(
        client.chat.completions.create(
            model="paperlens",
            messages=[{"role": "user", "content": CARP_Q}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "10x" in text and "Sources:" in text
    last = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    assert (last.model_extra or {})["citations"][0]["title"].startswith("CARP")
    assert chunks[-1].usage is not None and not chunks[-1].choices
    raw = httpx.post(
        f"{server}/v1/chat/completions",
        json={"model": "paperlens", "stream": True, "messages": [{"role": "user", "content": CARP_Q}]},
    ).text
    lines = [ln for ln in raw.replace("\r\n", "\n").split("\n") if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert all(json.loads(ln[6:])["object"] == "chat.completion.chunk" for ln in lines[:-1])


def test_a_follow_up_is_rewritten_and_answered_from_the_paper_it_is_about(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="paperlens",
        messages=[{"role": "user", "content": "What does CARP decouple action generation into?"}],
    )
    answer = first.choices[0].message.content or ""
    follow = client.chat.completions.create(
        model="paperlens",
        messages=[
            {"role": "user", "content": "What does CARP decouple action generation into?"},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "and how much faster is its inference?"},
        ],
    )
    extra = follow.choices[0].message.model_extra or {}
    assert extra["question"] == "And how much faster is CARP's inference?"
    assert "10x" in (follow.choices[0].message.content or "")
    assert {c["paper_id"] for c in extra["citations"]} == {first_paper(first)}


def first_paper(r: openai.types.chat.ChatCompletion) -> str:
    return str((r.choices[0].message.model_extra or {})["citations"][0]["paper_id"])


def test_bad_bodies_get_openai_style_errors(client: openai.OpenAI, server: str) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": CARP_Q}])
    assert "GET /v1/models" in str(missing.value) and missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as last:
        client.chat.completions.create(model="paperlens", messages=[{"role": "assistant", "content": "hi"}])
    assert "role 'user'" in str(last.value)
    for body in ({"model": "paperlens"}, {"model": "paperlens", "messages": []}, {"messages": "x"}):
        r = httpx.post(f"{server}/v1/chat/completions", json=body)
        error = r.json()["error"]
        assert r.status_code == 422 and error["type"] == "invalid_request_error" and error["message"]
    r = httpx.post(
        f"{server}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_langchain_chat_openai_works_unmodified(server: str, fake_llm: FakeLLM) -> None:
    fake_llm.reset()
    llm = ChatOpenAI(base_url=f"{server}/v1", api_key="unused", model="paperlens", max_retries=0)
    reply = llm.invoke(CARP_Q)
    assert "10x" in str(reply.content) and "Sources:" in str(reply.content)
    streamed = "".join(str(part.content) for part in llm.stream(CARP_Q))
    assert "10x" in streamed


# --- the rewrite rule itself, on the sample corpus's names ----------------------------------


@pytest.fixture(scope="module")
def followups(llm_services: Services) -> FollowUps:
    return llm_services.ask._catalogue()[2]


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        ([], "How fast is CARP?", "How fast is CARP?"),
        (["What does CARP decouple?"], "and how fast is it?", "And how fast is CARP?"),
        (["What does CARP decouple?"], "What about PROPS?", "What does PROPS decouple?"),
        (
            ["What does CARP decouple?"],
            "what about the benchmarks?",
            "What does CARP say about the benchmarks?",
        ),
        (["What does CARP decouple?"], "Which datasets?", "Which datasets in CARP?"),
        (
            ["What does CARP decouple?"],
            "Which paper studies on-policy sampling error in reinforcement learning?",
            "Which paper studies on-policy sampling error in reinforcement learning?",
        ),
    ],
)
def test_follow_up_rewrites(followups: FollowUps, history: list[str], question: str, expected: str) -> None:
    turns = [Turn("user", h) for h in history]
    assert followups.standalone(question, turns).question == expected


def test_the_subject_can_come_from_the_last_answers_sources(followups: FollowUps) -> None:
    title = "CARP: Visuomotor Policy Learning via Coarse-to-Fine Autoregressive Prediction"
    answer = f'It predicts coarse to fine [1].\n\nSources:\n[1] {title}: "..."'
    out = followups.standalone(
        "How accurate is it?",
        [Turn("user", "Which paper predicts actions coarse to fine?"), Turn("assistant", answer)],
    )
    assert out.question == "How accurate is CARP?" and out.paper_ids and len(out.paper_ids) == 1
