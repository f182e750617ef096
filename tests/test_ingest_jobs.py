"""Uploads that do not make the user wait: 202 with a job, progress, a bad file failing
alone, and a job that survives the server being killed in the middle of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from .conftest import free_port, wait_for_http

FULLTEXT = Path(__file__).resolve().parents[1] / "evals" / "data" / "fulltext" / "pdfs"
PDF_A = FULLTEXT / "10.1093_nar_gkae252.pdf"
PDF_B = FULLTEXT / "10.1128_aem.01486-22.pdf"
PDF_C = FULLTEXT / "10.1093_nar_gkae222.pdf"


def pdf_files(*paths: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (p.name, p.read_bytes(), "application/pdf")) for p in paths]


def poll(get: Any, url: str, timeout: float = 240.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = get(url).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


@pytest.mark.slow
def test_large_upload_answers_202_at_once_and_a_bad_file_fails_alone(client: TestClient) -> None:
    files = [
        *pdf_files(PDF_A),
        ("files", ("broken.pdf", b"%PDF-1.4 not really a pdf" * 20_000, "application/pdf")),
    ]
    t0 = time.perf_counter()
    r = client.post("/papers/upload", files=files)
    assert r.status_code == 202, r.text
    assert time.perf_counter() - t0 < 1.0  # answered before any parsing or embedding
    accepted = r.json()
    assert accepted["status"] in ("queued", "running") and r.headers["location"] == accepted["status_url"]
    assert accepted["papers_total"] == 2
    job = poll(client.get, accepted["status_url"])
    assert job["status"] == "done" and job["papers_done"] == 2
    good, bad = job["files"]
    assert good["status"] == "done" and good["paper_id"] and good["chunks"] > 20
    assert bad["status"] == "failed" and "broken.pdf" in bad["error"] and "PDF" in bad["error"]
    assert job["chunks_done"] == good["chunks"]
    listed = client.get("/papers").json()
    assert [p["id"] for p in listed["papers"]] == [good["paper_id"]]


@pytest.mark.slow
def test_wait_true_keeps_the_synchronous_answer_and_unknown_jobs_are_404(client: TestClient) -> None:
    r = client.post("/papers/upload", params={"wait": "true"}, files=pdf_files(PDF_B))
    assert r.status_code == 201 and len(r.json()["added"]) == 1
    missing = client.get("/jobs/nope")
    assert missing.status_code == 404 and "POST /papers/upload" in missing.json()["error"]["message"]
    unknown = client.post(
        "/papers/upload", params={"wait": "false"}, files=[("files", ("x.docx", b"PK..", "a/b"))]
    )
    assert unknown.status_code == 415  # refused before a job is made


def test_many_small_files_make_a_job_too(client: TestClient) -> None:
    files = [
        ("files", (f"p{i}.md", f"# Paper {i}\n\nIt studies topic {i}. Well.".encode(), "text/markdown"))
        for i in range(9)
    ]
    r = client.post("/papers/upload", files=files)
    assert r.status_code == 202
    job = poll(client.get, r.json()["status_url"])
    assert job["status"] == "done" and job["papers_done"] == 9 and client.get("/papers").json()["total"] == 9


@pytest.mark.slow
def test_a_job_survives_kill_9_of_the_server(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLENS_")}
    env.update(PAPERLENS_DATA_DIR=str(tmp_path / "data"), PAPERLENS_LLM="none")

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "paperlens"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_http(f"{base}/healthz", timeout=60)
        deadline = time.monotonic() + 120
        while httpx.get(f"{base}/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        return proc

    server = start()
    try:
        r = httpx.post(f"{base}/papers/upload", files=pdf_files(PDF_A, PDF_B, PDF_C), timeout=30)
        assert r.status_code == 202, r.text
        url = base + r.json()["status_url"]
        deadline = time.monotonic() + 240
        while httpx.get(url).json()["papers_done"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(server.pid, signal.SIGKILL)  # in the middle of the job: one file in, two to go
        server.wait(timeout=30)
        server = start()
        job = poll(lambda u: httpx.get(u, timeout=10), url)
        assert job["status"] == "done", job
        assert [f["status"] for f in job["files"]] == ["done", "done", "done"]
        papers = httpx.get(f"{base}/papers").json()["papers"]
        assert len(papers) == 3
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["chunks"] == sum(p["n_chunks"] for p in papers)  # nothing duplicated or half-written
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def test_a_cancelled_job_skips_the_files_it_had_not_started(client: TestClient) -> None:
    files = [
        (
            "files",
            (f"note-{i}.md", (f"# Note {i} on fast models\n\n" + f"Model {i} runs fast. " * 300).encode()),
        )
        for i in range(12)
    ]
    accepted = client.post("/papers/upload", files=files, params={"wait": "false"}).json()
    cancelled = client.delete(accepted["status_url"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    time.sleep(2.0)  # the file being indexed when it was cancelled finishes; nothing after it starts
    job = client.get(accepted["status_url"]).json()
    statuses = [f["status"] for f in job["files"]]
    assert job["status"] == "cancelled" and statuses.count("cancelled") >= 10
    done = {pid for f in job["files"] if f["status"] == "done" for pid in f["paper_ids"]}
    assert {p["id"] for p in client.get("/papers").json()["papers"]} <= done
    assert client.get("/papers").json()["total"] == len(done) <= 2
    again = client.delete(accepted["status_url"])  # cancelling a finished job changes nothing
    assert again.status_code == 200 and again.json()["files"] == job["files"]
    assert client.delete("/jobs/nope").status_code == 404
