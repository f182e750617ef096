"""How far one box goes (issue 33): one Chroma server's query latency, disk and memory, and
the per-replica BM25 index's memory, build and query time, at growing chunk counts.

No model runs: chunk vectors are random unit vectors of the embedder's size (384), which
costs the store what MiniLM's would. On loopback, a `chroma run` server (the scale-out
topology's store) is filled through the real ingest path (chunking, paper records, paced
writes) with synthetic full papers of about 40 chunks (220 tokens each, sentences of the
sample corpus shuffled per paper), up to each size in `--sizes`. At each size:

- **Chroma**: dense query latency (the retriever's query: `k x candidate_multiplier`
  nearest chunks), p50/p99 over `--queries` queries; the server's resident memory and its
  data folder on disk.
- **BM25** (what every API replica holds, `service/retrieval/lexical_index.py`): a cold
  build (a replica starting: every chunk's text read from Chroma, tokenised, indexed), the
  index's retained memory (tracemalloc over a second cold build: the token cache, the
  bm25s matrices, the ids), the rebuild after one more paper is written (what each replica
  does after any write: new chunks tokenised, the bm25s index rebuilt over all), and
  query latency p50/p99.

Writes evals/reports/<timestamp>-capacity.md (the table) and .json (raw figures).

    python -m evals.capacity_eval [--sizes 1000 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench_retrieval import sample_sentences
from evals.metrics import median, percentile
from evals.results_io import REPORTS, stamp
from service.container import build_services
from service.core.config import Settings
from service.corpus.paper import Paper
from service.retrieval.lexical_index import LexicalIndex
from tests.conftest import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DIM = 384
SENTENCES_PER_PAPER = 250  # ~35 tokens each: about 40 chunks of 220 tokens


class RandomVectors:
    """Stands in for the embedder: random unit vectors, one per text."""

    name = "random-384"
    dim = DIM

    def __init__(self) -> None:
        self.rng = np.random.default_rng(11)

    def embed(self, texts: list[str]) -> np.ndarray:
        v = self.rng.normal(size=(len(texts), DIM)).astype(np.float32)
        out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out


def synthetic_paper(n: int, sentences: list[str], rng: random.Random) -> Paper:
    picked = rng.sample(sentences, SENTENCES_PER_PAPER)
    paragraphs = [" ".join(picked[i : i + 6]) for i in range(6, len(picked), 6)]
    return Paper(
        title=f"Synthetic paper {n}: {' '.join(picked[0].split()[:8])}",
        abstract=" ".join(picked[:6]),
        text="\n\n".join(paragraphs),
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def bm25_figures(services: Any, queries: list[str], paper: Paper) -> dict[str, float]:
    store = services.store
    gc.collect()
    index = LexicalIndex(store, refresh_seconds=0.0, background_threshold=10**9)
    t0 = time.perf_counter()
    index.search(queries[0], 10)  # the first search builds it
    cold_s = time.perf_counter() - t0
    lat = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, 10 * services.settings.candidate_multiplier)
        lat.append((time.perf_counter() - t) * 1000)
    # after a write: one more paper, then the rebuild the next search triggers
    report = services.ingest.ingest([paper])
    t0 = time.perf_counter()
    index.search(queries[1], 10)
    rebuild_s = time.perf_counter() - t0
    del index
    gc.collect()
    # retained memory: a second cold build under tracemalloc (slower; not timed)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    index = LexicalIndex(store, refresh_seconds=0.0, background_threshold=10**9)
    index.search(queries[0], 10)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del index
    gc.collect()
    return {
        "bm25_cold_build_s": round(cold_s, 2),
        "bm25_rebuild_after_write_s": round(rebuild_s, 2),
        "bm25_rebuild_new_chunks": report.n_chunks,
        "bm25_memory_mb": round(held / 2**20, 1),
        "bm25_query_p50_ms": round(median(lat), 2),
        "bm25_query_p99_ms": round(percentile(lat, 99), 2),
    }


def chroma_figures(services: Any, n_queries: int, pid: int, folder: Path) -> dict[str, float]:
    rng = RandomVectors()
    rng.rng = np.random.default_rng(5)
    vectors = rng.embed(["q"] * n_queries)
    n = 10 * services.settings.candidate_multiplier
    lat = []
    for v in vectors:
        t = time.perf_counter()
        services.store.chunks.query(v, n, None)
        lat.append((time.perf_counter() - t) * 1000)
    return {
        "chroma_query_p50_ms": round(median(lat), 2),
        "chroma_query_p99_ms": round(percentile(lat, 99), 2),
        "chroma_rss_mb": round(rss_mb(pid), 1),
        "chroma_disk_mb": round(du_mb(folder), 1),
    }


def run(sizes: list[int], n_queries: int, batch: int) -> dict[str, Any]:
    chroma_exe = shutil.which("chroma", path=str(BIN))
    if chroma_exe is None:
        sys.exit("needs chroma (from chromadb) in the venv")
    sentences = sample_sentences()
    rng = random.Random(2)
    qrng = random.Random(3)
    queries = [" ".join(qrng.choice(sentences).split()[:10]) for _ in range(n_queries)]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="paperlens-capacity-") as name:
        tmp = Path(name)
        port = free_port()
        folder = tmp / "chroma"
        server = subprocess.Popen(
            [chroma_exe, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=(tmp / "chroma.log").open("ab"),
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=60)
            settings = Settings(
                data_dir=tmp / "data",
                chroma_url=f"http://127.0.0.1:{port}",
                collection_prefix="capacity",
                _env_file=None,
            )
            services = build_services(settings, embedder=RandomVectors(), with_llm=False)
            chunks = papers = 0
            write_s = 0.0
            for size in sizes:
                while chunks < size:
                    batch_papers = [synthetic_paper(papers + i, sentences, rng) for i in range(batch)]
                    t0 = time.perf_counter()
                    report = services.ingest.ingest(batch_papers)
                    write_s += time.perf_counter() - t0
                    chunks += report.n_chunks
                    papers += len(batch_papers)
                    print(f"  {papers} papers, {chunks} chunks", file=sys.stderr, end="\r")
                row: dict[str, Any] = {
                    "chunks": chunks,
                    "papers": papers,
                    "chunks_per_paper": round(chunks / papers, 1),
                    "ingest_chunks_per_s_without_embedding": round(chunks / write_s, 1),
                }
                row |= chroma_figures(services, n_queries, server.pid, folder)
                extra = synthetic_paper(10**6 + size, sentences, rng)
                row |= bm25_figures(services, queries, extra)
                chunks += row["bm25_rebuild_new_chunks"]
                papers += 1
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "args": {"sizes": sizes, "queries": n_queries},
        "rows": rows,
    }


def report(result: dict[str, Any], stamp: str) -> str:
    lines = [
        f"# Capacity: one Chroma server and the per-replica BM25 index ({stamp})",
        "",
        f"`python -m evals.capacity_eval --sizes {' '.join(map(str, result['args']['sizes']))} "
        f"--queries {result['args']['queries']}` on {result['machine']['cpus']} vCPUs "
        f"({result['machine']['platform']}). Synthetic full papers (~40 chunks of 220 tokens, sample-corpus "
        "sentences shuffled per paper) written through the real ingest path to a `chroma run` server; "
        "random 384-d unit vectors stand in for MiniLM's. Queries: dense = the retriever's Chroma query "
        "(k 10 x candidate multiplier), BM25 = `LexicalIndex.search` over the whole index.",
        "",
        "| chunks | papers | Chroma query p50 / p99 ms | Chroma server RSS MB | Chroma disk MB "
        "| BM25 memory per replica MB | BM25 cold build s | BM25 rebuild after a write s "
        "| BM25 query p50 / p99 ms | ingest chunks/s (no embedding) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['chunks']:,} | {r['papers']:,} | {r['chroma_query_p50_ms']} / {r['chroma_query_p99_ms']} "
            f"| {r['chroma_rss_mb']} | {r['chroma_disk_mb']} | {r['bm25_memory_mb']} "
            f"| {r['bm25_cold_build_s']} | {r['bm25_rebuild_after_write_s']} "
            f"| {r['bm25_query_p50_ms']} / {r['bm25_query_p99_ms']} "
            f"| {r['ingest_chunks_per_s_without_embedding']} |"
        )
    lines += [
        "",
        "BM25 memory: tracemalloc's retained bytes after a cold build (token cache per chunk, bm25s "
        "matrices, ids). Rebuild after a write: one paper (~40 chunks) added, then the rebuild the "
        "next search runs (new chunks tokenised, the bm25s index rebuilt over all). Past 20,000 "
        "chunks a replica runs that rebuild in the background while searches use the previous index.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=25, help="papers per ingest call while filling")
    args = parser.parse_args()
    result = run(sorted(args.sizes), args.queries, args.batch)
    run_at = stamp()
    REPORTS.mkdir(parents=True, exist_ok=True)
    md = REPORTS / f"{run_at}-capacity.md"
    md.write_text(report(result, run_at), encoding="utf-8")
    md.with_suffix(".json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(md.read_text())
    print(f"wrote {md.relative_to(ROOT)} and .json")


if __name__ == "__main__":
    main()
