"""Summaries scored on facts written blind: `data/summary_facts.jsonl` (issue 31, item 4).

42 papers (see data/summary_matrix_README.md): 30 sample abstracts (`sa..`, matched by
title in the sample corpus) and 12 whole PDFs (`sf..`, data/fulltext/pdfs/), each with the
3-4 facts a one-paragraph summary for a reader outside the field must state (each as
strings any of which states it) and the paper's headline numbers; every third item is
dev, the test split frozen. Each paper is summarised through
`GET /papers/{id}/summary?refresh=true` and, in the same run, by the naive baseline: the
same model given "Summarise this paper in one paragraph." over the paper's text as a user
would paste it (its first PAPER_TEXT_TOKENS tokens: all of an abstract, a whole paper's
title page and abstract), no checks. Both are scored alike:

- fact_coverage: facts stated / facts. A fact is stated when one of its `any_of` strings
  appears in the summary, case-insensitive, from the start of a word ("customiz" is a
  stem, " adi" is not the "adi" of "gradient", "35%" not the end of "135%"), and a string
  ending in a digit not followed by more digits ("3" is not "30" nor "3.5");
- invented_numbers: numbers in the summary that the paper (title, abstract, text) does
  not contain (`grounding.numbers.unsupported_numbers`); must be 0;
- headline_number: the summary states one of the paper's headline numbers (as written,
  or the same number: "64740" for "64,740"), over the papers that have any;
- words (90-160 for a paragraph) and the Flesch-Kincaid grade (`textstat`; 10-14 wanted).

Reported: medians and means per system, the share of summaries in bounds, each figure's
ratio to the baseline's, the same by kind (abstract, fulltext), and every item.

    python -m evals.summary_facts_eval [--split dev|test|all] [--kinds abstract,fulltext]
        [--audience general|expert] [--length paragraph|tldr] [--base-url URL]
        [--llm-base-url URL --llm-model NAME]

In-process (the default) the baseline calls the same LLM the service uses; with
`--base-url` it needs `--llm-base-url` (the OpenAI-compatible server behind that
paperlens), else it is skipped. Results: evals/results/summary-facts-<split>.json, a
report under evals/reports/, and each item as it is done in
evals/results/summary-facts-<split>.partial.jsonl. The test split is frozen: run it at the
end of a piece of work, not to tune on.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import textstat
from tqdm import tqdm

from evals.client import ROOT, ensure_sample_corpus, open_client, shared_llm
from evals.fulltext_eval import ingest
from evals.matrix_eval import normal
from evals.results_io import save_and_print
from service.checks.summary_checks import count_words, length_rule
from service.components.llm.client import LLMClient
from service.components.tokens import clip_tokens
from service.core.config import Settings, SummarySettings
from service.evidence.numbers import numbers_in, unsupported_numbers
from service.schemas import SummaryOut

FACTS = Path(__file__).parent / "data" / "summary_facts.jsonl"
RESULTS = ROOT / "evals" / "results"
REPORTS = ROOT / "evals" / "reports"
KINDS = ("abstract", "fulltext")
BASELINE_PROMPT = "Summarise this paper in one paragraph."
PAPER_TEXT_TOKENS = SummarySettings().paper_text_tokens  # what the service's summary prompt holds
GRADE_BOUNDS = (10.0, 14.0)
Summarise = Callable[[str, str], str]  # (title, text) -> the baseline's summary


def load_items(split: str, kinds: Sequence[str] = KINDS, path: Path = FACTS) -> list[dict[str, Any]]:
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [i for i in items if i["kind"] in kinds and (split == "all" or i["split"] == split)]


def name_of(data: Path) -> str:
    """`summary-facts` for data/summary_facts.jsonl, `summary-facts2` for the second set."""
    return data.stem.replace("_", "-")


def _pattern(needle: str) -> re.Pattern[str]:
    said = normal(needle)
    left = r"(?<!\w)" if said[:1].isalnum() else ""
    right = r"(?![\d]|[.,]\d)" if said[-1:].isdigit() else ""
    return re.compile(left + re.escape(said) + right)


def states(summary: str, any_of: Sequence[str]) -> bool:
    """Whether `summary` states one of `any_of` (see the module doc)."""
    said = normal(summary)
    return any(_pattern(n).search(said) for n in any_of if normal(n))


def has_number(summary: str, numbers: Sequence[str]) -> bool:
    """One of `numbers` in `summary`, as written or as the same number ("64740", "30%")."""
    found = numbers_in(summary)
    return any(states(summary, [n]) or (numbers_in(n) and numbers_in(n) <= found) for n in numbers)


def grade_level(text: str) -> float | None:
    return float(textstat.flesch_kincaid_grade(text)) if text.strip() else None


def score(item: dict[str, Any], summary: str, paper_text: str, length: str = "paragraph") -> dict[str, Any]:
    """One summary of one paper, scored."""
    facts = [{"fact": f["fact"], "stated": states(summary, f["any_of"])} for f in item["facts"]]
    invented = sorted(unsupported_numbers(summary, [paper_text]))
    words = count_words(summary)
    rule = length_rule("tldr" if length == "tldr" else "paragraph", SummarySettings())
    grade = grade_level(summary)
    return {
        "summary": summary,
        "facts": facts,
        "fact_coverage": sum(f["stated"] for f in facts) / max(1, len(facts)),
        "invented_numbers": invented,
        "headline_number": has_number(summary, item["headline_numbers"])
        if item["headline_numbers"]
        else None,
        "words": words,
        "words_in_bounds": rule.min_words <= words <= rule.max_words,
        "grade": grade,
        "grade_in_bounds": grade is not None and GRADE_BOUNDS[0] <= grade <= GRADE_BOUNDS[1],
    }


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return float(statistics.fmean(values)) if values else None


def aggregate(scored: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One system's figures over its scored summaries."""
    with_headline = [s["headline_number"] for s in scored if s["headline_number"] is not None]
    grades = [s["grade"] for s in scored if s["grade"] is not None]
    coverage = [s["fact_coverage"] for s in scored]
    return {
        "summaries": len(scored),
        "fact_coverage_mean": _mean(coverage),
        "fact_coverage_median": _median(coverage),
        "invented_numbers": sum(len(s["invented_numbers"]) for s in scored),
        "summaries_with_invented_numbers": sum(bool(s["invented_numbers"]) for s in scored),
        "headline_number_share": _mean([float(h) for h in with_headline]),
        "papers_with_headline_numbers": len(with_headline),
        "words_median": _median([s["words"] for s in scored]),
        "words_in_bounds_share": _mean([float(s["words_in_bounds"]) for s in scored]),
        "grade_median": _median(grades),
        "grade_in_bounds_share": _mean([float(s["grade_in_bounds"]) for s in scored]),
    }


def ratios(ours: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    """Each figure of ours over the baseline's (None where the baseline's is 0 or missing)."""
    out: dict[str, float | None] = {}
    for key, value in ours.items():
        base = baseline.get(key)
        if key == "summaries" or not isinstance(value, int | float) or not isinstance(base, int | float):
            continue
        out[key] = round(value / base, 3) if base else None
    return out


def paper_ids(client: Any, items: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Item id -> paper id, ingesting the abstracts (the sample corpus) and the PDFs."""
    ids: dict[str, str] = {}
    abstracts = [i for i in items if i["kind"] == "abstract"]
    if abstracts:
        titles = ensure_sample_corpus(client)
        missing = [i["title"] for i in abstracts if i["title"] not in titles]
        if missing:
            raise SystemExit(f"not in the sample corpus (titles must match exactly): {missing}")
        ids.update({i["id"]: titles[i["title"]] for i in abstracts})
    files = [i for i in items if i["kind"] == "fulltext"]
    if files:
        by_file, _ = ingest(client, [f"{i['file']}.pdf" for i in files])
        ids.update({i["id"]: by_file[f"{i['file']}.pdf"] for i in files})
    return ids


def paper_text(client: Any, pid: str) -> tuple[str, str]:
    """(title, the paper's text: abstract and body) as the service stores it."""
    r = client.get(f"/papers/{pid}", params={"text_limit": 1_000_000})
    r.raise_for_status()
    paper = r.json()
    return paper["title"], "\n\n".join(p for p in (paper.get("abstract"), paper.get("text")) if p)


def naive_baseline(llm: LLMClient, max_tokens: int) -> Summarise:
    """The same model asked plainly, over what a user would paste: the paper's first
    PAPER_TEXT_TOKENS tokens."""

    def summarise(title: str, text: str) -> str:
        body = clip_tokens(text, PAPER_TEXT_TOKENS)
        messages = [{"role": "user", "content": f"{BASELINE_PROMPT}\n\nTitle: {title}\n\n{body}"}]
        return llm.complete(messages, max_tokens).text.strip()

    return summarise


def run(
    base_url: str | None,
    split: str,
    kinds: Sequence[str] = KINDS,
    *,
    audience: str = "general",
    length: str = "paragraph",
    client: Any = None,
    baseline: Summarise | None = None,
    partial_dir: Path = RESULTS,
    data: Path = FACTS,
    with_baseline: bool = True,
) -> dict[str, Any]:
    client = client or open_client(base_url)
    llm = shared_llm() if base_url is None else None
    if baseline is None and llm is not None and with_baseline:
        baseline = naive_baseline(llm, Settings(_env_file=None).summary_max_tokens)
    items = load_items(split, kinds, data)
    ids = paper_ids(client, items)
    partial_dir.mkdir(parents=True, exist_ok=True)
    partial = partial_dir / f"{name_of(data)}-{split}.partial.jsonl"
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for item in tqdm(items, desc="summaries", unit="paper"):
        pid = ids[item["id"]]
        title, text = paper_text(client, pid)
        source = f"{title}\n\n{text}"
        started = time.perf_counter()
        r = client.get(
            f"/papers/{pid}/summary", params={"refresh": "true", "audience": audience, "length": length}
        )
        r.raise_for_status()
        out = SummaryOut.model_validate(r.json())
        row: dict[str, Any] = {
            "id": item["id"],
            "kind": item["kind"],
            "title": item["title"],
            "model": out.model,
            "paperlens": {
                **score(item, out.summary, source, length),
                "seconds": round(time.perf_counter() - started, 2),
                "engine": out.engine,
                "degraded": out.degraded,
                "sources": len(out.sources),
                "dropped": [d.model_dump() for d in out.dropped],
                "length_note": out.length_note,
                "usage": out.usage.model_dump(),
            },
        }
        if baseline is not None:
            started = time.perf_counter()
            naive = baseline(title, text)
            row["baseline"] = {
                **score(item, naive, source, length),
                "seconds": round(time.perf_counter() - started, 2),
            }
        rows.append(row)
        with partial.open("a") as f:
            f.write(json.dumps(row) + "\n")
    result: dict[str, Any] = {
        "data": name_of(data),
        "split": split,
        "kinds": list(kinds),
        "audience": audience,
        "length": length,
        "seconds": round(time.perf_counter() - t0, 1),
        "model": rows[0]["model"] if rows else "",
        "rows": rows,
    }
    result["summary"] = summarise_rows(rows)
    return result


def summarise_rows(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per system (overall and by kind), and ours over the baseline's."""
    out: dict[str, Any] = {}
    for kind in ("all", *KINDS):
        mine = [r for r in rows if kind == "all" or r["kind"] == kind]
        if not mine:
            continue
        ours = aggregate([r["paperlens"] for r in mine])
        entry: dict[str, Any] = {"paperlens": ours}
        based = [r["baseline"] for r in mine if "baseline" in r]
        if based:
            entry["baseline"] = aggregate(based)
            entry["ratio_to_baseline"] = ratios(ours, entry["baseline"])
        out[kind] = entry
    return out


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures save_and_print shows: ours and the baseline's, over all papers."""
    flat: dict[str, Any] = {}
    for system in ("paperlens", "baseline"):
        for key, value in summary.get("all", {}).get(system, {}).items():
            flat[f"{system}.{key}"] = value
    return flat


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def report(result: dict[str, Any], directory: Path = REPORTS) -> Path:
    """The run as Markdown under evals/reports/ (the JSON beside it)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    directory.mkdir(parents=True, exist_ok=True)
    data = result.get("data", name_of(FACTS))
    path = directory / f"{stamp}-{data}-{result['split']}.md"
    lines = [
        f"# Summary facts ({data}): {result['split']} split ({', '.join(result['kinds'])}), "
        f"audience {result['audience']}, length {result['length']}",
        "",
        f"Run {stamp}, {result['seconds']:.0f} s. Data: evals/data/{data.replace('-', '_')}.jsonl. "
        "Baseline: the same "
        f'model, "{BASELINE_PROMPT}" over the paper\'s first {PAPER_TEXT_TOKENS} tokens, unchecked.',
        "",
        "Targets (issue 31, test split): fact coverage >= 0.8, 0 invented numbers, a headline number in "
        ">= 80 % of the summaries whose paper has one, 90-160 words, grade 10-14, coverage ahead of the "
        "baseline.",
    ]
    for kind, entry in result["summary"].items():
        ours, base = entry["paperlens"], entry.get("baseline", {})
        ratio = entry.get("ratio_to_baseline", {})
        lines += ["", f"## {kind}", "", "| figure | paperlens | baseline | ratio |", "|---|---|---|---|"]
        lines += [
            f"| {k} | {_fmt(v)} | {_fmt(base.get(k))} | {_fmt(ratio.get(k))} |" for k, v in ours.items()
        ]
    lines += [
        "",
        "## Items",
        "",
        "| id | coverage | invented | headline | words | grade | baseline coverage | summary |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        ours, base = r["paperlens"], r.get("baseline", {})
        text = re.sub(r"\s+", " ", ours["summary"])[:160].replace("|", "/")
        cells = [
            r["id"],
            _fmt(ours["fact_coverage"]),
            ",".join(ours["invented_numbers"]) or "0",
            _fmt(ours["headline_number"]),
            ours["words"],
            _fmt(ours["grade"]),
            _fmt(base.get("fact_coverage")),
            text,
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps(result, indent=1))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="abstract, fulltext or both (comma-separated)"
    )
    parser.add_argument("--audience", choices=("general", "expert"), default="general")
    parser.add_argument("--length", choices=("paragraph", "tldr"), default="paragraph")
    parser.add_argument("--base-url", default=None, help="a running paperlens server (default: in-process)")
    parser.add_argument("--llm-base-url", default=None, help="the baseline's OpenAI-compatible server")
    parser.add_argument("--llm-model", default="default", help="the baseline's model name there")
    parser.add_argument("--data", type=Path, default=FACTS, help="the facts file (default: %(default)s)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline (dev iterations)")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}: use {', '.join(KINDS)}")
    settings = Settings(_env_file=None)
    baseline = None
    if args.llm_base_url:
        from service.components.llm.llm_handle import client_for

        llm = client_for(settings, args.llm_base_url, args.llm_model)
        baseline = naive_baseline(llm, settings.summary_max_tokens)
    result = run(
        args.base_url,
        args.split,
        kinds,
        audience=args.audience,
        length=args.length,
        baseline=baseline,
        data=args.data,
        with_baseline=not args.no_baseline,
    )
    save_and_print(f"{name_of(args.data)}-{args.split}", result, headline(result["summary"]))
    print(f"report: {report(result)}")


if __name__ == "__main__":
    main()
