"""One command for every evaluation suite: `make eval` (full) or `make eval-quick`.

Runs the suites against an in-process paperlens (the embedded model) or a deployed one
(`--base-url`), then writes evals/reports/<timestamp>-<mode>.md, .json and PNG plots.
Quick mode is a small fixed subset of each suite (a few minutes on 2 cores) so that two
runs can be compared; full mode runs everything.

    python -m evals.harness --mode quick|full [--base-url URL] [--suites qa,summaries] [--no-paperqa]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals import (
    bench_retrieval,
    compare_eval,
    fulltext_eval,
    pubmedqa_eval,
    qa_eval,
    retrieval_eval,
    summary_eval,
    user_eval,
)
from evals.report import write_report
from evals.results_io import REPORTS, stamp

RESULTS = Path(__file__).parent / "results"
QUICK_QA = {"q01", "q03", "q06", "q09", "q12", "q15", "q19", "q23", "m02", "m05", "u01", "u04", "u07"}
QUICK_PAPERQA = {"q01", "q09", "u01"}
PAPERQA_BUDGET_S = 60 * 60  # full mode: ~100 s per question here, so about 35 of the 39
SUITES = ("retrieval", "qa", "user", "fulltext", "summaries", "pubmedqa", "compare", "speed")
QUICK_USER = {"s01", "s05", "s11", "y01", "y05", "w01", "w05", "m01", "m05", "u01", "u05"}  # dev only


class _Results(dict[str, Any]):
    """Suite results, written to a checkpoint file as each suite finishes, so a run that
    dies late (or is stopped) still keeps the suites it completed."""

    def __init__(self, checkpoint: Path | None) -> None:
        super().__init__()
        self.checkpoint = checkpoint

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if self.checkpoint is not None:
            self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            self.checkpoint.write_text(json.dumps(self, default=str))


def reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    """Peak RSS since the last reset (VmHWM), else of the whole process."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plan(mode: str, base_url: str | None, suites: tuple[str, ...]) -> list[tuple[str, Callable[[], Any]]]:
    quick = mode == "quick"
    jobs: list[tuple[str, Callable[[], Any]]] = []
    if "retrieval" in suites:
        jobs.append(("retrieval", lambda: retrieval_eval.run(base_url, 5)))
    if "qa" in suites:
        jobs.append(("qa", lambda: qa_eval.run(base_url, QUICK_QA if quick else None, baseline=True)))
    if "user" in suites:  # quick: a dev subset; full: dev, then the test split the report quotes
        jobs.append(
            (
                "user",
                lambda: user_eval.run(
                    base_url, ("dev",) if quick else user_eval.SPLITS, QUICK_USER if quick else None
                ),
            )
        )
    if "fulltext" in suites:
        jobs.append(("fulltext", lambda: fulltext_eval.run(base_url, 6 if quick else None, baseline=True)))
    if "summaries" in suites:
        jobs.append(("summaries", lambda: summary_eval.run(5 if quick else 50, base_url)))
    if "pubmedqa" in suites:
        jobs.append(("pubmedqa", lambda: pubmedqa_eval.run(6 if quick else 60, base_url)))
    if "compare" in suites and not quick:
        jobs.append(("compare", lambda: compare_eval.run(base_url)))
    if "speed" in suites and base_url is None:
        sizes = [1_000] if quick else [1_000, 10_000, 100_000]
        jobs.append(("speed", lambda: bench_retrieval.run(sizes, 50 if quick else 200, 20 if quick else 100)))
    return jobs


def measured(job: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """The job's result, and its wall time and peak RSS."""
    reset_peak_rss()
    t0 = time.perf_counter()
    value = job()
    return value, {"seconds": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}


def run_suites(
    mode: str,
    base_url: str | None,
    suites: tuple[str, ...],
    checkpoint: Path | None = None,
    paperqa: bool = True,
) -> dict[str, Any]:
    quick = mode == "quick"
    results = _Results(checkpoint)
    runs: dict[str, dict[str, float]] = {}
    for name, job in plan(mode, base_url, suites):
        value, runs[name] = measured(job)
        results["suite_runs"] = runs
        results[name] = value
        if name in ("qa", "fulltext", "user", "compare") and "llm_model" not in results:
            results["llm_model"] = value["model"]
    if "qa" in suites and base_url is None and paperqa:
        # Last, as the longest: PaperQA2 makes ~10 LLM calls and takes ~100 s per question
        # here, so quick mode asks 3 questions and full mode what fits in its time budget.
        pqa, runs["paperqa2"] = measured(
            lambda: qa_eval.run_paperqa(
                results["qa"], QUICK_PAPERQA if quick else None, None if quick else PAPERQA_BUDGET_S
            )
        )
        results["suite_runs"] = runs
        if pqa is not None:
            results["qa"] = {**results["qa"], "paperqa2": pqa}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--base-url", default=None, help="measure a deployed paperlens instead")
    parser.add_argument("--suites", default=",".join(SUITES), help=f"comma-separated subset of {SUITES}")
    parser.add_argument(
        "--no-paperqa", action="store_true", help="skip the PaperQA2 baseline (about an hour in full mode)"
    )
    args = parser.parse_args()
    suites = tuple(s for s in args.suites.split(",") if s in SUITES)
    stem = stamp() + f"-{args.mode}"
    results = run_suites(
        args.mode, args.base_url, suites, RESULTS / f"{stem}-partial.json", not args.no_paperqa
    )
    # In-process runs hold the whole service (embedder, Chroma, embedded LLM): its peak.
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path = write_report(results, REPORTS, stem, args.mode)
    print(f"report: {path}")


if __name__ == "__main__":
    main()
