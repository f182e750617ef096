"""Retrieval quality on our own paraphrased questions over the sample corpus.

Each question in data/retrieval_questions.jsonl paraphrases one paper without quoting
its title; we ask /search and score where that paper's first passage lands.

    python -m evals.retrieval_eval [--base-url http://host:8000] [--k 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tqdm import tqdm

from evals.client import ensure_sample_corpus, open_client
from evals.metrics import median, recall_at_k, reciprocal_rank
from evals.results_io import save_and_print

DATA = Path(__file__).parent / "data" / "retrieval_questions.jsonl"


def run(base_url: str | None, k: int, depth: int = 10) -> dict[str, object]:
    client = open_client(base_url)
    ids = ensure_sample_corpus(client)
    questions = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    rows = []
    for q in tqdm(questions, desc="retrieval", unit="q"):
        gold = ids[q["paper"]]
        t0 = time.perf_counter()
        hits = client.get("/search", params={"q": q["question"], "k": depth}).json()["results"]
        ms = (time.perf_counter() - t0) * 1000
        ranked = list(dict.fromkeys(h["paper_id"] for h in hits))  # papers, in first-hit order
        rows.append(
            {
                "question": q["question"],
                "gold": gold,
                "ranked": ranked,
                "rr": reciprocal_rank(ranked, gold),
                "hit@1": recall_at_k(ranked, gold, 1),
                f"hit@{k}": recall_at_k(ranked, gold, k),
                "ms": ms,
            }
        )
    n = len(rows)
    return {
        "n_questions": n,
        "recall@1": sum(r["hit@1"] for r in rows) / n,
        f"recall@{k}": sum(r[f"hit@{k}"] for r in rows) / n,
        f"mrr@{depth}": sum(r["rr"] for r in rows) / n,
        "search_ms_median": median([r["ms"] for r in rows]),
        "misses": [
            {"question": r["question"], "gold": r["gold"], "got": r["ranked"][:k]}
            for r in rows
            if not r[f"hit@{k}"]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=None, help="a running paperlens server")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    report = run(args.base_url, args.k)
    save_and_print("retrieval", report, {k: v for k, v in report.items() if k != "misses"})
    for miss in report["misses"]:  # type: ignore[attr-defined]
        print(f"  miss: {miss['question'][:80]}... gold={miss['gold']}")


if __name__ == "__main__":
    main()
