"""Where a single suite's run goes when it runs alone: evals/results/<name>.json and a
summary on stdout."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
REPORTS = Path(__file__).parent / "reports"  # the reports kept in git, named by when they ran


def stamp() -> str:
    """A report's name starts with when it ran: 20261207-191900."""
    return time.strftime("%Y%m%d-%H%M%S")


def save_and_print(name: str, report: dict[str, Any], summary: dict[str, Any] | None = None) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    for key, value in (summary if summary is not None else report["summary"]).items():
        print(f"{key:>28}: {value:.3f}" if isinstance(value, float) else f"{key:>28}: {value}")


def main_with_n(name: str, run: Callable[[int, str | None], dict[str, Any]], doc: str | None) -> None:
    """The command line of a suite that takes `--n` items and an optional `--base-url`."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--n", type=int, default=50, help="how many items")
    parser.add_argument("--base-url", default=None, help="a running paperlens server")
    args = parser.parse_args()
    save_and_print(name, run(args.n, args.base_url))
