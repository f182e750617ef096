"""Dev trial: a listwise second look at a library question's matches.

Each candidate is judged on its own first (`LibraryReader.read`, bar 0 so every P(yes) is
kept); then the candidates at or above a floor are shown together, numbered with their
best sentence, and the model picks those that do what the question asks
(`prompts/library_choose.md`, JSON schema). Scored with `user_eval.library_score`:
- `bar`: today's answer (P(yes) >= the library bar);
- `chosen@floor`: the papers the model picks among those with P(yes) >= floor.
Dev only (user_questions2 dev + its worn test split); never a test split.

    python -m evals.library_listwise [--data user_questions2] [--split all]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from evals.library_probe import judged
from evals.results_io import REPORTS, stamp
from evals.user_eval import library_score
from service.evidence.injection import data_title
from service.generation.accounting import Timings
from service.generation.prompts import load_prompt
from service.question.paper_picker import Picked, response_format

FLOORS = (0.3, 0.6)


def run(split: str, data: str) -> dict[str, Any]:
    services, bar, questions = judged(split, data)
    generator = services.ask.generator
    prompt = load_prompt(services.settings.prompts_dir, "library_choose")
    rows = []
    for j in questions:
        item, gold, result = j.item, j.gold, j.result
        row: dict[str, Any] = {
            "id": item["id"],
            "scores": [[round(m.confidence, 3), m.paper_id in gold] for m in result.matches],
        }
        listed = [m.paper_id for m in result.matches if m.confidence >= bar]
        row["bar"] = library_score(gold, listed)[0]
        for floor in FLOORS:
            shown = [m for m in result.matches if m.confidence >= floor][:12]
            if len(shown) < 2:
                row[f"chosen@{floor}"] = library_score(gold, [m.paper_id for m in shown])[0]
                continue
            papers = "\n".join(
                f"{n}. {data_title(m.title)}: {m.evidence[0].text}" for n, m in enumerate(shown, start=1)
            )
            with generator.admission():
                made = generator.structured(
                    prompt.render(question=item["question"], papers=papers),
                    60,
                    Timings(),
                    response_format(len(shown), len(shown)),
                )
            try:
                picked = sorted(set(Picked.model_validate(json.loads(made.text or "{}")).papers))
            except ValueError:
                picked = []
            chosen = [shown[n - 1].paper_id for n in picked if 1 <= n <= len(shown)]
            row[f"picked@{floor}"] = [
                [n, shown[n - 1].paper_id in gold] for n in picked if 1 <= n <= len(shown)
            ]
            row[f"chosen@{floor}"] = library_score(gold, chosen)[0]
        rows.append(row)
        print(json.dumps(row))
    keys = ["bar", *(f"chosen@{f}" for f in FLOORS)]
    summary = {k: sum(r[k] for r in rows) for k in keys}
    print("right of", len(rows), summary)
    return {"summary": summary, "questions": len(rows), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="all")
    parser.add_argument("--data", default="user_questions2")
    args = parser.parse_args()
    report = run(args.split, args.data)
    (REPORTS / f"{stamp()}-library-listwise-{args.data}-{args.split}.json").write_text(
        json.dumps(report, indent=2)
    )


if __name__ == "__main__":
    main()
