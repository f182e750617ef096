"""Ingest throughput against the number of workers on the shared queue (issue 33): is the
queue the bottleneck, or the embedder?

On loopback: a `redis-server`, a `chroma run` server and a fake OpenAI-compatible
embeddings server that answers every batch after a fixed latency (`--latency`, default
0.25 s for a batch of 8 chunks: about what MiniLM costs on a CPU server of its own),
so adding workers adds embedding capacity the way adding embedder slots would, while this
2-core machine only runs the queue, the chunking and the writes. For each worker count
(`--workers 1 2 4`) a fresh collection, N `paperlens worker` processes (started and
registered before the clock starts), one job of `--files` text papers of
`--chunks` chunks each submitted straight to the queue, and the time until its last file
is recorded. Prints a Markdown table (papers/s, chunks/s, speed-up over 1 worker) and
writes evals/reports/<timestamp>-scale.md and .json.

The real single-box figure: `--embedder onnx` leaves the embeddings server out (each
worker loads the bundled ONNX model, before the clock starts) and `--pdfs DIR` submits
the PDFs of DIR instead of synthetic papers.

    python -m evals.scale_eval [--workers 1 2 4] [--files 48] [--chunks 24] [--latency 0.25]
    python -m evals.scale_eval --workers 1 --embedder onnx --pdfs evals/data/fulltext/pdfs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from evals.fake_embeddings import fake_embeddings
from service.core.config import Settings
from service.ingest.shared_jobs import SharedJobQueue
from tests.conftest import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "evals" / "reports"
BIN = Path(sys.executable).parent
WORDS = [
    "protein",
    "binding",
    "assay",
    "model",
    "cells",
    "growth",
    "signal",
    "pathway",
    "sample",
    "measure",
    "result",
    "increase",
    "decrease",
    "control",
    "treatment",
    "response",
    "gene",
    "expression",
    "network",
    "layer",
    "training",
    "data",
    "robot",
    "policy",
    "reward",
    "transfer",
    "learning",
    "accuracy",
    "baseline",
    "dataset",
    "benchmark",
    "method",
    "analysis",
]


def paper_text(n: int, chunks: int) -> str:
    """A Markdown paper of about `chunks` chunks (220 tokens each), words varied by `n`."""
    sentences = []
    for s in range(chunks * 9):  # ~9 sentences of ~22 words per chunk
        words = [WORDS[(n * 7 + s * 3 + w) % len(WORDS)] for w in range(20)]
        sentences.append(f"Sentence {s} of paper {n}: " + " ".join(words) + ".")
    return f"# Synthetic paper {n} on {WORDS[n % len(WORDS)]}\n\n" + " ".join(sentences) + "\n"


def start(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def run(workers: int, files: list[Path], base_env: dict[str, str], tmp: Path) -> dict[str, Any]:
    prefix = f"scale{uuid.uuid4().hex[:8]}"
    env = {**base_env, "PAPERLENS_COLLECTION_PREFIX": prefix}
    client = redis.Redis.from_url(env["PAPERLENS_QUEUE_URL"])
    queue = Queue(f"{prefix}-ingest", connection=client, serializer=JSONSerializer)
    procs = [
        start([str(BIN / "paperlens"), "worker"], tmp / f"w{workers}-{i}.log", env) for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 180
        while len({w.pid for w in Worker.all(queue=queue)} & {p.pid for p in procs}) < workers:
            assert all(p.poll() is None for p in procs), f"a worker exited; see {tmp}"
            assert time.monotonic() < deadline, "the workers did not register"
            time.sleep(0.2)
        settings = Settings(
            queue_url=env["PAPERLENS_QUEUE_URL"], collection_prefix=prefix, data_dir=tmp / "api"
        )
        jobs = SharedJobQueue(settings)
        staged = tmp / f"upload-{prefix}"  # submit moves or reads its files: give it copies
        staged.mkdir()
        copies = [Path(shutil.copy(f, staged / f.name)) for f in files]
        t0 = time.perf_counter()
        job = jobs.submit([(f.name, f) for f in copies])
        while (state := jobs.get(job.job_id)).status in ("queued", "running"):
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        assert state.status == "done", state
        chunks = sum(f.chunks for f in state.files)
        return {
            "workers": workers,
            "files": len(files),
            "files_failed": sum(f.status == "failed" for f in state.files),
            "chunks": chunks,
            "seconds": round(seconds, 2),
            "papers_per_s": round(len(files) / seconds, 3),
            "papers_per_min": round(60 * len(files) / seconds, 1),
            "chunks_per_s": round(chunks / seconds, 1),
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--chunks", type=int, default=24)
    parser.add_argument("--latency", type=float, default=0.25, help="seconds per embeddings batch")
    parser.add_argument(
        "--embedder", choices=["fake", "onnx"], default="fake", help="onnx: the bundled model, in each worker"
    )
    parser.add_argument("--pdfs", type=Path, help="submit these PDFs (a folder) instead of synthetic papers")
    args = parser.parse_args()
    redis_exe, chroma_exe = shutil.which("redis-server"), shutil.which("chroma", path=str(BIN))
    if redis_exe is None or chroma_exe is None:
        sys.exit("needs redis-server (apt-get install redis-server) and chroma (from chromadb)")
    with tempfile.TemporaryDirectory(prefix="paperlens-scale-") as name:
        tmp = Path(name)
        papers = tmp / "papers"
        papers.mkdir()
        files = sorted(args.pdfs.glob("*.pdf")) if args.pdfs else []
        for n in range(0 if args.pdfs else args.files):
            path = papers / f"paper-{n:03d}.md"
            path.write_text(paper_text(n, args.chunks), encoding="utf-8")
            files.append(path)
        assert files, f"no PDFs under {args.pdfs}"
        redis_port, chroma_port, embed_port = free_port(), free_port(), free_port()
        servers = [
            start(
                [
                    redis_exe,
                    "--port",
                    str(redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--dir",
                    str(tmp),
                ],
                tmp / "redis.log",
                dict(os.environ),
            ),
            start(
                [
                    chroma_exe,
                    "run",
                    "--path",
                    str(tmp / "chroma"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(chroma_port),
                ],
                tmp / "chroma.log",
                dict(os.environ),
            ),
        ]
        try:
            wait_for_http(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", timeout=60)
            with fake_embeddings(embed_port, latency_s=args.latency) as served:
                env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLENS_")}
                env |= {
                    "PAPERLENS_DATA_DIR": str(tmp / "data"),
                    "PAPERLENS_CHROMA_URL": f"http://127.0.0.1:{chroma_port}",
                    "PAPERLENS_QUEUE_URL": f"redis://127.0.0.1:{redis_port}/0",
                    "PAPERLENS_LLM": "none",
                }
                if args.embedder == "fake":  # else each worker loads the bundled ONNX model
                    env |= {
                        "PAPERLENS_EMBEDDING_BASE_URL": served.url,
                        "PAPERLENS_EMBEDDING_MODEL": "fake-bag-of-words",
                    }
                load_before = os.getloadavg()[0]
                rows = [run(n, files, env, tmp) for n in args.workers]
        finally:
            for s in servers:
                s.terminate()
                s.wait(timeout=30)
    base = rows[0]["papers_per_s"] / rows[0]["workers"]
    what = (
        f"{len(files)} PDFs of {args.pdfs}"
        if args.pdfs
        else f"{args.files} text papers x ~{args.chunks} chunks"
    )
    how = (
        f"a fake embeddings server, {args.latency:g} s per batch of 8"
        if args.embedder == "fake"
        else "the bundled ONNX embedder (all-MiniLM-L6-v2 int8) in each worker"
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    lines = [
        f"# Ingest throughput by workers ({stamp})",
        "",
        f"`python -m evals.scale_eval {' '.join(sys.argv[1:])}` on {os.cpu_count()} vCPUs: {what}; {how}; "
        "a `redis-server` and a `chroma run` server on loopback; workers registered (model loaded) "
        "before the clock starts, which stops when the job's last file is recorded. Load average "
        f"(1 min) when the first run started: {load_before:.2f}.",
        "",
        "| workers | seconds | files failed | chunks | papers/min | chunks/s | speed-up over 1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        row["speedup"] = round(row["papers_per_s"] / base, 2)
        lines.append(
            f"| {row['workers']} | {row['seconds']} | {row['files_failed']} | {row['chunks']} "
            f"| {row['papers_per_min']} | {row['chunks_per_s']} | {row['speedup']} |"
        )
    REPORTS.mkdir(parents=True, exist_ok=True)
    out = REPORTS / f"{stamp}-scale.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args_json = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    out.with_suffix(".json").write_text(
        json.dumps({"args": args_json, "rows": rows}, indent=2), encoding="utf-8"
    )
    print("\n".join(lines))
    print(f"\nwrote {out.relative_to(ROOT)} and .json")


if __name__ == "__main__":
    main()
