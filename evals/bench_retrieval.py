"""Benchmark: ingest throughput and /search latency at 1k, 10k and 100k chunks.

Not a test: it prints a table and writes evals/results/bench_retrieval.json.

- ingest: synthetic papers built from sample-corpus sentences go through the real
  pipeline (chunk, embed with the ONNX model, write to Chroma); reported with and
  without the embedding step, so the model's share is visible.
- sample corpus end to end: `paperlens ingest` in a fresh data dir, model load included.
- search: synthetic chunks (texts from sample sentences, random unit vectors) are
  bulk-loaded; each query runs everything after the query embedding (dense + BM25 +
  fusion + fetch), which is what the store and index cost at that scale. The query
  embedding is timed separately.

    python -m evals.bench_retrieval [--sizes 1000 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from evals.client import SAMPLE
from evals.metrics import median, percentile
from service.components.sentences import split_sentences
from service.container import build_services
from service.core.config import Settings
from service.corpus.loader import load_paths
from service.corpus.paper import Paper
from service.retrieval.retriever import SearchTimings

RESULTS = Path(__file__).parent / "results"


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, _env_file=None)


def sample_sentences() -> list[str]:
    return [s for p in load_paths([SAMPLE]) for s in split_sentences(p.body)]


def synthetic_papers(n: int, sentences: list[str], rng: random.Random) -> list[Paper]:
    return [
        Paper(title=f"Synthetic paper {i}", abstract=" ".join(rng.sample(sentences, 12))) for i in range(n)
    ]


class _NoEmbed:
    """Stands in for the model to time the rest of the ingest path alone."""

    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.random.default_rng(0).normal(size=(len(texts), self.dim)).astype(np.float32)
        out: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return out


def bench_ingest(n_papers: int, sentences: list[str]) -> dict[str, float]:
    rng = random.Random(1)
    out: dict[str, float] = {}
    for label, embedder in (("with_embedding", None), ("without_embedding", _NoEmbed())):
        with tempfile.TemporaryDirectory() as tmp:
            services = build_services(_settings(Path(tmp)), embedder=embedder, with_llm=False)
            papers = synthetic_papers(n_papers, sentences, rng)
            t0 = time.perf_counter()
            report = services.ingest.ingest(papers)
            dt = time.perf_counter() - t0
            out[f"{label}_chunks_per_s"] = report.n_chunks / dt
            out[f"{label}_chunks"] = report.n_chunks
    return out


def bench_sample_end_to_end() -> float:
    """Wall time of `paperlens ingest <sample>` in a fresh data dir (model load included)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PAPERLENS_DATA_DIR": tmp}
        exe = Path(sys.executable).parent / "paperlens"
        t0 = time.perf_counter()
        subprocess.run([str(exe), "ingest", str(SAMPLE)], env=env, check=True, capture_output=True)
        return time.perf_counter() - t0


def bulk_load(services: object, n_chunks: int, sentences: list[str], per_paper: int = 10) -> None:
    """Write synthetic chunks straight into the collections (the scale set-up, not timed)."""
    store = services.store  # type: ignore[attr-defined]
    rng = np.random.default_rng(7)
    batch = 4096
    for start in tqdm(range(0, n_chunks, batch), desc=f"load {n_chunks:,}", leave=False):
        ids, docs, metas = [], [], []
        for i in range(start, min(start + batch, n_chunks)):
            pid = f"synthetic-{i // per_paper}"
            text = " ".join(sentences[(i * 7 + j) % len(sentences)] for j in range(3))
            ids.append(f"{pid}::0000000000::{i % per_paper}")
            docs.append(text)
            metas.append(
                {
                    "paper_id": pid,
                    "title": f"Synthetic {i // per_paper}",
                    "position": i % per_paper,
                    "sentences": "[]",
                }
            )
        vectors = rng.normal(size=(len(ids), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.chunks.collection.add(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)
    store.generation.bump()


def bench_search(n_chunks: int, n_queries: int, sentences: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        services = build_services(_settings(Path(tmp)), with_llm=False)
        bulk_load(services, n_chunks, sentences)
        rng = random.Random(3)
        queries = [" ".join(rng.choice(sentences).split()[:12]) for _ in range(n_queries)]
        vectors = services.embedder.embed(queries)
        t0 = time.perf_counter()
        services.retriever.search_by_vector(queries[0], vectors[0], 5)  # builds BM25
        build_s = time.perf_counter() - t0
        embed_ms = []
        for q in queries[:50]:
            t = time.perf_counter()
            services.embedder.embed([q])
            embed_ms.append((time.perf_counter() - t) * 1000)
        lat: list[float] = []
        parts: dict[str, list[float]] = {"dense": [], "lexical": [], "fetch": []}
        for q, v in zip(queries, vectors, strict=True):
            timings = SearchTimings()
            t = time.perf_counter()
            services.retriever.search_by_vector(q, v, 5, timings=timings)
            lat.append((time.perf_counter() - t) * 1000)
            parts["dense"].append(timings.dense_ms)
            parts["lexical"].append(timings.lexical_ms)
            parts["fetch"].append(timings.fetch_ms)
        return {
            "chunks": n_chunks,
            "search_p50_ms": median(lat),
            "search_p99_ms": percentile(lat, 99),
            **{f"{name}_p50_ms": median(values) for name, values in parts.items()},
            "query_embed_p50_ms": median(embed_ms),
            "bm25_build_s": build_s,
        }


def run(sizes: list[int], queries: int, ingest_papers: int) -> dict[str, Any]:
    sentences = sample_sentences()
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "ingest": bench_ingest(ingest_papers, sentences),
        "sample_corpus_ingest_s": bench_sample_end_to_end(),
        "search": [bench_search(n, queries, sentences) for n in sizes],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ingest-papers", type=int, default=100)
    args = parser.parse_args()
    result = run(args.sizes, args.queries, args.ingest_papers)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_retrieval.json").write_text(json.dumps(result, indent=2))
    ing = result["ingest"]
    assert isinstance(ing, dict)
    print(f"\ningest, real model:        {ing['with_embedding_chunks_per_s']:8.1f} chunks/s")
    print(f"ingest, embedding skipped: {ing['without_embedding_chunks_per_s']:8.1f} chunks/s")
    print(f"sample corpus end to end:  {result['sample_corpus_ingest_s']:8.1f} s (model load included)")
    print(
        "\n| chunks | search p50 ms | search p99 ms | dense p50 | BM25 p50 | fetch p50 "
        "| query embed p50 ms | BM25 build s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in result["search"]:
        print(
            f"| {row['chunks']:,} | {row['search_p50_ms']:.2f} | {row['search_p99_ms']:.2f} | "
            f"{row['dense_p50_ms']:.2f} | {row['lexical_p50_ms']:.2f} | {row['fetch_p50_ms']:.2f} | "
            f"{row['query_embed_p50_ms']:.2f} | {row['bm25_build_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
