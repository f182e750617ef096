"""evals/summary_facts_eval.py runs end to end against the fake LLM (the dev abstracts, with
the naive baseline through the same fake), and its scorer reads facts from the start of a
word, numbers whole, and a number the paper lacks as invented."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from evals.summary_facts_eval import (
    BASELINE_PROMPT,
    has_number,
    load_items,
    naive_baseline,
    report,
    run,
    score,
    states,
)
from service.container import Services

from .fake_llm import FakeLLM


def test_the_summary_suite_runs_end_to_end_on_the_fake(
    llm_client: TestClient, llm_services: Services, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    def pasted(messages: list[dict[str, str]]) -> str | None:  # the baseline: its first two sentences
        text = messages[-1]["content"]
        if not text.startswith(BASELINE_PROMPT):
            return None
        return " ".join(text.split("\n\n", 2)[-1].split(". ")[:2])

    assert llm_services.llm.client is not None
    fake_llm.obey = pasted
    try:
        result = run(
            None,
            "dev",
            ("abstract",),
            client=llm_client,
            baseline=naive_baseline(llm_services.llm.client, 220),
            partial_dir=tmp_path,
        )
    finally:
        fake_llm.obey = None
    items = load_items("dev", ("abstract",))
    assert len(result["rows"]) == len(items) == 10 and result["model"] == "fake-model"
    figures = result["summary"]["all"]
    ours, base = figures["paperlens"], figures["baseline"]
    assert ours["summaries"] == base["summaries"] == 10
    assert ours["invented_numbers"] == 0  # every number of a checked summary is the paper's
    assert 0 < ours["fact_coverage_mean"] <= 1 and 0 < base["fact_coverage_mean"] <= 1
    assert figures["ratio_to_baseline"]["fact_coverage_mean"] == round(
        ours["fact_coverage_mean"] / base["fact_coverage_mean"], 3
    )
    assert ours["papers_with_headline_numbers"] == 2  # sa07, sa19
    assert all(r["paperlens"]["grade"] is not None and r["paperlens"]["sources"] for r in result["rows"])
    assert len((tmp_path / "summary-facts-dev.partial.jsonl").read_text().splitlines()) == 10
    written = report(result, tmp_path)
    assert "| fact_coverage_mean |" in written.read_text() and "| sa01 |" in written.read_text()
    assert json.loads(written.with_suffix(".json").read_text())["split"] == "dev"


def test_facts_are_read_from_the_start_of_a_word_and_numbers_whole() -> None:
    assert states("It names ADI, an identifier.", [" adi"]) and not states("a gradient step", [" adi"])
    assert states("Action-customized images", ["customiz"]) and states("ActionBench", ["actionbench"])
    assert states("35% better", ["35%"]) and not states("135% better", ["35%"])
    assert (
        states("in 3 tasks", ["3"]) and not states("in 30 tasks", ["3"]) and not states("3.5 points", ["3"])
    )
    assert states("solved at 1.76\u00a0\u00c5", ["1.76 \u00c5"])  # the PDFs' spaces and hyphens
    assert has_number("64740 proteins", ["64,740"]) and has_number("30% of colonies", ["30.0%"])
    assert not has_number("14 strains", ["64,740", "2,600"])


def test_a_summary_is_scored_on_its_facts_numbers_length_and_grade() -> None:
    item = {
        "facts": [
            {"fact": "names X", "any_of": ["tinynet"]},
            {"fact": "result", "any_of": ["faster"]},
        ],
        "headline_numbers": ["40%"],
    }
    paper = "TinyNet is 40% faster than BigNet on 3 benchmarks."
    s = score(item, "TinyNet, a small network, runs 97% faster than BigNet.", paper)
    assert s["fact_coverage"] == 1.0 and s["invented_numbers"] == ["97%"] and s["headline_number"] is False
    assert s["words"] == 9 and not s["words_in_bounds"] and s["grade"] is not None
    good = score(item, "TinyNet runs 40% faster than BigNet.", paper)
    assert good["invented_numbers"] == [] and good["headline_number"] is True
    assert score({**item, "headline_numbers": []}, "x", paper)["headline_number"] is None
