"""Plain-language summaries of SciTLDR-A dev abstracts, scored against the gold TLDRs.

Each abstract is ingested as a paper and summarised through GET /papers/{id}/summary
(refresh=true, so nothing comes from an earlier run's cache). Reports ROUGE-1/2/L F1
(best over the gold TLDRs, `rouge-score` with stemming), the longest run of words the
summary copies from the abstract, and invented numbers (numbers in the summary that the
abstract does not contain; must be 0). Note the gold TLDRs are one expert sentence,
our summaries 3-5 plain-language sentences: ROUGE is low by construction.

    python -m evals.summary_eval [--n 50] [--base-url URL]
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rouge_score import rouge_scorer
from tqdm import tqdm

from evals.client import open_client
from evals.metrics import median, percentile
from evals.results_io import main_with_n
from service.checks.copying import longest_copied_run
from service.evidence.numbers import unsupported_numbers

DATA = Path(__file__).parent / "data" / "scitldr-a-dev.jsonl"


def load_items(n: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines()[:n]]
    return [
        {
            "id": f"scitldr-{r['paper_id']}",
            "title": r.get("title") or r["paper_id"],
            "abstract": " ".join(r["source"]),
            "targets": r["target"],
        }
        for r in rows
    ]


def best_rouge(scorer: rouge_scorer.RougeScorer, summary: str, targets: list[str]) -> dict[str, float]:
    best = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for target in targets:
        scores = scorer.score(target, summary)
        for key in best:
            best[key] = max(best[key], scores[key].fmeasure)
    return best


def run(n: int, base_url: str | None) -> dict[str, Any]:
    client = open_client(base_url)
    items = load_items(n)
    r = client.post(
        "/papers",
        json={"papers": [{"id": i["id"], "title": i["title"], "abstract": i["abstract"]} for i in items]},
    )
    r.raise_for_status()
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rows, latencies = [], []
    for item in tqdm(items, desc="summaries", unit="paper"):
        t0 = time.perf_counter()
        body = client.get(f"/papers/{item['id']}/summary", params={"refresh": "true"}).json()
        latencies.append(time.perf_counter() - t0)
        summary = body["summary"]
        run_len, phrase = longest_copied_run(summary, item["abstract"])
        rows.append(
            {
                "id": item["id"],
                "summary": summary,
                "engine": body["engine"],
                "usage": body["usage"],
                **best_rouge(scorer, summary, item["targets"]),
                "longest_copied_run": run_len,
                "copied": phrase,
                "invented_numbers": sorted(unsupported_numbers(summary, [item["abstract"]])),
            }
        )
    cached_ms = []
    for item in items[:10]:
        t0 = time.perf_counter()
        client.get(f"/papers/{item['id']}/summary")
        cached_ms.append((time.perf_counter() - t0) * 1000)
    k = len(rows)
    return {
        "summary": {
            "n": k,
            "rouge1": sum(r["rouge1"] for r in rows) / k,
            "rouge2": sum(r["rouge2"] for r in rows) / k,
            "rougeL": sum(r["rougeL"] for r in rows) / k,
            "longest_copied_run_max": max(r["longest_copied_run"] for r in rows),
            "longest_copied_run_median": median([float(r["longest_copied_run"]) for r in rows]),
            "invented_numbers": sum(len(r["invented_numbers"]) for r in rows),
            "llm_calls_per_summary": sum(r["usage"]["llm_calls"] for r in rows) / k,
            "extractive_fallbacks": sum(r["engine"] == "extractive" for r in rows),
            "latency_p50_s": median(latencies),
            "latency_p90_s": percentile(latencies, 90),
            "cached_p50_ms": median(cached_ms),
        },
        "rows": rows,
    }


def main() -> None:
    main_with_n("summaries", run, __doc__)


if __name__ == "__main__":
    main()
