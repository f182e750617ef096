"""Every verifier backend on one table of verdicts: `evals/data/verdict_cases.jsonl`.

Each case is a question, an answer citing numbered evidence sentences, and whether the
evidence states that answer (written by hand, one supported and one unsupported case per
rule family). The rules backend is held to the table by tests/test_verdict_table.py; this
runs the model backends (`llm`, `choice`) with the embedded model beside it and reports,
per backend, the cases right at the default bar and each case's score.

    python -m evals.verdict_table [--backends rules,llm,choice]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pydantic import BaseModel

from evals.client import open_client
from evals.machine_speed import prompt_tokens_per_s
from evals.results_io import REPORTS, stamp
from service.checks.verifier import ChoiceVerifier, LLMVerifier, RulesVerifier, Verifier
from service.generation.accounting import Timings

CASES_FILE = Path(__file__).parent / "data" / "verdict_cases.jsonl"


class VerdictCase(BaseModel):
    id: str
    family: str  # the rule family the case exercises
    question: str
    answer: str  # its markers [n] number `evidence` from 1
    evidence: list[str]
    supported: bool


def load_cases(path: Path = CASES_FILE) -> list[VerdictCase]:
    return [VerdictCase.model_validate(json.loads(line)) for line in path.read_text().splitlines() if line]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="rules,llm,choice")
    args = parser.parse_args()
    services = open_client(None).app.state.container.services
    settings, generator = services.settings, services.ask.generator

    def make(name: str) -> Verifier:
        match name:
            case "rules":
                return RulesVerifier(services.embedder, settings)
            case "llm":
                return LLMVerifier(generator, settings)
            case _:
                return ChoiceVerifier(generator, settings)

    backends = {name: make(name) for name in args.backends.split(",")}
    cases = load_cases()
    bar = settings.answer_min_confidence
    speed = prompt_tokens_per_s(services.llm.client) if services.llm else None
    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    for case in cases:
        row: dict[str, object] = {"id": case.id, "family": case.family, "supported": case.supported}
        for name, backend in backends.items():
            with generator.admission():
                verdict = backend.judge(
                    case.question, case.answer, case.evidence, range(len(case.evidence)), Timings()
                )
            score = None if verdict is None else verdict.score
            row[name] = score
            row[f"{name}_right"] = score is not None and (score >= bar) is case.supported
        rows.append(row)
    seconds = time.perf_counter() - started
    lines = [
        "# Verifier backends on one table of verdicts",
        "",
        f"`python -m evals.verdict_table`, {len(cases)} hand-written cases ({CASES_FILE.name}), "
        f"bar {bar}, model {services.llm.model if services.llm else 'none'}, {seconds:.0f} s; "
        f"prompt tokens/s: {speed if speed is None else round(speed, 1)}.",
        "",
        "| backend | right | supported cases right | unsupported cases right |",
        "|---|---|---|---|",
    ]
    for name in backends:
        right = [r for r in rows if r[f"{name}_right"]]
        sup = sum(1 for r in right if r["supported"])
        uns = len(right) - sup
        n_sup = sum(1 for r in rows if r["supported"])
        lines.append(f"| {name} | {len(right)}/{len(rows)} | {sup}/{n_sup} | {uns}/{len(rows) - n_sup} |")
    lines += [
        "",
        "| case | family | supported | " + " | ".join(backends) + " |",
        "|---|---|---|" + "---|" * len(backends),
    ]
    for r in rows:
        cells = " | ".join(
            "-" if r[n] is None else f"{r[n]:.2f}{'' if r[f'{n}_right'] else ' ✗'}" for n in backends
        )
        lines.append(f"| {r['id']} | {r['family']} | {r['supported']} | {cells} |")
    path = REPORTS / f"{stamp()}-verdict-table.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"report: {path}")


if __name__ == "__main__":
    main()
