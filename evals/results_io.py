"""Where a single suite's run goes when it runs alone: evals/results/<name>.json and a
summary on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def save_and_print(name: str, report: dict[str, Any], summary: dict[str, Any] | None = None) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    for key, value in (summary if summary is not None else report["summary"]).items():
        print(f"{key:>28}: {value:.3f}" if isinstance(value, float) else f"{key:>28}: {value}")
