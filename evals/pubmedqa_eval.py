"""Reading comprehension on PubMedQA dev items (expert-labelled yes/no/maybe).

Each item's contexts are ingested as one document; the item's question goes to /ask
restricted to that document, and the grounded answer is read as a decision: an answer
that opens with "yes" or "no" is that decision, an abstention or anything else is
"maybe". Accuracy is against the gold `final_decision`.

    python -m evals.pubmedqa_eval [--n 60] [--offset 0] [--base-url URL]

The report scores the first 60 items; the yes/no rules were tuned on items 100-159
(`--offset 100`), never on those 60.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evals.client import open_client
from evals.metrics import median
from evals.results_io import save_and_print

DATA = Path(__file__).parent / "data" / "pubmedqa-dev.json"
_DECISION = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


def decision(answer: str, abstained: bool) -> str:
    """yes / no from the answer's first word; maybe when it abstains or hedges."""
    if abstained:
        return "maybe"
    m = _DECISION.match(answer)
    return m.group(1).lower() if m else "maybe"


def load_items(n: int, offset: int = 0) -> list[dict[str, Any]]:
    data = json.loads(DATA.read_text())
    return [
        {
            "id": f"pubmedqa-{pmid}",
            "question": item["QUESTION"],
            "contexts": item["CONTEXTS"],
            "gold": item["final_decision"],
        }
        for pmid, item in list(data.items())[offset : offset + n]
    ]


def run(n: int, base_url: str | None, offset: int = 0) -> dict[str, Any]:
    """`n` items from `offset`: the report scores items 0-59; items from TUNE_OFFSET on are
    the ones rules and thresholds were tuned on."""
    client = open_client(base_url)
    items = load_items(n, offset)
    papers = [
        {"id": i["id"], "title": f"PubMed {i['id'][9:]}", "abstract": " ".join(i["contexts"])} for i in items
    ]
    client.post("/papers", json={"papers": papers}).raise_for_status()
    rows, latencies = [], []
    for item in tqdm(items, desc="pubmedqa", unit="q"):
        t0 = time.perf_counter()
        body = client.post("/ask", json={"question": item["question"], "paper_ids": [item["id"]]}).json()
        latencies.append(time.perf_counter() - t0)
        predicted = decision(body["answer"], body["abstained"])
        rows.append(
            {
                "id": item["id"],
                "gold": item["gold"],
                "predicted": predicted,
                "correct": predicted == item["gold"],
                "answer": body["answer"],
                "usage": body["usage"],
            }
        )
    k = len(rows)
    return {
        "summary": {
            "n": k,
            "accuracy": sum(r["correct"] for r in rows) / k,
            "gold_distribution": dict(Counter(r["gold"] for r in rows)),
            "predicted_distribution": dict(Counter(r["predicted"] for r in rows)),
            "majority_class_accuracy": Counter(r["gold"] for r in rows).most_common(1)[0][1] / k,
            "llm_calls_per_question": sum(r["usage"]["llm_calls"] for r in rows) / k,
            "latency_p50_s": median(latencies),
        },
        "rows": rows,
    }


TUNE_OFFSET = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=60, help="how many items")
    parser.add_argument("--offset", type=int, default=0, help=f"first item ({TUNE_OFFSET}: the tuning items)")
    parser.add_argument("--base-url", default=None, help="a running paperlens server")
    args = parser.parse_args()
    save_and_print("pubmedqa", run(args.n, args.base_url, args.offset))


if __name__ == "__main__":
    main()
