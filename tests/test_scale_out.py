"""The scale-out topology, on loopback, as real processes: a `redis-server` (the shared
queue, limits and answer cache), a Chroma server, two API replicas (`paperlens serve`)
and two workers (`paperlens worker`), with a fake embeddings server (fixed latency per
batch) so no model runs. PDFs go in through replica A and are watched through replica B;
one worker is killed with SIGKILL in the middle of a file; afterwards every paper is
searchable once through both replicas, the killed file was run again by the other worker,
a job cancelled through B never ran, limits and answers are shared, and nothing is left
behind (no upload in Redis, no entry on the queue, no chunk without its paper).

Needs Debian's `redis-server` (`apt-get install redis-server`; CI installs it); without it
these tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from rq import Queue, Retry, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from evals.fake_embeddings import DIM, fake_embeddings
from service.components.vector_store.chroma_client import open_chroma
from service.components.vector_store.paper_store import PaperStore
from service.ingest import shared_jobs
from service.ingest.shared_jobs import IngestWorker, SharedJobStore

from .conftest import free_port
from .live_server import serve, stop, wait_ready
from .test_cli_and_server import BIN, cli_env, paperlens

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PDFS = ROOT / "evals" / "data" / "fulltext" / "pdfs"
RETRIED_WITHIN_S = 60  # a killed worker's file is started again by another worker within this
# (its entry lapses 20 s after the last heartbeat, and maintenance runs every 10 s), whatever
# PAPERLENS_QUEUE_FILE_TIMEOUT_S is: it stays at its default (600 s) here


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `redis-server` on loopback, nothing saved to disk; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; CI installs it)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*args, "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert proc.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def worker(data: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    full = {**cli_env(data), "PAPERLENS_LLM": "none", **{f"PAPERLENS_{k.upper()}": v for k, v in env.items()}}
    return subprocess.Popen(
        [str(BIN / "paperlens"), "worker"],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        start_new_session=True,  # the worker and its parse processes: killed together, as a machine dies
    )


def wait_workers(client: redis.Redis, queue: Queue, pids: set[int], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while {w.pid for w in Worker.all(queue=queue)} < pids:
        assert time.monotonic() < deadline, "the workers did not register on the queue"
        time.sleep(0.2)


def upload(base: str, paths: list[Path]) -> dict[str, Any]:
    files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in paths]
    r = httpx.post(f"{base}/papers/upload", params={"wait": "false"}, files=files, timeout=120)
    assert r.status_code == 202, r.text
    job: dict[str, Any] = r.json()
    return job


def job_of(base: str, job_id: str) -> dict[str, Any]:
    r = httpx.get(f"{base}/jobs/{job_id}", timeout=30)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_replicas_and_workers_share_jobs_limits_and_answers_and_survive_a_killed_worker(
    redis_url: str, chroma_server: str, tmp_path: Path
) -> None:
    prefix = f"scale{uuid.uuid4().hex[:8]}"
    pdfs = sorted(PDFS.glob("*.pdf"), key=lambda p: p.stat().st_size)[:6]
    assert len(pdfs) == 6, f"the full-text PDFs are missing under {PDFS}"
    data = tmp_path / "data"  # one volume, as docker-compose mounts it in every container
    logs = tmp_path / "logs"
    logs.mkdir()
    client = redis.Redis.from_url(redis_url)
    queue = Queue(f"{prefix}-ingest", connection=client, serializer=JSONSerializer)
    procs: list[subprocess.Popen[bytes]] = []
    with fake_embeddings(free_port(), latency_s=0.05) as embeddings:
        env = {
            "chroma_url": chroma_server,
            "queue_url": redis_url,
            "collection_prefix": prefix,
            "embedding_base_url": embeddings.url,
            "embedding_model": "fake-bag-of-words",
            "llm_rate_limit_per_min": "1",
            "llm_rate_limit_burst": "3",
        }
        try:
            ports = free_port(), free_port()
            a, b = (f"http://127.0.0.1:{p}" for p in ports)
            procs.append(serve(data, ports[0], logs / "api-a.log", **env))
            wait_ready(a, procs[0], timeout=120)  # first alone: it creates the collections
            procs.append(serve(data, ports[1], logs / "api-b.log", **env))
            wait_ready(b, procs[1], timeout=120)

            # a job cancelled through B before any worker runs: its file never goes in
            cancelled = upload(a, [pdfs[-1]])
            r = httpx.delete(f"{b}/jobs/{cancelled['job_id']}", timeout=30)
            assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
            assert [f["status"] for f in r.json()["files"]] == ["cancelled"]

            job = upload(a, pdfs[:5])
            assert job["status"] == "queued" and job["papers_total"] == 5
            assert job_of(b, job["job_id"])["files"] == job["files"]  # any replica knows it
            assert httpx.get(f"{b}/jobs/nosuchjob", timeout=30).status_code == 404

            workers = [worker(data, logs / f"worker-{i}.log", **env) for i in (1, 2)]
            procs += workers
            wait_workers(client, queue, {w.pid for w in workers})

            # SIGKILL the worker that is indexing a file, in the middle of it
            killed_file, deadline = None, time.monotonic() + 120
            while killed_file is None:
                assert time.monotonic() < deadline, "no file was ever seen running"
                files = job_of(b, job["job_id"])["files"]
                running = {f"{job['job_id']}-{i}" for i, f in enumerate(files) if f["status"] == "running"}
                for w in Worker.all(queue=queue):
                    current = w.get_current_job_id()
                    if current in running and w.pid in {p.pid for p in workers}:
                        os.killpg(w.pid, signal.SIGKILL)
                        killed_at = time.monotonic()
                        killed_file = int(current.rsplit("-", 1)[1])
                        break
                else:
                    time.sleep(0.05)

            # the other worker starts the killed file again within RETRIED_WITHIN_S
            store = SharedJobStore(client, prefix, 3600)
            while (rerun := store.file(job["job_id"], killed_file)) is None or rerun.attempts < 2:
                waited = time.monotonic() - killed_at
                assert waited < RETRIED_WITHIN_S, f"the killed file was not retried in {waited:.0f} s"
                time.sleep(0.25)
            retried_after = time.monotonic() - killed_at
            print(f"the killed worker's file was started again {retried_after:.1f} s after the kill")

            deadline = time.monotonic() + 180
            while (state := job_of(b, job["job_id"]))["status"] in ("queued", "running"):
                assert time.monotonic() < deadline, f"the job did not finish: {state}"
                time.sleep(1)
            assert state["status"] == "done", state
            assert [f["status"] for f in state["files"]] == ["done"] * 5, state
            ids = [f["paper_id"] for f in state["files"]]
            assert len(set(ids)) == 5 and None not in ids

            # the killed file was run again, by the other worker, and landed once
            loaded = store.load(job["job_id"])
            assert loaded is not None
            assert loaded[1][killed_file].attempts >= 2, (loaded[1][killed_file], retried_after)

            # every paper once, searchable through both replicas
            for base in (a, b):
                listed = httpx.get(f"{base}/papers", params={"limit": 500}, timeout=30).json()
                assert listed["total"] == 5 and sorted(p["id"] for p in listed["papers"]) == sorted(ids)
                for paper in listed["papers"]:
                    r = httpx.get(f"{base}/search", params={"q": paper["title"], "k": 10}, timeout=60)
                    hits = r.json()["results"]
                    assert paper["id"] in {h["paper_id"] for h in hits}, (base, paper["title"])
                    assert len({h["chunk_id"] for h in hits}) == len(hits)

            # nothing orphaned: chunks are exactly the papers' chunks, nothing waits in Redis
            chroma = PaperStore(open_chroma(chroma_server, tmp_path), prefix, "fake-bag-of-words", DIM)
            owners = chroma.chunks.owners()
            hashes = chroma.papers.content_hashes(ids)
            assert all(hashes.get(pid) == digest for pid, digest in owners.values())
            per_paper = Counter(pid for pid, _ in owners.values())
            listed_chunks = {p["id"]: p["n_chunks"] for p in listed["papers"]}
            assert dict(per_paper) == listed_chunks
            assert list(client.scan_iter(match=f"{prefix}:blob:*")) == []
            assert queue.count == 0 and queue.started_job_registry.count == 0
            assert queue.failed_job_registry.count == 0
            assert job_of(b, cancelled["job_id"])["status"] == "cancelled"

            # one answer cache and one set of LLM-route buckets (burst 3) for both replicas
            question = {"question": f"What does {listed['papers'][0]['title']} report?"}
            first = httpx.post(f"{a}/ask", json=question, timeout=120)
            assert first.status_code == 200, first.text
            again = httpx.post(f"{b}/ask", json=question, timeout=120)
            assert again.status_code == 200 and again.json()["cached"] is True, again.text
            assert again.json()["answer"] == first.json()["answer"]
            assert httpx.post(f"{a}/ask", json=question, timeout=120).status_code == 200
            over = httpx.post(f"{b}/ask", json=question, timeout=120)
            assert over.status_code == 429 and "Retry-After" in over.headers, over.text
            assert httpx.post(f"{a}/ask", json=question, timeout=120).status_code == 429
        finally:
            for proc in procs:
                stop(proc)


def test_a_worker_without_a_queue_says_what_to_set(tmp_path: Path) -> None:
    result = paperlens("worker", data_dir=tmp_path / "data")
    assert result.returncode == 2
    assert "PAPERLENS_QUEUE_URL" in result.stderr


def a_long_file(seconds: float) -> str:
    """A queue entry that runs longer than a heartbeat's time to live."""
    time.sleep(seconds)
    return "done"


def test_a_live_workers_long_file_is_never_taken_for_a_dead_ones(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat that makes a killed worker's file come back in seconds must not hand a
    live worker's file to another: an entry renewed every 0.5 s with a 2 s time to live stays
    in the started registry, unexpired, through a 5 s file, and the file runs once."""
    monkeypatch.setattr(shared_jobs, "HEARTBEAT_S", 0.5)
    monkeypatch.setattr(shared_jobs, "HEARTBEAT_TTL_S", 2)
    client = redis.Redis.from_url(redis_url)
    queue = Queue(f"beat{uuid.uuid4().hex[:8]}-ingest", connection=client, serializer=JSONSerializer)
    job = queue.enqueue(f"{__name__}.a_long_file", 5.0, job_timeout=600, retry=Retry(max=3))
    seen, expired = 0, []
    done = threading.Event()

    def watch() -> None:  # reads the registry without cleaning it (count() would requeue lapsed entries)
        nonlocal seen
        while not done.wait(0.2):
            seen += len(queue.started_job_registry.get_job_ids(cleanup=False))
            expired.extend(queue.started_job_registry.get_expired_job_ids())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        IngestWorker([queue], connection=client, serializer=JSONSerializer).work(burst=True, max_jobs=1)
    finally:
        done.set()
        watcher.join()
    job = Job.fetch(job.id, connection=client, serializer=JSONSerializer)
    assert job.get_status() == "finished" and job.return_value() == "done"
    assert seen >= 15 and expired == []  # in the registry all along, never lapsed
    assert job.retries_left == 3 and queue.count == 0
