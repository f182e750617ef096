"""Dev tool: every candidate's P(yes) for the library questions of one split, with whether
the paper is right, so the library bar is chosen on dev (never on test).

    python -m evals.library_probe [--split dev] [--data user_questions2]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from evals.client import ensure_sample_corpus, open_client
from evals.user_eval import DATA_DIR, load_items
from service.generation.accounting import Timings


def run(split: str, data: str) -> list[dict[str, Any]]:
    client = open_client(None)
    ids = ensure_sample_corpus(client)
    services = client.app.state.container.services
    services.settings.library_min_confidence = 0.0
    reader = services.ask.library
    out = []
    for item in load_items(split, None, DATA_DIR / f"{data}.jsonl"):
        if item["type"] != "library":
            continue
        gold = {ids[t] for t in item["papers"]}
        vector = services.embedder.embed([item["question"]])[0]
        with services.ask.generator.admission():
            result = reader.read(item["question"], vector, None, Timings())
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
