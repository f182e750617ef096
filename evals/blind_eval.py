"""Whole papers, questions written blind: `fulltext/blind-ft.jsonl` over the 18 PDFs.

72 questions written by a helper session that saw only the papers' text (never the
code): 60 answerable in LitQA2's form (ideal answer, distractors from the same paper,
key passage) and 12 that sound answerable but whose answer the paper does not give.
Split 24 dev / 48 test before any change to the answer pipeline; the test split is
scored only at the end of a piece of work (the report names how many times).

Each question is asked once through `/ask` (open-ended). An answerable question's answer
is graded as LitQA2 grades it (`fulltext_eval.grade`: right, wrong, or unsure when
declined); an unanswerable question's answer is wrong unless declined.
- precision = right / answered (an answer to an unanswerable question counts as wrong);
- accuracy = right / answerable questions;
- unanswerable_declined = unanswerable questions declined / unanswerable questions.
With `--dial` the questions are asked with `min_confidence: 0` and the report shows
precision and coverage had the bar been each of `user_eval.BARS`.

With `--naive` the naive RAG baseline answers the same questions in the same run: its
p50 latency, the ratio of paperlens's to it, its precision and accuracy, and the machine's
measured prompt tokens/s.

    python -m evals.blind_eval [--data blind-ft|blind-ft2] [--split dev|test] [--base-url URL]
        [--dial] [--naive]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evals.client import guard_counters, open_client
from evals.fulltext_eval import DATA, grade, ingest
from evals.metrics import median, percentile
from evals.results_io import save_and_print
from evals.user_eval import BARS
from service.schemas import AskOut

BLIND = DATA / "blind-ft.jsonl"
PARTIAL_DIR = Path(__file__).parent / "results"


def load_items(split: str, path: Path = BLIND) -> list[dict[str, Any]]:
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [i for i in items if split == "all" or i["split"] == split]


def grade_item(item: dict[str, Any], answer: AskOut) -> str:
    if not item["answerable"]:
        return "declined" if answer.abstained else "wrong"
    return grade(item, answer)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def at(bar: float) -> dict[str, float]:
        def kept(r: dict[str, Any]) -> bool:
            return r["grade"] in ("right", "wrong") and (r["confidence"] is None or r["confidence"] >= bar)

        answered = [r for r in rows if kept(r)]
        right = sum(r["grade"] == "right" for r in answered)
        return {
            "precision": right / max(1, len(answered)),
            "accuracy": right / max(1, len(answerable)),
            "coverage": sum(kept(r) for r in answerable) / max(1, len(answerable)),
            "unanswerable_declined": 1 - sum(kept(r) for r in unanswerable) / max(1, len(unanswerable)),
        }

    seconds = [r["seconds"] for r in rows]
    return {
        "questions": len(rows),
        **at(0.0),
        "ask_p50_s": median(seconds),
        "ask_p90_s": percentile(seconds, 90),
        "llm_calls_per_question": sum(r["llm_calls"] for r in rows) / max(1, len(rows)),
        "precision_coverage": {f"{b:.1f}": at(b) for b in BARS},
    }


def naive_latencies(client: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Naive RAG (`evals.baselines.naive_rag`) on the same questions, store and model, timed
    per question; its answers graded like paperlens's; and the machine's prompt tokens/s."""
    from langchain_openai import ChatOpenAI

    from evals.baselines import naive_rag
    from evals.machine_speed import prompt_tokens_per_s

    services = client.app.state.container.services
    if services.llm.client is None:
        return {"skipped": "no LLM endpoint"}
    base = services.llm.client
    llm = ChatOpenAI(base_url=base.base_url, api_key="none", model=base.model, temperature=0, max_tokens=220)
    rows = []
    for item in tqdm(items, desc="naive RAG", unit="q"):
        t0 = time.perf_counter()
        out = naive_rag.answer(services, llm, item["question"])
        seconds = time.perf_counter() - t0
        answer = AskOut.model_validate(
            {
                **out,
                "model": base.model,
                "prompt_version": "naive",
                "timings_ms": {},
                "dropped": [],
                "cached": False,
            }
        )
        rows.append(
            {
                "id": item["id"],
                "answerable": item["answerable"],
                "grade": grade_item(item, answer),
                "confidence": None,
                "seconds": seconds,
                "llm_calls": 1,
            }
        )
    return {"summary": summarise(rows), "rows": rows, "prompt_tokens_per_s": prompt_tokens_per_s(base)}


def run(
    base_url: str | None, split: str, dial: bool, naive: bool = False, path: Path = BLIND
) -> dict[str, Any]:
    client = open_client(base_url)
    items = load_items(split, path)
    ids, _ = ingest(client, sorted({i["pdf"] for i in items}))
    rows = []
    for item in tqdm(items, desc=f"{path.stem} ({split})", unit="q"):
        body: dict[str, Any] = {"question": item["question"]}
        if dial:
            body["min_confidence"] = 0.0
        t0 = time.perf_counter()
        r = client.post("/ask", json=body)
        seconds = time.perf_counter() - t0
        r.raise_for_status()
        answer = AskOut.model_validate(r.json())
        rows.append(
            {
                "id": item["id"],
                "answerable": item["answerable"],
                "grade": grade_item(item, answer),
                "confidence": answer.confidence,
                "cites_paper": any(c.paper_id == ids[item["pdf"]] for c in answer.citations),
                "answer": answer.answer,
                "ideal": item["ideal"],
                "dropped": [d.reason for d in answer.dropped],
                "llm_calls": answer.usage.llm_calls,
                "seconds": seconds,
                "model": answer.model,
            }
        )
        PARTIAL_DIR.mkdir(exist_ok=True)
        with (PARTIAL_DIR / f"{path.stem}-{split}.partial.jsonl").open("a") as f:
            f.write(json.dumps(rows[-1]) + "\n")
    result: dict[str, Any] = {
        "summary": summarise(rows),
        "rows": rows,
        "split": split,
        "guards": guard_counters(client),
    }
    if naive and base_url is None:
        result["naive_rag"] = baseline = naive_latencies(client, items)
        if "summary" in baseline:
            ours, theirs = result["summary"]["ask_p50_s"], baseline["summary"]["ask_p50_s"]
            result["summary"]["naive_p50_s"] = theirs
            result["summary"]["p50_vs_naive"] = ours / theirs if theirs else float("nan")
            result["summary"]["naive_precision"] = baseline["summary"]["precision"]
            result["summary"]["naive_accuracy"] = baseline["summary"]["accuracy"]
            result["summary"]["prompt_tokens_per_s"] = baseline["prompt_tokens_per_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--dial", action="store_true")
    parser.add_argument("--naive", action="store_true", help="naive RAG on the same questions, same run")
    parser.add_argument(
        "--data", default="blind-ft", help="evals/data/fulltext/<name>.jsonl (default: %(default)s)"
    )
    args = parser.parse_args()
    report = run(args.base_url, args.split, args.dial, args.naive, DATA / f"{args.data}.jsonl")
    save_and_print(f"{args.data}-{args.split}", report)
    for row in report["rows"]:
        if row["grade"] == "wrong":
            print(f"  {row['id']} wrong: {row['answer'][:140]} | ideal {row['ideal']}")


if __name__ == "__main__":
    main()
