"""evals/matrix_eval.py runs end to end against the fake LLM (the abstracts table, dev
split) and its scorer reads "yes"/"no" as whole words, so "not reported" is never a "no"."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from evals.matrix_eval import grade, holds, load_cells, report, run, score


def test_the_matrix_suite_runs_end_to_end_on_the_fake(llm_client: TestClient, tmp_path: Path) -> None:
    result = run(
        None, "dev", ("abstracts",), client=llm_client, poll_s=0.05, timeout_s=120, partial_dir=tmp_path
    )
    table = result["tables"]["abstracts"]
    cells = load_cells("dev", ("abstracts",))
    assert len(table["rows"]) == len(cells) == 28  # 7 dev papers x 4 columns
    s = table["summary"]
    assert s["status"] == "done" and s["papers"] == 7 and s["columns"] == 4
    assert s["llm_calls_per_paper"] == 2.0  # the row and its known-answer probe and s["progress_monotonic"]
    assert 0 <= s["cell_accuracy"] <= 1 and 0 <= s["not_reported_precision"] <= 1
    assert result["summary"]["abstracts_cell_accuracy"] == s["cell_accuracy"]
    assert (tmp_path / "matrix-dev.partial.jsonl").read_text().count("\n") == 1
    written = report(result, "stamp", tmp_path / "reports")
    text = written.read_text()
    assert written.name == "stamp-matrix-dev.md"
    assert f"| cell_accuracy | {s['cell_accuracy']:.3f} |" in text and text.count("\n| abstracts |") == 28


def test_yes_and_no_are_whole_words_and_not_reported_never_matches() -> None:
    assert holds("yes, real-world tasks", ["yes"]) and holds("No; simulation only", ["no"])
    assert not holds("not reported", ["no"]) and not holds("nothing", ["no"]) and not holds("eyes", ["yes"])
    assert holds("the data efficiency of PG", ["data efficien"])  # other strings: substrings
    assert holds("solved at 1.76\u00a0\u00c5", ["1.76 \u00c5"])  # NBSP and the extracted text's forms
    no = {"table": "t", "paper_title": "p", "column": "real robots?", "expected": "no", "any_of": ["no"]}
    missing = {"answer": "not reported", "quote": "", "reported": False, "reason": "x"}
    assert not grade(no, missing)["right"]
    nothing = {**no, "expected": "not reported", "any_of": []}
    rows = [
        grade(no, missing),
        grade(nothing, missing),
        grade(no, {**missing, "answer": "no", "reported": True}),
    ]
    assert score(rows)["not_reported_precision"] == 0.5 and score(rows)["cell_accuracy"] == 2 / 3
