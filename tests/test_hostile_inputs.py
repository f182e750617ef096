"""Hostile papers and hostile clients (issue 29): bombs that inflate in the parser, a server
killed mid-parse, oversized requests and texts, and the event loop during large ingests.

The tests that are about processes, memory or latency run a real `paperlens serve`
(`tests/live_server.py`) and measure it from outside."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.vector_store.paper_records import StoredPaper
from service.components.vector_store.records import Record
from service.container import Container, build_services
from service.core.errors import PaperlensError
from service.corpus.loader import parse_bytes
from service.corpus.names import paper_names
from service.corpus.paper import TextBlock
from service.corpus.parse_pool import Budget, ParsePool
from service.server.app import create_app

from .conftest import free_port, make_settings
from .live_server import Probe, alive, descendants, rss_mb, serve, stop, wait_ready
from .pdf_bombs import page_count_bomb, text_bomb
from .test_cli_and_server import paperlens

# --- A: parsing on a memory, time and output budget ---------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "make", "timeout_s", "limit_named"),
    [
        # 170 KB: PDFium wants ~7 GB for its text objects (was: 121 s, 7.0 GB, then a 413)
        ("one page of 1.6 million text operators", lambda: text_bomb(1_600_000), 60.0, "PARSE_MEMORY_MB"),
        # 50 KB: 300 pages share one stream of 20,000 lines; stopped at the page over the text limit
        ("300 pages sharing one stream", lambda: text_bomb(20_000, 300), 60.0, "MAX_TEXT_CHARS"),
        # 16 MB: 100,000 small pages, more than the time budget allows
        ("100,000 pages", lambda: page_count_bomb(100_000), 4.0, "PARSE_TIMEOUT_S"),
    ],
)
def test_a_bomb_is_refused_with_413_within_its_budget(
    tmp_path: Path, kind: str, make: object, timeout_s: float, limit_named: str
) -> None:
    assert callable(make)
    path = tmp_path / "bomb.pdf"
    path.write_bytes(make())
    pool = ParsePool(workers=1, timeout_s=timeout_s, max_text_chars=3_000_000, memory_mb=1024)
    t0 = time.monotonic()
    with pytest.raises(PaperlensError) as refused:
        pool.parse("bomb.pdf", path)
    took = time.monotonic() - t0
    assert refused.value.status == 413, (kind, refused.value.message)
    assert "bomb.pdf" in refused.value.message and f"PAPERLENS_{limit_named}" in refused.value.message
    assert took < min(timeout_s, 30.0) + 3.0, f"{kind}: {took:.1f} s"


def test_the_server_reads_no_parse_result_over_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent reads at most `result_bytes` from a child, whatever the child sends (here
    the bound is cut to 512 bytes in this process only; the child keeps the real one)."""
    note = tmp_path / "note.md"
    note.write_text("# A Note\n\n" + "Words in a sentence. " * 200)
    monkeypatch.setattr(Budget, "result_bytes", property(lambda self: 512))
    pool = ParsePool(workers=1, timeout_s=30, max_text_chars=10_000, memory_mb=512)
    with pytest.raises(PaperlensError) as refused:
        pool.parse("note.md", note)
    assert refused.value.status == 413 and "note.md" in refused.value.message
    assert "PAPERLENS_MAX_TEXT_CHARS" in refused.value.message


def test_a_parse_process_does_not_import_the_main_module_again(tmp_path: Path) -> None:
    """An eval run as `python -m evals.x` imports the whole service: a parse child that
    imported it again (multiprocessing's default) would take seconds and pass its memory limit."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.parse_main_probe", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "parsed" in done.stdout, done.stderr[-2000:]
    assert (tmp_path / "imports.log").read_text().split() == ["__main__"]


def test_the_pdf_reader_stops_at_the_page_that_passes_the_text_limit() -> None:
    three_pages = text_bomb(1_000, 3)  # 27,000 characters a page
    assert len(parse_bytes("ok.pdf", text_bomb(1_000, 1), max_text_chars=30_000)) == 1
    with pytest.raises(PaperlensError) as refused:
        parse_bytes("three.pdf", three_pages, max_text_chars=30_000)
    assert refused.value.status == 413 and "three.pdf" in refused.value.message
    assert "by page 2" in refused.value.message  # page 3 was never read


@pytest.mark.slow
def test_a_bomb_upload_is_413_while_the_server_stays_small_and_answers_health(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(tmp_path / "data", port)
    try:
        wait_ready(base, proc)
        idle = rss_mb(proc.pid)
        quiet = Probe(base, proc.pid)  # what the machine costs an idle server: allowed on top
        with quiet.running():
            time.sleep(2)
        probe = Probe(base, proc.pid)
        bombs = {"files": ("bomb.pdf", text_bomb(1_600_000), "application/pdf")}
        with probe.running():
            t0 = time.monotonic()
            r = httpx.post(f"{base}/papers/upload", params={"wait": "true"}, files=bombs, timeout=200)
            took = time.monotonic() - t0
        assert r.status_code == 413 and "bomb.pdf" in r.json()["error"]["message"], r.text
        assert took < 30, f"refused after {took:.1f} s"
        assert probe.server_peak_mb - idle < 1536, (idle, probe.server_peak_mb)
        assert probe.children_peak_mb < 1024 + 300, probe.children_peak_mb  # one parse + the forkserver
        assert probe.failures == 0
        assert probe.p99_ms() <= 100 + quiet.p99_ms(), (probe.p99_ms(), quiet.p99_ms())
    finally:
        stop(proc)


# --- B: a server killed mid-parse restarts; no parse process outlives it -------------------


@pytest.mark.slow
def test_after_kill_9_mid_parse_the_server_restarts_and_no_parse_process_survives(tmp_path: Path) -> None:
    """kill -9 of the server alone (a crash, the OOM killer), then a restart on the same port
    at once, twice. A parse child forked from the server kept its listening socket (the
    restart failed: address already in use) and, with a result larger than a pipe buffer,
    blocked forever writing into a pipe it also held."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    slow = text_bomb(50_000)  # 1.35 million characters: about 3 s of parsing, a 3 MB result
    data = tmp_path / "data"
    proc = serve(data, port, log=tmp_path / "server.log")
    servers = [proc]
    try:
        wait_ready(base, proc)
        for _ in range(2):
            time.sleep(1.0)  # the forkserver is up (it starts beside the store's loading)
            before = set(descendants(proc.pid))
            threading.Thread(target=lambda: _quiet_upload(base, slow), daemon=True).start()
            deadline = time.monotonic() + 20
            while not set(descendants(proc.pid)) - before:
                assert time.monotonic() < deadline, "no parse process started"
                time.sleep(0.02)
            time.sleep(1.0)  # well into the parse
            left = descendants(proc.pid)
            proc.kill()  # SIGKILL to the server alone
            proc.wait(timeout=10)
            proc = serve(data, port, log=tmp_path / "server.log")  # restarted at once, as a supervisor would
            servers.append(proc)
            wait_ready(base, proc)
            deadline = time.monotonic() + 10
            while any(alive(p) for p in left):
                assert time.monotonic() < deadline, f"outlived the server: {[p for p in left if alive(p)]}"
                time.sleep(0.05)
    finally:
        for server in servers:
            stop(server)


def _quiet_upload(base: str, data: bytes) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server was killed under it
        httpx.post(
            f"{base}/papers/upload",
            params={"wait": "true"},
            files={"files": ("slow.pdf", data, "application/pdf")},
            timeout=60,
        )


# --- C: request bodies stream to disk, on caps -------------------------------------------


def _client(tmp_path: Path, embedder: OnnxMiniLMEmbedder, **overrides: object) -> TestClient:
    services = build_services(make_settings(tmp_path / "data", **overrides), embedder=embedder)
    return TestClient(create_app(services.settings, Container.of(services)))


def test_a_body_over_the_request_cap_is_413_whether_declared_or_streamed(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder
) -> None:
    big = {"papers": [{"title": "Padding", "abstract": "word " * 30_000}]}  # 150 KB of JSON
    with _client(tmp_path, embedder, max_request_bytes=64 * 1024) as c:
        declared = c.post("/papers", json=big)
        streamed = c.post(
            "/papers",
            content=(b"x" * 16_384 for _ in range(10)),  # no Content-Length: chunked
            headers={"Content-Type": "application/json"},
        )
        upload = c.post("/papers/upload", files={"files": ("big.md", b"# Big\n\n" + b"text " * 30_000)})
        for r in (declared, streamed, upload):
            assert r.status_code == 413, r.text
            assert "PAPERLENS_MAX_REQUEST_BYTES" in r.json()["error"]["message"]
        assert (
            c.post("/papers", json={"papers": [{"title": "Small", "abstract": "Fine."}]}).status_code == 201
        )
        assert c.get("/papers").json()["total"] == 1


def test_more_parts_than_the_cap_is_413(tmp_path: Path, embedder: OnnxMiniLMEmbedder) -> None:
    def files(n: int) -> list[tuple[str, tuple[str, bytes, str]]]:
        return [
            ("files", (f"n{i}.md", f"# Note {i}\n\nText number {i}.".encode(), "text/markdown"))
            for i in range(n)
        ]

    with _client(tmp_path, embedder, max_upload_parts=3) as c:
        r = c.post("/papers/upload", files=files(4))
        assert r.status_code == 413 and "PAPERLENS_MAX_UPLOAD_PARTS" in r.json()["error"]["message"], r.text
        r = c.post("/papers/upload", files=files(3))
        assert r.status_code == 201 and len(r.json()["added"]) == 3, r.text


@pytest.mark.slow
def test_upload_bodies_are_not_held_in_server_memory(tmp_path: Path) -> None:
    """Five 15 MB files in one request: the server's memory grows by far less than 75 MB
    (each file is spooled to disk by Starlette, copied to disk in 1 MB blocks, and read by
    a parse process, never by the server)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(tmp_path / "data", port)
    junk = b"%PDF-1.4\n" + bytes(range(256)) * (15 * 4096)
    try:
        wait_ready(base, proc)
        idle = rss_mb(proc.pid)
        probe = Probe(base, proc.pid)
        files = [("files", (f"junk{i}.pdf", junk, "application/pdf")) for i in range(5)]
        with probe.running():
            r = httpx.post(f"{base}/papers/upload", params={"wait": "false"}, files=files, timeout=120)
        assert r.status_code == 202, r.text
        assert probe.server_peak_mb - idle < 40, (idle, probe.server_peak_mb)
    finally:
        stop(proc)


# --- D: one text limit on every ingest path; bounded responses ---------------------------


def test_every_ingest_path_refuses_a_paper_over_the_text_limit_by_name(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder
) -> None:
    long_abstract = "This sentence makes the abstract long. " * 200  # 7,800 characters
    record = {"id": "too-long-1", "title": "A Very Long Abstract", "abstract": long_abstract}
    small = {"id": "fine-1", "title": "A Short One", "abstract": "Short and fine."}
    jsonl = "\n".join(json.dumps(r) for r in (small, record)).encode()
    markdown = f"# Notes Far Too Long\n\n{long_abstract}".encode()
    with _client(tmp_path, embedder, max_text_chars=5000) as c:
        answers = {
            "JSON": c.post("/papers", json={"papers": [small, record]}),
            "JSONL upload": c.post(
                "/papers/upload", files={"files": ("two.jsonl", jsonl)}, params={"wait": "true"}
            ),
            "markdown upload": c.post("/papers/upload", files={"files": ("notes.md", markdown)}),
        }
        for path, r in answers.items():
            assert r.status_code == 413, (path, r.text)
            message = r.json()["error"]["message"]
            assert "PAPERLENS_MAX_TEXT_CHARS" in message, (path, message)
        assert "too-long-1" in answers["JSON"].json()["error"]["message"]
        assert "A Very Long Abstract" in answers["JSONL upload"].json()["error"]["message"]
        assert "two.jsonl" in answers["JSONL upload"].json()["error"]["message"]
        assert "Notes Far Too Long" in answers["markdown upload"].json()["error"]["message"]
        assert c.get("/papers").json()["total"] == 0  # all or nothing: the short one did not go in either

    source = tmp_path / "two.jsonl"
    source.write_bytes(jsonl)
    cli = paperlens("ingest", str(source), data_dir=tmp_path / "cli", max_text_chars="5000")
    assert cli.returncode == 1 and "too-long-1" in cli.stderr and "PAPERLENS_MAX_TEXT_CHARS" in cli.stderr


def test_ten_million_characters_in_one_abstract_are_refused_at_once(client: TestClient) -> None:
    t0 = time.monotonic()
    r = client.post(
        "/papers", json={"papers": [{"title": "The Endless Abstract", "abstract": "x" * 10_000_000}]}
    )
    assert r.status_code == 413 and "The Endless Abstract" in r.json()["error"]["message"], r.text[:300]
    assert time.monotonic() - t0 < 10  # was: 201 after 54 s, and a 10 MB /search answer


def test_responses_are_passages_and_windows_never_a_whole_long_paper(client: TestClient) -> None:
    run = "abcdefghij" * 5_000  # 50,000 characters without a space or a full stop
    papers = [
        {
            "id": "no-spaces",
            "title": "Run On",
            "abstract": f"Run on text abcdefghij here. {run}",
            "text": run,
        },
        {
            "id": "normal",
            "title": "A Normal Paper",
            "abstract": "We study abcdefghij sequences. They repeat.",
        },
    ]
    assert client.post("/papers", json={"papers": papers}).status_code == 201
    most = 220 * 16  # a chunk is at most CHUNK_TOKENS tokens; no cl100k token of text is longer than 16 chars
    hits = client.get("/search", params={"q": "abcdefghij", "k": 10}).json()["results"]
    assert hits and all(len(h["text"]) <= most for h in hits), [len(h["text"]) for h in hits]
    answer = client.post("/ask", json={"question": "What does abcdefghij text say?"}).json()
    assert answer["citations"] and all(len(c["quote"]) <= most for c in answer["citations"]), answer
    paper = client.get("/papers/no-spaces", params={"text_limit": 1000}).json()
    assert len(paper["abstract"]) == 1000 and paper["abstract_chars"] == len(papers[0]["abstract"])
    assert (
        len(paper["text"]) == 1000 and paper["text_chars"] == len(run) and paper["next_text_offset"] == 1000
    )
    tail = client.get("/papers/no-spaces", params={"text_offset": len(run) - 500}).json()
    assert tail["text"] == run[-500:] and tail["next_text_offset"] is None
    whole = client.get("/papers/no-spaces").json()
    assert whole["abstract_chars"] == len(whole["abstract"]) and whole["next_text_offset"] is None


# --- E: the event loop during large ingests ------------------------------------------------


@pytest.mark.slow
def test_health_stays_fast_while_many_papers_are_ingested(tmp_path: Path) -> None:
    """60 papers (about 500 chunks) in one POST through a real server, /healthz asked every
    20 ms meanwhile. Embedded Chroma holds the GIL for the whole of a write: the one write
    of every chunk stopped the event loop for 0.7-1.5 s (p99 600 ms on a busy 2-core
    machine); paced writes keep each under ~60 ms. Embedding reads 32 word pieces a chunk
    here so the test is quick: it is about the writes, not the vectors. What the machine
    costs an idle server (its idle p99, measured first) is allowed on top of the 100 ms."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(tmp_path / "data", port, embedding_max_tokens="32")
    papers = [
        {
            "title": f"Paper number {i}",
            "abstract": "A paper about models.",
            "text": " ".join(
                f"Sentence {j} of paper {i} says model {j % 7} beats baseline {j % 11} on task {j % 13}."
                for j in range(100)
            ),
        }
        for i in range(60)
    ]
    try:
        wait_ready(base, proc)
        idle = Probe(base, proc.pid)
        with idle.running():
            time.sleep(2)
        probe = Probe(base, proc.pid)
        with probe.running():
            r = httpx.post(f"{base}/papers", json={"papers": papers}, timeout=300)
        assert r.status_code == 201 and len(r.json()["added"]) == 60, r.text[:300]
        assert probe.failures == 0
        assert probe.p99_ms() <= 100 + idle.p99_ms(), (probe.p99_ms(), idle.p99_ms(), max(probe.latencies))
    finally:
        stop(proc)


def test_a_paper_record_holds_its_text_once_and_old_records_still_read() -> None:
    text = "First paragraph of the paper.\n\nSecond paragraph, in the results."
    blocks = [
        TextBlock(text="First paragraph of the paper.", page=1, part="introduction"),
        TextBlock(text="Second paragraph, in the results.", page=2, part="results"),
    ]
    paper = StoredPaper(id="p1", title="T", content_hash="h", n_chunks=2, text=text, blocks=blocks)
    record = paper.to_record()
    assert record.document is not None and record.document.count("Second paragraph") == 1
    assert StoredPaper.from_record(record).blocks == blocks
    old_style = Record(
        record.id,
        record.metadata,
        json.dumps({"abstract": None, "text": text, "blocks": [b.model_dump() for b in blocks]}),
    )
    assert StoredPaper.from_record(old_style).blocks == blocks


def test_names_are_looked_for_in_the_head_of_a_huge_abstract_only() -> None:
    """Three regexes over a 3-million-character abstract held the GIL for about 0.5 s."""
    sentences = (f"Sentence {j} here (ABC{j % 50}) is called Foo{j % 9} and more." for j in range(57_000))
    abstract = "We present Sampling (PROPS), a method. " + " ".join(sentences)
    t0 = time.perf_counter()
    names = paper_names("CARP: a title", abstract)
    assert time.perf_counter() - t0 < 0.05  # was 0.17-0.47 s on 2 vCPUs
    assert {"CARP", "PROPS", "ABC7"} <= set(names)
