"""Reciprocal rank fusion and the per-paper diversity cap."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank), rank from 1."""
    scores: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] += 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def cap_per_group(
    ranked: Sequence[tuple[str, float]], group_of: Callable[[str], str], cap: int, limit: int
) -> list[tuple[str, float]]:
    """Keep ranked order, at most `cap` items per group, at most `limit` items."""
    taken: dict[str, int] = defaultdict(int)
    out: list[tuple[str, float]] = []
    for item, score in ranked:
        group = group_of(item)
        if taken[group] >= cap:
            continue
        taken[group] += 1
        out.append((item, score))
        if len(out) == limit:
            break
    return out
