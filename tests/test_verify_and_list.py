"""The verifier (every answer's confidence, the precision dial) and library-level
questions ("which papers here ...?"), through POST /ask against the fake LLM server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.llm.client import Completion
from service.container import Container
from service.corpus.paper import Paper
from service.question.question_plan import Form, plan_question
from service.server.app import create_app

from .conftest import fake_llm_services
from .fake_llm import FakeLLM, reply

CARP_Q = "How much faster is CARP's inference than existing policies?"
LIBRARY_Q = "Which papers in my library use diffusion models to generate robot actions?"


def prompt_name(request: dict[str, object]) -> str:
    messages = request["messages"]
    assert isinstance(messages, list)
    system = str(messages[0]["content"])
    if system.startswith("You check answers"):
        return "verify"
    if system.startswith("You answer a yes/no question about one research paper"):
        return "library"
    return "criterion" if system.startswith("You rewrite a question about a library") else "other"


def test_an_answer_the_verifier_rejects_is_declined_with_its_confidence(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    fake_llm.reset(reply("CARP is 10x faster at inference than existing policies [1]."), reply("no"))
    body = llm_client.post("/ask", json={"question": CARP_Q}).json()
    assert body["abstained"] and body["citations"] == []
    assert body["confidence"] == pytest.approx(0.1)
    assert any(d["reason"].startswith("verifier:") and "0.10 < 0.50" in d["reason"] for d in body["dropped"])
    assert [prompt_name(r) for r in fake_llm.requests] == ["other", "verify"]


def test_the_precision_dial_is_a_per_request_bar(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    fake_llm.reset(reply("CARP is 10x faster at inference than existing policies [1]."), reply("no"))
    low = llm_client.post("/ask", json={"question": CARP_Q, "min_confidence": 0.05}).json()
    assert not low["abstained"] and low["confidence"] == pytest.approx(0.1) and "10x" in low["answer"]
    fake_llm.reset()  # the fake's own verdict: the answer's words are in the evidence, P(yes) 0.9
    high = llm_client.post("/ask", json={"question": CARP_Q, "min_confidence": 0.95}).json()
    assert high["abstained"] and high["confidence"] == pytest.approx(0.9)
    assert llm_client.post("/ask", json={"question": CARP_Q, "min_confidence": 1.5}).status_code == 422


def test_a_library_question_lists_every_matching_paper_each_cited(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    body = llm_client.post("/ask", json={"question": LIBRARY_Q}).json()
    assert not body["abstained"], body
    papers = body["papers"]
    assert len(papers) >= 2
    judged = [r for r in fake_llm.requests if prompt_name(r) == "library"]
    assert [prompt_name(r) for r in fake_llm.requests] == ["criterion", *["library"] * len(judged)]
    assert len(fake_llm.requests) == body["usage"]["llm_calls"] <= 13
    assert all(r["max_tokens"] == 1 and r["logprobs"] for r in judged)
    # each paper is judged on the question rewritten as one about a single paper
    assert all("Question: Does this paper" in r["messages"][-1]["content"] for r in judged)
    assert [p["confidence"] for p in papers] == sorted((p["confidence"] for p in papers), reverse=True)
    by_n = {c["n"]: c for c in body["citations"]}
    for p in papers:  # each listed paper is named in the answer and cited by its own sentence
        assert by_n[p["n"]]["paper_id"] == p["paper_id"] and f"[{p['n']}]" in body["answer"]
        assert p["title"] in body["answer"]
    assert body["answer"].startswith(f"{len(papers)} of the {len(judged)} papers")


def test_a_library_question_no_paper_matches_is_declined_with_the_reason(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    fake_llm.reset(reply("Does this paper use diffusion models?"), *[reply("no") for _ in range(12)])
    body = llm_client.post("/ask", json={"question": LIBRARY_Q}).json()
    assert body["abstained"] and body["papers"] is None
    assert "none of the" in body["dropped"][0]["reason"]


@pytest.fixture(params=["off"])
def plain_client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    embedder: OnnxMiniLMEmbedder,
    sample_papers: list[Paper],
    fake_llm: FakeLLM,
) -> Iterator[TestClient]:
    services = fake_llm_services(tmp_path, embedder, sample_papers[:12], fake_llm, verifier=request.param)
    fake_llm.reset()
    with TestClient(create_app(services.settings, Container.of(services))) as c:
        yield c


def test_without_a_verifier_answers_carry_no_confidence(plain_client: TestClient, fake_llm: FakeLLM) -> None:
    body = plain_client.post("/ask", json={"question": CARP_Q}).json()
    assert not body["abstained"] and body["confidence"] is None
    assert len(fake_llm.requests) == 1 and body["usage"]["llm_calls"] == 2  # and the probe


@pytest.mark.parametrize("plain_client", ["rules"], indirect=True)
def test_the_rules_verifier_judges_without_a_model_call(plain_client: TestClient, fake_llm: FakeLLM) -> None:
    body = plain_client.post("/ask", json={"question": CARP_Q}).json()
    assert not body["abstained"] and body["confidence"] == 1.0  # it passed the checks it is judged by
    assert [prompt_name(r) for r in fake_llm.requests] == ["other"]  # the answer; no verify call


@pytest.mark.parametrize(
    ("question", "form"),
    [
        ("Which papers in my library use diffusion models for robot control?", Form.LIBRARY),
        ("What work here evaluates on CALVIN?", Form.LIBRARY),
        ("List the studies that propose a new benchmark.", Form.LIBRARY),
        ("Anything in my collection on offline RL?", Form.LIBRARY),
        ("Are there papers about sim-to-real transfer?", Form.LIBRARY),
        ("Which paper projects the backward gradient onto the normal plane?", Form.OPEN),
        ("Does CARP need a tokenizer?", Form.YES_NO),
        ("What dataset do the papers use?", Form.OPEN),
    ],
)
def test_question_forms_include_questions_about_the_library(question: str, form: Form) -> None:
    assert plan_question(question).form is form


def test_a_judgement_reads_the_first_token_or_falls_back_to_the_reply() -> None:
    sure = Completion("yes", first_token={"Yes": 0.6, "yes": 0.2, "No": 0.1, "The": 0.1})
    assert sure.choice(("yes", "no")) == pytest.approx({"yes": 0.8 / 0.9, "no": 0.1 / 0.9})
    # a server that sends no logprobs: the word the reply opens with
    assert Completion("No, it does not.").choice(("yes", "no")) == {"yes": 0.0, "no": 1.0}


@pytest.fixture
def choice_client(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, sample_papers: list[Paper], fake_llm: FakeLLM
) -> Iterator[TestClient]:
    services = fake_llm_services(tmp_path, embedder, sample_papers[:12], fake_llm, verifier="choice")
    fake_llm.reset()
    with TestClient(create_app(services.settings, Container.of(services))) as c:
        yield c


def test_the_choice_verifier_judges_the_sentence_an_answer_cites(
    choice_client: TestClient, fake_llm: FakeLLM
) -> None:
    # the model picks no sentence as the answer ("0"): the cited one gets no probability
    fake_llm.reset(reply("CARP is 10x faster at inference than existing policies [1]."), reply("0"))
    body = choice_client.post("/ask", json={"question": CARP_Q}).json()
    assert body["abstained"] and body["confidence"] == 0.0
    assert any("no sentence states the answer" in d["reason"] for d in body["dropped"])
    judged = fake_llm.requests[-1]
    assert judged["max_tokens"] == 1 and judged["logprobs"]
    options = re.findall(r"^(\d+)\. ", judged["messages"][-1]["content"], re.M)
    assert options == [str(n) for n in range(1, len(options) + 1)] and 2 <= len(options) <= 9
    # the fake's own choice: the sentence sharing most of the question's words, the one cited
    # (another bar: the declined answer above is cached under the default one)
    fake_llm.reset()
    body = choice_client.post("/ask", json={"question": CARP_Q, "min_confidence": 0.4}).json()
    assert not body["abstained"] and body["confidence"] == 1.0, body
