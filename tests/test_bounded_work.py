"""Inputs that once gave a 500 or ran without bound: each now gets a 4xx in the error
shape, or finishes in bounded time."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from service.components.sentences import split_sentences


def test_sentence_splitting_is_linear_in_the_text() -> None:
    # 0.5 MB once took two minutes (a regex over everything before each full stop)
    unit = "We use e.g. the method of J. Smith et al. on 3.5 GB of data. It works well! Does it? Yes. "
    text = unit * (2_000_000 // len(unit))
    t0 = time.perf_counter()
    sentences = split_sentences(text)
    assert time.perf_counter() - t0 < 20.0  # a bound on the work, not a benchmark
    assert len(sentences) == 4 * (2_000_000 // len(unit))
    assert sentences[0] == "We use e.g. the method of J. Smith et al. on 3.5 GB of data."


def test_a_word_longer_than_the_abbreviation_window_still_ends_its_sentence() -> None:
    word = "pneumonoultramicroscopicsilicovolcanoconiosis"
    assert split_sentences(f"It is {word}. Then more.") == [f"It is {word}.", "Then more."]
    assert split_sentences("See Fig. 2 for details. Done.") == ["See Fig. 2 for details.", "Done."]


def test_a_huge_offset_is_a_4xx_or_an_empty_page(client: TestClient) -> None:
    r = client.get("/papers", params={"offset": 10**12})
    assert r.status_code == 422 and "offset" in r.json()["error"]["message"]
    r = client.get("/papers", params={"offset": 10**6})
    assert r.status_code == 200 and r.json()["papers"] == []


def test_deeply_nested_json_is_a_400(client: TestClient) -> None:
    body = '{"papers": ' + "[" * 100_000 + "]" * 100_000 + "}"
    r = client.post("/papers", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()


def test_too_many_paper_ids_is_a_4xx(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "What is CARP?", "paper_ids": [f"p{i}" for i in range(50_000)]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_a_405_says_which_methods_are_allowed(client: TestClient) -> None:
    r = client.delete("/search")
    assert r.status_code == 405 and "GET" in r.headers.get("allow", "")
