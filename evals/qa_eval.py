"""Grounded QA on our own question set over the sample corpus.

data/qa_questions.jsonl: single-paper, multi-paper and unanswerable questions. Each
answerable one lists facts (alternatives per fact) the answer must state.

- answer accuracy: answerable questions answered (not abstained) with every fact
  present in the answer text;
- citation precision: citations whose quote comes from a gold paper and contains one
  of the question's facts;
- abstention accuracy: unanswerable questions the service abstained on; also the
  false-abstention rate on answerable ones;
- mean LLM calls and prompt/completion tokens per question; latency p50/p90;
- the same questions asked again: latency served from the answer cache, and hit rate.

    python -m evals.qa_eval [--base-url URL] [--only q01,u02]
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import zip_longest
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evals.client import ensure_sample_corpus, guard_counters, open_client
from evals.metrics import median, percentile
from evals.results_io import save_and_print
from service.schemas import AskOut

DATA = Path(__file__).parent / "data" / "qa_questions.jsonl"


def has_fact(text: str, alternatives: list[str]) -> bool:
    low = text.lower()
    return any(alt.lower() in low for alt in alternatives)


def score_item(item: dict[str, Any], response: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    gold_ids = {ids[t] for t in item["papers"]}
    answer = response["answer"]
    correct_facts = all(has_fact(answer, alts) for alts in item["facts"])
    citations = response["citations"]
    good_citations = [
        c
        for c in citations
        if c["paper_id"] in gold_ids and any(has_fact(c["quote"], alts) for alts in item["facts"])
    ]
    return {
        "id": item["id"],
        "type": item["type"],
        "answerable": item["answerable"],
        "abstained": response["abstained"],
        "correct": (not response["abstained"] and correct_facts)
        if item["answerable"]
        else response["abstained"],
        "n_citations": len(citations),
        "good_citations": len(good_citations),
        "usage": response["usage"],
        "engine": response["engine"],
        "degraded": response["degraded"],
        "answer": answer,
    }


def summarise(rows: list[dict[str, Any]], latencies: list[float]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    cited = sum(r["n_citations"] for r in answerable)
    by_type: dict[str, float] = {}
    for kind in sorted({r["type"] for r in rows}):
        group = [r for r in rows if r["type"] == kind]
        by_type[kind] = sum(r["correct"] for r in group) / len(group)
    return {
        "n_questions": len(rows),
        "answer_accuracy": sum(r["correct"] for r in answerable) / max(1, len(answerable)),
        "citation_precision": sum(r["good_citations"] for r in answerable) / max(1, cited),
        "abstention_accuracy": sum(r["abstained"] for r in unanswerable) / max(1, len(unanswerable)),
        "false_abstention_rate": sum(r["abstained"] for r in answerable) / max(1, len(answerable)),
        "accuracy_by_type": by_type,
        "llm_calls_per_question": sum(r["usage"]["llm_calls"] for r in rows) / len(rows),
        "max_llm_calls": max(r["usage"]["llm_calls"] for r in rows),
        "prompt_tokens_mean": sum(r["usage"]["prompt_tokens"] for r in rows) / len(rows),
        "prompt_tokens_max": max(r["usage"]["prompt_tokens"] for r in rows),
        "completion_tokens_mean": sum(r["usage"]["completion_tokens"] for r in rows) / len(rows),
        "latency_p50_s": median(latencies),
        "latency_p90_s": percentile(latencies, 90),
        "engines": sorted({r["engine"] for r in rows}),
        "degraded": sum(r["degraded"] for r in rows),
    }


def ask_again(client: Any, items: list[dict[str, Any]]) -> dict[str, float]:
    """Every question once more: what a repeated question costs (the answer cache)."""
    ms, hits = [], 0
    for item in items:
        t0 = time.perf_counter()
        body = client.post("/ask", json={"question": item["question"]}).json()
        ms.append((time.perf_counter() - t0) * 1000)
        hits += bool(body.get("cached"))
    return {"p50_ms": median(ms), "p90_ms": percentile(ms, 90), "hit_rate": hits / max(1, len(items))}


def load_items(only: set[str] | None, ids: dict[str, str]) -> list[dict[str, Any]]:
    items = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    items = [i for i in items if not only or i["id"] in only]
    unknown = sorted({t for i in items for t in i["papers"]} - set(ids))
    if unknown:
        raise SystemExit(f"qa_questions.jsonl names papers the corpus lacks: {unknown}")
    return items


def run(base_url: str | None, only: set[str] | None = None, baseline: bool = False) -> dict[str, Any]:
    """paperlens on the question set; with `baseline`, the naive RAG pipeline too, on the
    same store, model and questions (in-process only: it reads the store directly)."""
    client = open_client(base_url)
    ids = ensure_sample_corpus(client)
    items = load_items(only, ids)
    rows, latencies = [], []
    model = ""
    for item in tqdm(items, desc="qa", unit="q"):
        t0 = time.perf_counter()
        r = client.post("/ask", json={"question": item["question"]})
        latencies.append(time.perf_counter() - t0)
        r.raise_for_status()
        answer = AskOut.model_validate(r.json())  # the response contract, checked on every answer
        model = model if answer.engine != "llm" else answer.model
        rows.append(score_item(item, answer.model_dump(), ids))
    result: dict[str, Any] = {
        "summary": summarise(rows, latencies),
        "cached": ask_again(client, items),
        "rows": rows,
        "latencies": latencies,
        "model": model,
        "guards": guard_counters(client),
    }
    if baseline and base_url is None:
        from evals.baselines import naive_rag

        services = client.app.state.container.services
        result["naive_rag"] = naive_rag.run(services, items, score_item, summarise, ids)
    return result


def run_paperqa(qa: dict[str, Any], only: set[str] | None, budget_s: float | None) -> dict[str, Any] | None:
    """PaperQA2 on the questions paperlens answered in `qa` (or the `only` subset), against
    a fresh in-process paperlens's store and embedded model endpoint; None when its venv
    is missing. Also paperlens's figures on exactly the questions PaperQA2 answered."""
    from evals.baselines import paperqa2_baseline as paperqa

    if not paperqa.available():
        return None
    client = open_client(None)
    ids = ensure_sample_corpus(client)
    asked = {r["id"] for r in qa["rows"]}
    items = [i for i in load_items(only, ids) if i["id"] in asked]
    # Round-robin over question types, so a run cut short by the budget still has each type.
    groups = [[i for i in items if i["type"] == t] for t in sorted({i["type"] for i in items})]
    items = [i for row in zip_longest(*groups) for i in row if i is not None]
    services = client.app.state.container.services
    pqa = paperqa.run(services, items, score_item, summarise, ids, budget_s)
    if "rows" in pqa:
        answered = {r["id"] for r in pqa["rows"]}
        same = [(r, t) for r, t in zip(qa["rows"], qa["latencies"], strict=True) if r["id"] in answered]
        pqa["paperlens_same_questions"] = summarise([r for r, _ in same], [t for _, t in same])
    return pqa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--only", default=None, help="comma-separated question ids")
    args = parser.parse_args()
    report = run(args.base_url, set(args.only.split(",")) if args.only else None)
    save_and_print("qa", report)
    for row in report["rows"]:
        if not row["correct"]:
            print(f"  wrong {row['id']}: abstained={row['abstained']} {row['answer'][:150]}")


if __name__ == "__main__":
    main()
