"""Verifier designs compared on the blind dev splits: does the confidence separate right answers from wrong?

Each backend (`PAPERLENS_VERIFIER`) scores the same answers: the model's replies are
replayed from the ablation run's recording (`evals/replay.py`), so the answers are the
same and only the judgement differs. Reported per design and set: the AUC of the
confidence for right vs wrong answers (0.5 is chance), and precision/coverage at the bars
of the dial. Combinations (the product and the minimum of two designs' scores) are
computed from the same rows.

    python -m evals.verifier_designs [--designs llm,choice]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from evals import blind_eval
from evals.client import ensure_sample_corpus
from evals.fulltext_eval import ingest
from evals.replay import Replay
from evals.rule_ablation import REPORTS, RESULTS, _client, score_variant
from evals.user_eval import BARS


def auc(right: list[float], wrong: list[float]) -> float:
    """P(a right answer's score > a wrong one's), ties counting half."""
    if not right or not wrong:
        return float("nan")
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return wins / (len(right) * len(wrong))


def graded(result: dict[str, Any]) -> dict[str, tuple[bool, float]]:
    """Answered rows of both sets: id -> (right, confidence); an answer to an unanswerable
    question is wrong."""
    out: dict[str, tuple[bool, float]] = {}
    for r in result["rows"]["abstracts"]:
        if not r["abstained"] and r["type"] != "library" and r["confidence"] is not None:
            out[f"a-{r['id']}"] = (bool(r["right"]), r["confidence"])
    for r in result["rows"]["papers"]:
        if r["grade"] in ("right", "wrong") and r["confidence"] is not None:
            out[f"f-{r['id']}"] = (r["grade"] == "right", r["confidence"])
    return out


def table(name: str, rows: dict[str, tuple[bool, float]]) -> list[str]:
    right = [c for ok, c in rows.values() if ok]
    wrong = [c for ok, c in rows.values() if not ok]
    cells = []
    for bar in BARS:
        kept = [ok for ok, c in rows.values() if c >= bar]
        cells.append(f"{sum(kept)}/{len(kept)}")
    return [f"| {name} | {len(right)}/{len(wrong)} | {auc(right, wrong):.3f} | " + " | ".join(cells) + " |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--designs", default="llm,choice")
    parser.add_argument("--replay", default=str(RESULTS / "replay-ablation-dev.jsonl"))
    args = parser.parse_args()
    designs = args.designs.split(",")
    shared: dict[str, Any] = {}
    results: dict[str, dict[str, Any]] = {}
    replay: Replay | None = None
    for design in designs:
        abstracts = _client(shared, verifier=design)
        ids = ensure_sample_corpus(abstracts)
        papers = _client(shared, verifier=design)
        ingest(papers, sorted({i["pdf"] for i in blind_eval.load_items("dev")}))
        if replay is None and shared["llm"].client is not None:
            replay = Replay(shared["llm"].client, Path(args.replay))
        results[design] = score_variant(abstracts, ids, papers, "dev", f"verifier={design}")
        print(design, results[design]["at_0"], results[design]["at_bar"], flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"verifier-designs-{stamp}.json").write_text(json.dumps(results, default=str))
    per = {d: graded(r) for d, r in results.items()}
    lines = [
        "# Verifier designs on the blind dev splits (answers replayed, judgements fresh)",
        "",
        "Answered questions of both sets (library questions aside); an answer to an unanswerable "
        "question counts as wrong. Cells at each bar: right/kept.",
        "",
        "| design | right/wrong answered | AUC | " + " | ".join(f"bar {b}" for b in BARS) + " |",
        "|---|---|---|" + "---|" * len(BARS),
    ]
    for d, rows in per.items():
        lines += table(d, rows)
    if len(designs) >= 2:
        a, b = per[designs[0]], per[designs[1]]
        both = sorted(set(a) & set(b))
        lines += table(f"{designs[0]} x {designs[1]}", {k: (a[k][0], a[k][1] * b[k][1]) for k in both})
        lowest = {k: (a[k][0], min(a[k][1], b[k][1])) for k in both}
        lines += table(f"min({designs[0]}, {designs[1]})", lowest)
    path = REPORTS / f"{stamp}-verifier-designs.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
