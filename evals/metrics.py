"""Metric functions shared by the evaluation scripts (unit-tested in tests/test_metrics.py)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def reciprocal_rank(ranked: Sequence[str], gold: str) -> float:
    """1/rank of the first occurrence of `gold` (rank from 1), 0 when absent."""
    for rank, item in enumerate(ranked, start=1):
        if item == gold:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranked: Sequence[str], gold: str, k: int) -> float:
    return 1.0 if gold in ranked[:k] else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(0, min(len(ordered), rank) - 1)]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))
