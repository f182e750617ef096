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
