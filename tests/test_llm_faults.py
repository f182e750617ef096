"""Faults of the LLM server, through HTTP: a stream the server cuts and a reply that is not
JSON are failed calls. /ask, the summary, /compare and the SSE route end with a flagged
degraded result (never a 500, never an empty 200), nothing degraded is cached, and the
service answers normally on the next request."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.llm.gate import LLMBusy, LLMGate
from service.container import Container
from service.corpus.paper import Paper
from service.server.app import create_app

from .conftest import fake_llm_services
from .fake_llm import Action, FakeLLM, cut, iter_sse, malformed, reply, sleep

CARP_Q = "How much faster is CARP's inference than state-of-the-art policies?"
FAULTS: dict[str, Callable[[], Action]] = {"cut stream": cut, "malformed reply": malformed}


def fail_every_attempt(fake: FakeLLM, fault: Callable[[], Action]) -> None:
    fake.reset(*[fault() for _ in range(10)])


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_ask_degrades_and_is_not_cached(
    llm_client: TestClient, fake_llm: FakeLLM, fault: Callable[[], Action]
) -> None:
    fail_every_attempt(fake_llm, fault)
    r = llm_client.post("/ask", json={"question": CARP_Q})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["degraded"] and body["engine"] == "extractive"
    fake_llm.reset()
    again = llm_client.post("/ask", json={"question": CARP_Q}).json()
    assert again["cached"] is False and again["engine"] == "llm" and not again["degraded"]


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_summary_degrades_and_is_not_cached(
    llm_client: TestClient, fake_llm: FakeLLM, fault: Callable[[], Action]
) -> None:
    # a paper of its own per fault: the store's summary cache is shared by the session
    n = 10 + list(FAULTS.values()).index(fault)
    pid = llm_client.get("/papers", params={"limit": 20}).json()["papers"][n]["id"]
    fail_every_attempt(fake_llm, fault)
    r = llm_client.get(f"/papers/{pid}/summary", params={"refresh": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["degraded"]
    fake_llm.reset()
    again = llm_client.get(f"/papers/{pid}/summary").json()
    assert again["cached"] is False and not again["degraded"]


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_compare_degrades(llm_client: TestClient, fake_llm: FakeLLM, fault: Callable[[], Action]) -> None:
    ids = [p["id"] for p in llm_client.get("/papers", params={"limit": 2}).json()["papers"]]
    fail_every_attempt(fake_llm, fault)
    r = llm_client.post("/compare", json={"paper_ids": ids})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["degraded"] and body["summary"]


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_sse_ends_with_a_degraded_final_event(
    llm_client: TestClient, fake_llm: FakeLLM, fault: Callable[[], Action]
) -> None:
    fail_every_attempt(fake_llm, fault)
    r = llm_client.post("/ask", json={"question": CARP_Q}, headers={"Accept": "text/event-stream"})
    assert r.status_code == 200
    events = list(iter_sse(r.text))
    assert events and events[-1][0] == "final", events
    assert events[-1][1]["degraded"] is True


def test_a_full_llm_queue_answers_503_with_retry_after_at_once(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, sample_papers: list[Paper], fake_llm: FakeLLM
) -> None:
    services = fake_llm_services(
        tmp_path, embedder, sample_papers[:5], fake_llm, llm_queue_size=0, llm_timeout_s=10.0
    )
    settings = services.settings
    fake_llm.reset(sleep(5.0))  # the first call holds the only slot for 5 s
    with TestClient(create_app(settings, Container.of(services))) as client:
        question = {"question": "How much faster is CARP's inference?"}
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(client.post, "/ask", json=question)
            deadline = time.monotonic() + 30
            while not fake_llm.requests and time.monotonic() < deadline:  # the first call is at the model
                time.sleep(0.02)
            assert fake_llm.requests, "the first call never reached the model"
            t0 = time.monotonic()
            busy = client.post("/ask", json={"question": "What does CARP decouple?"})
            busy_s = time.monotonic() - t0
            opted = client.post("/ask", json=question, headers={"X-On-Busy": "degraded"})
            summary = client.get(
                f"/papers/{sample_papers[0].paper_id}/summary", headers={"X-On-Busy": "degraded"}
            )
            health = client.get("/healthz")
            assert first.result().status_code == 200
    assert busy.status_code == 503, busy.text
    assert busy_s < 2.0  # at once: no retrieval, no waiting
    assert busy.json()["error"]["code"] == "llm_busy" and int(busy.headers["Retry-After"]) >= 1
    assert health.status_code == 200
    # a caller that asked for it gets the quoted answer at once, flagged and not cached
    assert opted.status_code == 200 and opted.json()["degraded"] and opted.json()["engine"] == "extractive"
    assert "10x" in opted.json()["answer"]
    assert summary.status_code == 200 and summary.json()["degraded"]


def test_a_hanging_llm_call_ends_within_its_time_budget(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, sample_papers: list[Paper], fake_llm: FakeLLM
) -> None:
    # 2 s at most for this short prompt (5 s + tokens at the rates, capped by LLM_TIMEOUT_S)
    services = fake_llm_services(
        tmp_path, embedder, sample_papers[:5], fake_llm, llm_timeout_s=2.0, llm_retry_total_s=1.0
    )
    settings = services.settings
    fake_llm.reset(*[sleep(30.0)] * 5)
    with TestClient(create_app(settings, Container.of(services))) as client:
        t0 = time.monotonic()
        body = client.post("/ask", json={"question": "How much faster is CARP's inference?"}).json()
        elapsed = time.monotonic() - t0
    assert body["degraded"]
    assert elapsed < 15.0, body["timings_ms"]  # not the fake's 30 s, nor 30 s per attempt
    fake_llm.reset()


def test_the_gate_lets_concurrency_plus_queue_in_and_refuses_the_next() -> None:
    gate = LLMGate(concurrency=1, queue_size=1, max_wait_s=0.2)
    with gate.slot():
        gate.check()  # one more may wait...
        with pytest.raises(LLMBusy) as waited, gate.slot():  # ...and gives up after 0.2 s
            pass
        assert "stayed busy" in waited.value.message
    no_queue = LLMGate(concurrency=1, queue_size=0, max_wait_s=5.0)
    with no_queue.slot():
        with pytest.raises(LLMBusy) as full:
            no_queue.check()
        assert int(full.value.headers["Retry-After"]) >= 1
    with no_queue.slot():  # free again
        pass


def test_a_reply_cut_at_max_tokens_loses_its_unfinished_sentence(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, sample_papers: list[Paper], fake_llm: FakeLLM
) -> None:
    """The model stopped at its token limit mid-sentence (finish_reason "length"): the half
    sentence, though it repeats evidence words and would pass the support check, is not
    shown; the whole sentence before it is."""
    whole = "CARP delivers 10x faster inference compared to state-of-the-art policies [1]."
    half = "CARP achieves competitive success rates, with up to a 10% improvement, and"
    limit = len(whole.split()) + len(half.split())
    services = fake_llm_services(tmp_path, embedder, sample_papers[:5], fake_llm, ask_max_answer_tokens=limit)
    with TestClient(create_app(services.settings, Container.of(services))) as client:
        fake_llm.reset(reply(f"{whole} {half} delivers strong results [1]."))
        cut_short = client.post("/ask", json={"question": CARP_Q}).json()
        services.ask.memory.clear()  # the same question again, not its cached answer
        fake_llm.reset(reply(f"{whole} {half.removesuffix(', and')}. [1]"))
        finished = client.post("/ask", json={"question": CARP_Q}).json()
    assert "10x" in cut_short["answer"] and not cut_short["degraded"]
    assert "competitive" not in cut_short["answer"], cut_short["answer"]
    # the same words as a finished sentence are kept: the cut, not the content, dropped them
    assert "competitive" in finished["answer"], finished
    fake_llm.reset()
