"""The literature matrix, scored on cells written blind: `data/matrix_cells.jsonl`.

120 cells in two tables (see data/summary_matrix_README.md): `abstracts`, 20 sample papers
x 4 columns, and `fulltext`, 10 whole PDFs x 4 columns, each cell's expected value (or
"not reported") written from the paper alone; the split is by paper, every third paper
dev. For each table the split's papers are ingested (the abstracts from the sample
corpus, the PDFs from data/fulltext/pdfs/), one `POST /matrix` is made with the table's
columns, and the job is followed to its end through `GET /matrix/{id}` (its progress
recorded at every poll). Scores, per table and overall:

- cell_accuracy: cells right / cells. A cell with an answer is right when the matrix
  reports one and the answer holds one of its `any_of` strings (case-insensitive; "yes"
  and "no" as whole words, so the "no" of "not reported" never counts); a "not reported"
  cell is right when the matrix says "not reported";
- fill_rate: cells with an answer that the matrix filled / cells with an answer;
- answer_accuracy: of those, right / cells with an answer;
- not_reported_precision: the matrix's "not reported" cells that are expected "not
  reported" / the matrix's "not reported" cells (and its recall);
- quote_holds_answer: filled cells whose quote holds an `any_of` string (the quote is what
  a reader checks);
- seconds, seconds per paper, LLM calls per paper, and the progress seen (papers done at
  each poll, which must only grow).

    python -m evals.matrix_eval [--split dev|test|all] [--tables abstracts,fulltext] [--base-url URL]

The test split is frozen: run it at the end of a piece of work, not to tune on.
"""

from __future__ import annotations

import argparse
import json
import re
import time
import unicodedata
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from evals.client import ensure_sample_corpus, open_client
from evals.fulltext_eval import ingest
from evals.results_io import REPORTS, save_and_print
from evals.results_io import stamp as time_stamp
from service.schemas import MatrixOut

CELLS = Path(__file__).parent / "data" / "matrix_cells.jsonl"
PARTIAL_DIR = Path(__file__).parent / "results"
TABLES = ("abstracts", "fulltext")
POLL_S = 1.0
NOT_REPORTED = "not reported"
_WHOLE_WORDS = {"yes", "no"}
_DASHES = str.maketrans(
    {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-", "\ufffe": ""}
)


def load_cells(split: str, tables: Sequence[str] = TABLES, path: Path = CELLS) -> list[dict[str, Any]]:
    cells = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [c for c in cells if c["table"] in tables and (split == "all" or c["split"] == split)]


def normal(text: str) -> str:
    """Lower case, NFKC, one kind of hyphen, single spaces: the PDFs' extracted text uses
    non-breaking hyphens and spaces where the expected strings use plain ones."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_DASHES).lower().split())


def holds(text: str, any_of: Sequence[str]) -> bool:
    """Whether `text` holds one of `any_of`: as a substring ("data efficien" is a stem), but
    "yes" and "no" as whole words."""
    said = normal(text)
    for needle in map(normal, any_of):
        if needle in _WHOLE_WORDS:
            if re.search(rf"(?<![\w-]){re.escape(needle)}(?![\w-])", said):
                return True
        elif needle and needle in said:
            return True
    return False


def grade(expected: dict[str, Any], cell: dict[str, Any] | None) -> dict[str, Any]:
    """One cell: what was expected, what the matrix made, and whether it is right."""
    reported = bool(cell and cell["reported"])
    answer = cell["answer"] if cell else ""
    quote = cell["quote"] if cell else ""
    expect_answer = bool(expected["any_of"])
    right = (reported and holds(answer, expected["any_of"])) if expect_answer else not reported
    return {
        "table": expected["table"],
        "paper": expected["paper_title"],
        "column": expected["column"],
        "expected": expected["expected"],
        "expects_answer": expect_answer,
        "answer": answer if reported else NOT_REPORTED,
        "reason": (cell or {}).get("reason"),
        "quote": quote,
        "reported": reported,
        "right": right,
        "quote_holds_answer": expect_answer and reported and holds(quote, expected["any_of"]),
    }


def score(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["expects_answer"]]
    filled = [r for r in answerable if r["reported"]]
    said_not = [r for r in rows if not r["reported"]]
    expected_not = [r for r in rows if not r["expects_answer"]]
    return {
        "cells": len(rows),
        "cell_accuracy": sum(r["right"] for r in rows) / max(1, len(rows)),
        "fill_rate": len(filled) / max(1, len(answerable)),
        "answer_accuracy": sum(r["right"] for r in answerable) / max(1, len(answerable)),
        "not_reported_precision": sum(not r["expects_answer"] for r in said_not) / max(1, len(said_not)),
        "not_reported_recall": sum(not r["reported"] for r in expected_not) / max(1, len(expected_not)),
        "quote_holds_answer": sum(r["quote_holds_answer"] for r in filled) / max(1, len(filled)),
    }


def paper_ids(client: Any, table: str, cells: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Paper title -> id for the table's papers, ingesting them first."""
    if table == "abstracts":
        titles = ensure_sample_corpus(client)
        return {c["paper_title"]: titles[c["paper_title"]] for c in cells}
    files = sorted({c["file"] for c in cells})
    ids, _ = ingest(client, [f"{f}.pdf" for f in files])
    return {c["paper_title"]: ids[f"{c['file']}.pdf"] for c in cells}


def follow(
    client: Any, matrix_id: str, poll_s: float, timeout_s: float
) -> tuple[MatrixOut, list[list[float]]]:
    """The matrix at the end of its job, and (seconds, papers done) at every poll."""
    t0 = time.perf_counter()
    progress: list[list[float]] = []
    while True:
        r = client.get(f"/matrix/{matrix_id}")
        r.raise_for_status()
        matrix = MatrixOut.model_validate(r.json())
        progress.append([round(time.perf_counter() - t0, 2), matrix.papers_done])
        if matrix.status not in ("queued", "running") or time.perf_counter() - t0 > timeout_s:
            return matrix, progress
        time.sleep(poll_s)


def run_table(
    client: Any, table: str, cells: Sequence[dict[str, Any]], poll_s: float, timeout_s: float
) -> dict[str, Any]:
    ids = paper_ids(client, table, cells)
    papers = list(dict.fromkeys(c["paper_title"] for c in cells))
    columns = list(dict.fromkeys(c["column"] for c in cells))
    t0 = time.perf_counter()
    r = client.post("/matrix", json={"paper_ids": [ids[t] for t in papers], "columns": columns})
    r.raise_for_status()
    matrix, progress = follow(client, r.json()["matrix_id"], poll_s, timeout_s)
    seconds = time.perf_counter() - t0
    by_id = {row.paper_id: row for row in matrix.rows}
    rows = []
    for expected in cells:
        row = by_id.get(ids[expected["paper_title"]])
        cell = row.cells.get(expected["column"]) if row else None
        rows.append(grade(expected, cell.model_dump() if cell else None))
    done = [p for _, p in progress]
    summary = {
        **score(rows),
        "papers": len(papers),
        "columns": len(columns),
        "status": matrix.status,
        "seconds": round(seconds, 2),
        "server_seconds": matrix.elapsed_s,
        "seconds_per_paper": round(seconds / max(1, len(papers)), 2),
        "llm_calls_per_paper": matrix.usage.llm_calls / max(1, len(papers)),
        "prompt_tokens_per_paper": matrix.usage.prompt_tokens / max(1, len(papers)),
        "completion_tokens_per_paper": matrix.usage.completion_tokens / max(1, len(papers)),
        "failed_papers": sum(r.status == "failed" for r in matrix.rows),
        "progress_monotonic": all(a <= b for a, b in pairwise(done)),
        "progress_steps_seen": len(set(done)),
        "model": matrix.model,
        "engine": matrix.engine,
    }
    return {"summary": summary, "rows": rows, "progress": progress}


def run(
    base_url: str | None,
    split: str,
    tables: Sequence[str] = TABLES,
    client: Any = None,
    poll_s: float = POLL_S,
    timeout_s: float = 3600.0,
    partial_dir: Path = PARTIAL_DIR,
) -> dict[str, Any]:
    client = client or open_client(base_url)
    cells = load_cells(split, tables)
    result: dict[str, Any] = {"split": split, "tables": {}}
    all_rows: list[dict[str, Any]] = []
    for table in tables:
        mine = [c for c in cells if c["table"] == table]
        if not mine:
            continue
        report = run_table(client, table, mine, poll_s, timeout_s)
        result["tables"][table] = report
        all_rows += report["rows"]
        partial_dir.mkdir(exist_ok=True)
        with (partial_dir / f"matrix-{split}.partial.jsonl").open("a") as f:
            f.write(json.dumps({"table": table, **report["summary"]}) + "\n")
    summary: dict[str, Any] = {**score(all_rows)}
    for table, report in result["tables"].items():
        s = report["summary"]
        for key in ("cell_accuracy", "fill_rate", "not_reported_precision", "seconds", "seconds_per_paper"):
            summary[f"{table}_{key}"] = s[key]
    result["summary"] = summary
    return result


TARGETS = (
    "Targets (issue 31, test split): cell accuracy >= 0.8, fill rate >= 0.85 on cells with an answer, "
    '"not reported" right >= 0.8 of the time; 20 papers x 4 columns in <= 6 minutes on 2 vCPUs.'
)


def report(result: dict[str, Any], stamp: str | None = None, directory: Path = REPORTS) -> Path:
    """The run as Markdown under evals/reports/: per table and overall, then every cell."""
    stamp = stamp or time_stamp()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stamp}-matrix-{result['split']}.md"
    keys = (
        "cells",
        "cell_accuracy",
        "fill_rate",
        "answer_accuracy",
        "not_reported_precision",
        "not_reported_recall",
        "quote_holds_answer",
        "papers",
        "seconds",
        "seconds_per_paper",
        "llm_calls_per_paper",
        "prompt_tokens_per_paper",
        "progress_monotonic",
        "model",
    )
    tables = list(result["tables"])
    lines = [
        f"# Literature matrix: {result['split']} split ({', '.join(tables)})",
        "",
        f"Run {stamp}. Data: evals/data/matrix_cells.jsonl (written blind). {TARGETS}",
        "",
        "| figure | " + " | ".join(tables) + " |",
        "|---|" + "---|" * len(tables),
    ]
    for key in keys:
        cells = []
        for t in tables:
            value = result["tables"][t]["summary"].get(key, "")
            cells.append(f"{value:.3f}" if isinstance(value, float) else str(value))
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    overall = result["summary"]
    lines += [
        "",
        f"Overall: cell accuracy {overall['cell_accuracy']:.3f}, fill rate {overall['fill_rate']:.3f}, "
        f'"not reported" precision {overall["not_reported_precision"]:.3f} '
        f"(recall {overall['not_reported_recall']:.3f}) over {overall['cells']} cells.",
        "",
        "## Cells",
        "",
        "| table | paper | column | expected | answer | right |",
        "|---|---|---|---|---|---|",
    ]
    for t in tables:
        for row in result["tables"][t]["rows"]:
            cells = [t, row["paper"][:50], row["column"], row["expected"][:60], row["answer"][:80]]
            cells = [c.replace("|", "/").replace("\n", " ") for c in cells]
            lines.append("| " + " | ".join(cells) + f" | {'yes' if row['right'] else 'no'} |")
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument(
        "--tables", default=",".join(TABLES), help="abstracts, fulltext or both (comma-separated)"
    )
    parser.add_argument("--base-url", default=None, help="a running paperlens server (default: in-process)")
    args = parser.parse_args()
    tables = [t for t in args.tables.split(",") if t]
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        parser.error(f"unknown tables {unknown}: use {', '.join(TABLES)}")
    result = run(args.base_url, args.split, tables)
    save_and_print(f"matrix-{args.split}", result)
    print(f"report: {report(result)}")


if __name__ == "__main__":
    main()
