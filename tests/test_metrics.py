"""Evaluation metric functions, on small hand-checked cases."""

from __future__ import annotations

from evals.metrics import median, percentile, recall_at_k, reciprocal_rank


def test_reciprocal_rank_and_recall() -> None:
    ranked = ["a", "b", "c"]
    assert reciprocal_rank(ranked, "a") == 1.0
    assert reciprocal_rank(ranked, "c") == 1 / 3
    assert reciprocal_rank(ranked, "z") == 0.0
    assert recall_at_k(ranked, "c", 2) == 0.0
    assert recall_at_k(ranked, "c", 3) == 1.0


def test_nearest_rank_percentile_and_median() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([5.0, 1.0, 3.0], 0) == 1.0
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5


def test_eval_questions_name_real_sample_papers() -> None:
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    titles = set((root / "tests" / "data" / "sample_titles.txt").read_text().splitlines())
    qa = [json.loads(x) for x in (root / "evals/data/qa_questions.jsonl").read_text().splitlines()]
    retrieval = [
        json.loads(x) for x in (root / "evals/data/retrieval_questions.jsonl").read_text().splitlines()
    ]
    assert all(t in titles for q in qa for t in q["papers"])
    assert all(q["paper"] in titles for q in retrieval)
    assert len(qa) >= 30 and sum(not q["answerable"] for q in qa) >= 5
    assert sum(q["type"] == "multi" for q in qa) >= 5 and len(retrieval) >= 25


def test_pubmedqa_decision_reading() -> None:
    from evals.pubmedqa_eval import decision

    assert decision("Yes, statins lowered mortality [1].", False) == "yes"
    assert decision("No. The trial found no effect [2].", False) == "no"
    assert decision("The results were mixed [1].", False) == "maybe"
    assert decision("Yes it does.", True) == "maybe"
    assert decision("Nothing conclusive.", False) == "maybe"
