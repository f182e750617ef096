"""Inputs that once gave a 500 or ran without bound: each now gets a 4xx in the error
shape, or finishes in bounded time."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.sentences import split_sentences
from service.container import Container, build_services
from service.server.app import create_app

from .conftest import make_settings
from .pdf_bombs import text_bomb


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


def _text_file(sentences: int) -> bytes:
    return (
        b"# Notes on fast models\n\n"
        + " ".join(
            f"Sentence {i} says that model {i % 97} is faster than before." for i in range(sentences)
        ).encode()
    )


def budget_client(tmp_path: Path, embedder: OnnxMiniLMEmbedder, **overrides: object) -> TestClient:
    services = build_services(make_settings(tmp_path / "data", **overrides), embedder=embedder)
    return TestClient(create_app(services.settings, Container.of(services)))


def test_a_file_whose_text_is_over_the_budget_is_413_naming_it(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder
) -> None:
    with budget_client(tmp_path, embedder, max_text_chars=5000) as c:
        r = c.post("/papers/upload", files={"files": ("huge-notes.md", _text_file(400), "text/markdown")})
        assert r.status_code == 413 and "huge-notes.md" in r.json()["error"]["message"]
        assert "PAPERLENS_MAX_TEXT_CHARS" in r.json()["error"]["message"]
        assert c.get("/papers").json()["total"] == 0  # nothing written


def test_a_file_that_parses_too_long_is_killed_and_413(tmp_path: Path, embedder: OnnxMiniLMEmbedder) -> None:
    with budget_client(tmp_path, embedder, parse_timeout_s=0.005) as c:
        t0 = time.monotonic()
        r = c.post(
            "/papers/upload",
            files={"files": ("slow.md", _text_file(50_000), "text/markdown")},
            params={"wait": "true"},
        )
        assert time.monotonic() - t0 < 5
    assert r.status_code == 413 and "slow.md" in r.json()["error"]["message"]
    assert "PAPERLENS_PARSE_TIMEOUT_S" in r.json()["error"]["message"]


def test_health_answers_at_once_while_an_upload_parses(tmp_path: Path, embedder: OnnxMiniLMEmbedder) -> None:
    """The parse runs in a child process: a PDF that keeps its parser busy until the 2 s
    budget runs out leaves the server's event loop free."""
    from concurrent.futures import ThreadPoolExecutor

    slow = text_bomb(100_000)  # about 6 s of PDFium work for 2.7 million characters
    with budget_client(tmp_path, embedder, parse_timeout_s=2.0) as client, ThreadPoolExecutor(1) as pool:
        upload = pool.submit(
            client.post, "/papers/upload", files={"files": ("slow.pdf", slow, "application/pdf")}
        )
        waits = []
        while not upload.done():
            t0 = time.monotonic()
            assert client.get("/healthz").status_code == 200
            waits.append(time.monotonic() - t0)
            time.sleep(0.05)
        assert upload.result().status_code == 413
    assert len(waits) >= 10 and sorted(waits)[int(len(waits) * 0.9)] < 0.1
