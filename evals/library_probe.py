"""Dev tool: every candidate's P(yes) for the library questions of one split, with whether
the paper is right, so the library bar is chosen on dev (never on test).

    python -m evals.library_probe [--split dev] [--data user_questions2]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from evals.client import ensure_sample_corpus, open_client
from evals.user_eval import DATA_DIR, load_items
from service.answering.library import LibraryResult
from service.components.embedding.embedder import Vectors
from service.container import Services
from service.generation.accounting import Timings


@dataclass
class Judged:
    """One library question, its right papers and every candidate's judgement (bar 0)."""

    item: dict[str, Any]
    gold: set[str]
    vector: Vectors
    result: LibraryResult


def judged(split: str, data: str) -> tuple[Services, float, Iterator[Judged]]:
    """The in-process service (its library bar set to 0, so every P(yes) is kept), the bar
    it had, and the library questions of `data`'s `split`, each judged as the service does."""
    client = open_client(None)
    ids = ensure_sample_corpus(client)
    services: Services = client.app.state.container.services
    bar = services.settings.library_min_confidence
    services.settings.library_min_confidence = 0.0

    def each() -> Iterator[Judged]:
        for item in load_items(split, None, DATA_DIR / f"{data}.jsonl"):
            if item["type"] != "library":
                continue
            vector = services.embedder.embed([item["question"]])[0]
            with services.ask.generator.admission():
                result = services.ask.library.read(item["question"], vector, None, Timings())
            yield Judged(item, {ids[t] for t in item["papers"]}, vector, result)

    return services, bar, each()


def run(split: str, data: str) -> list[dict[str, Any]]:
    services, _, questions = judged(split, data)
    reader = services.ask.library
    out = []
    for j in questions:
        item, gold, vector, result = j.item, j.gold, j.vector, j.result
        found = {m.paper_id for m in result.matches}
        order = [pid for pid, _ in reader.candidates(item["question"], vector, None)]
        out.append(
            {
                "id": item["id"],
                "criterion": result.criterion,
                "gold": len(gold),
                "gold_in_candidates": len(gold & found),
                "scores": [[round(m.confidence, 3), m.paper_id in gold] for m in result.matches],
                "features": [
                    [
                        round(m.confidence, 3),
                        order.index(m.paper_id),
                        round(m.evidence[0].score, 3),
                        m.paper_id in gold,
                    ]
                    for m in result.matches
                ],
            }
        )
        print(json.dumps(out[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--data", default="user_questions2")
    args = parser.parse_args()
    run(args.split, args.data)


if __name__ == "__main__":
    main()
