"""Write a harness run as Markdown (headline table first), JSON, and PNG plots."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PACKAGES = ("chromadb", "onnxruntime", "xllamacpp", "openai", "langchain-core", "bm25s", "fastapi")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def headline(results: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if r := results.get("retrieval"):
        rows += [("retrieval recall@5", _fmt(r["recall@5"])), ("retrieval MRR@10", _fmt(r["mrr@10"]))]
    if (u := results.get("user")) and "test" in u:
        t = u["test"]
        rows += [
            (
                "user-worded questions (test): false abstention / wrong answers",
                f"{t['false_abstention_rate']:.3f} / {t['wrong_answer_rate']:.3f}",
            ),
            (
                "user-worded (test): multi-paper cite all / which-paper named",
                f"{t['multi_cites_every_paper']:.3f} / {t['which_names_paper']:.3f}",
            ),
        ]
    if ft := results.get("fulltext"):
        for label, f in (("LitQA2 dev", ft["summary"]), ("own test", ft.get("test"))):
            if not f:
                continue
            rows += [
                (
                    f"whole papers ({label}): precision / accuracy",
                    f"{f['open']['precision']:.3f} / {f['open']['accuracy']:.3f}",
                ),
                (
                    f"whole papers ({label}): paper recall@5 / key passage in evidence",
                    f"{f['paper_recall_at_5']:.3f} / {_fmt(f['key_passage_in_evidence'])}",
                ),
            ]
    if q := results.get("qa"):
        s = q["summary"]
        rows += [
            ("QA answer accuracy", _fmt(s["answer_accuracy"])),
            ("QA abstention accuracy", _fmt(s["abstention_accuracy"])),
            ("QA citation precision", _fmt(s["citation_precision"])),
            ("LLM calls per answer (max)", f"{s['llm_calls_per_question']:.2f} ({s['max_llm_calls']})"),
            (
                "prompt tokens per answer (mean / max)",
                f"{s['prompt_tokens_mean']:.0f} / {s['prompt_tokens_max']}",
            ),
            ("/ask latency p50 / p90 s", f"{s['latency_p50_s']:.2f} / {s['latency_p90_s']:.2f}"),
        ]
    if m := results.get("summaries"):
        s = m["summary"]
        rows += [
            ("summary ROUGE-1/2/L", f"{s['rouge1']:.3f} / {s['rouge2']:.3f} / {s['rougeL']:.3f}"),
            ("summary longest copied run (max)", str(s["longest_copied_run_max"])),
            ("summary invented numbers", str(s["invented_numbers"])),
            ("cached summary p50 ms", _fmt(s["cached_p50_ms"])),
        ]
    if p := results.get("pubmedqa"):
        s = p["summary"]
        rows += [
            (
                "PubMedQA accuracy (majority class)",
                f"{s['accuracy']:.3f} ({s['majority_class_accuracy']:.3f})",
            )
        ]
    if c := results.get("compare"):
        s = c["summary"]
        rows += [
            ("compare cells filled / quotes exact", f"{s['cells_filled']:.3f} / {s['quotes_exact']:.3f}")
        ]
        if "summary_names_every_paper" in s:  # reports before it lack the figure
            rows.append(("compare summaries naming every paper", f"{s['summary_names_every_paper']:.3f}"))
    if qa_run := (results.get("suite_runs") or {}).get("qa"):
        rows.append(("peak RSS while answering (QA suite), MiB", f"{qa_run['peak_rss_mib']:.0f}"))
    if (q := results.get("qa")) and (lat := q.get("latencies")):
        rows.append(("first /ask after the model loads, s", f"{lat[0]:.2f}"))
    if b := results.get("speed"):
        rows.append(("ingest chunks/s (real model)", _fmt(b["ingest"]["with_embedding_chunks_per_s"])))
        for row in b["search"]:
            rows.append(
                (
                    f"/search p50 ms at {row['chunks']:,} chunks (no query embedding)",
                    _fmt(row["search_p50_ms"]),
                )
            )
    return rows


def latency_table(results: dict[str, Any]) -> list[str]:
    """First-request, cold (not cached) and cached latencies of the generated answers."""
    rows: list[tuple[str, str, str, str]] = []
    if (q := results.get("qa")) and q.get("latencies"):
        s, lat = q["summary"], q["latencies"]
        cached = q.get("cached") or {}
        rows.append(
            (
                "/ask",
                f"{lat[0]:.2f} s",
                f"{s['latency_p50_s']:.2f} / {s['latency_p90_s']:.2f} s",
                f"{cached['p50_ms']:.1f} ms (hit rate {cached['hit_rate']:.2f})" if cached else "n/a",
            )
        )
    if m := results.get("summaries"):
        s = m["summary"]
        rows.append(
            (
                "summary",
                "n/a",
                f"{s['latency_p50_s']:.2f} / {s['latency_p90_s']:.2f} s",
                f"{s['cached_p50_ms']:.1f} ms",
            )
        )
    if c := results.get("compare"):
        s = c["summary"]
        rows.append(("compare", "n/a", f"{s['latency_p50_s']:.1f} s (p50)", "not cached"))
    if not rows:
        return []
    lines = [
        "",
        "## Latency: cold and cached",
        "",
        "| request | first after the model loads | cold (not cached) p50 / p90 | cached p50 |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += [
        "",
        "First: the first LLM request after the embedded model loads (the QA suite's first /ask). "
        "Cold: a question or paper not seen before, so retrieval and the LLM run. Cached: the same "
        "request again (the answer cache for /ask, the store's summary cache for summaries).",
    ]
    return lines


def runs_table(results: dict[str, Any]) -> list[str]:
    """How long each suite took and its peak RSS (the window is reset per suite)."""
    runs = results.get("suite_runs") or {}
    if not runs:
        return []
    lines = [
        "",
        "## Suites: time and memory",
        "",
        "| suite | minutes | peak RSS MiB |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {v['seconds'] / 60:.1f} | {v['peak_rss_mib']:.0f} |" for k, v in runs.items()]
    lines += [
        "",
        "One process runs every suite in-process, on one shared embedder and embedded LLM; "
        "each suite has its own store, and earlier suites' stores stay open, so a later suite's "
        "peak includes them (the QA suite's is the closest to one serving process). Peak RSS is "
        "per suite (Linux VmHWM, reset before each)"
        + (f"; {results['peak_rss_mib']:.0f} MiB over the whole run." if "peak_rss_mib" in results else "."),
    ]
    return lines


PAPERQA2_PUBLISHED = {"precision": 0.852, "accuracy": 0.660}  # LitQA2, frontier model + web search


def fulltext_table(results: dict[str, Any]) -> list[str]:
    """Whole papers over the full-text PDFs: the test split (our own LitQA2-form questions,
    never tuned on) and the LitQA2 dev split, paperlens beside naive RAG (same run) and
    PaperQA2's published LitQA2 figures (another setting: frontier model, web search)."""
    ft = results.get("fulltext")
    if not ft:
        return []
    s = ft["summary"]
    splits = [("test", ft["test"], ft.get("naive_rag_test"))] if ft.get("test") else []
    splits.append(("LitQA2 dev", s, ft.get("naive_rag")))
    lines = [
        "",
        f"## Whole papers: {s['papers']} full-text PDFs, LitQA2-form questions",
        "",
        "Test: questions written for paperlens in LitQA2's form (evals/data/fulltext/own-test.jsonl), "
        "never tuned on; dev: the LitQA2 questions about these PDFs, which the rules were tuned on.",
        "",
        "| split | figure | paperlens open-ended | paperlens with options | naive RAG open-ended "
        "| PaperQA2 (published LitQA2) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, f, naive_result in splits:
        naive = ((naive_result or {}).get("summary") or {}).get("open") or {}
        for key in ("precision", "accuracy", "answered"):
            published = PAPERQA2_PUBLISHED.get(key)
            lines.append(
                f"| {name} ({f['questions']} q) | {key} | {f['open'][key]:.3f} | {f['choice'][key]:.3f} | "
                f"{_fmt(naive.get(key, 'n/a'))} | {_fmt(published) if published is not None else ''} |"
            )
    lines.append("")
    for name, f, _ in splits:
        evidence = f.get("key_passage_in_evidence")
        lines.append(
            f"- {name}: paper recall@5 {f['paper_recall_at_5']:.3f}; key passage in the top-5 search "
            f"results {f['key_passage_recall_at_5']:.3f}; key passage among the answer's evidence "
            f"{_fmt(evidence) if evidence is not None else 'n/a'}; citations with a page "
            f"{f['citations_with_page']:.3f}; /ask p50 {f['ask_p50_s']:.1f} s."
        )
    d = ft.get("distractors")
    if d:
        lines.append(
            f"- test with {d['distractor_papers']} PubMedQA abstracts added to the store as distractors "
            f"(retrieval only, no answers): paper recall@5 {d['paper_recall_at_5']:.3f}; key passage among "
            f"the evidence {d['key_passage_in_evidence']:.3f}."
        )
    lines += [
        "",
        f"Ingest: {s['papers']} PDFs, {s['pages']} pages, {s['chunks']} chunks "
        f"in {s['ingest_seconds']:.0f} s "
        f"({s['pages'] / max(s['ingest_seconds'], 1e-9):.1f} pages/s, "
        f"{s['chunks'] / max(s['ingest_seconds'], 1e-9):.1f} chunks/s, parse and embed; "
        f"median paper of {s.get('pages_per_paper_p50', 0):.0f} pages searchable "
        f"{s.get('seconds_per_paper_p50', 0):.1f} s after its upload).",
    ]
    return lines


USER_TARGETS = {
    "false_abstention_rate": ("false abstention", "<= 0.05"),
    "wrong_answer_rate": ("wrong answers (of answers given)", "<= 0.05"),
    "multi_cites_every_paper": ("multi-paper questions citing every paper", ">= 0.80"),
    "which_names_paper": ('"which paper" answers naming the paper', ">= 0.90"),
    "yesno_right": ("yes/no answers with the right Yes/No", ""),
    "unanswerable_declined": ("unanswerable questions declined", "1.00"),
    "invented_numbers": ("invented numbers", "0"),
    "accuracy": ("accuracy (all questions)", ""),
    "latency_p50_s": ("/ask p50 s", "<= 5"),
}


def user_table(results: dict[str, Any]) -> list[str]:
    """Questions worded the way users ask them: test split (quoted), dev split (tuned on)."""
    u = results.get("user")
    if not u:
        return []
    splits = [s for s in ("test", "dev") if s in u]
    lines = [
        "",
        "## Questions worded like users' (evals/data/user_questions.jsonl)",
        "",
        "| figure | " + " | ".join(f"{s} ({u[s]['n_questions']} q)" for s in splits) + " | target |",
        "|---|" + "---:|" * len(splits) + "---|",
    ]
    for key, (label, target) in USER_TARGETS.items():
        lines.append(f"| {label} | " + " | ".join(_fmt(u[s][key]) for s in splits) + f" | {target} |")
    lines += [
        "",
        "Rules and thresholds were tuned on the dev split only; the test split is the figure to "
        "quote. A wrong answer is an answer given that misses a gold fact, names the wrong paper, "
        "opens with the wrong Yes/No, or answers an unanswerable question.",
    ]
    return lines


def previous_full(out_dir: Path, stem: str) -> list[dict[str, Any]]:
    """Earlier full reports, newest first (the speed table takes each figure from the
    newest one that has it: a run of some suites leaves the others' figures out)."""
    older = sorted((p for p in out_dir.glob("*-full.json") if p.stem < stem), reverse=True)
    return [{**json.loads(p.read_text()), "_report": p.stem} for p in older]


def _speed_figures(r: dict[str, Any]) -> dict[str, float | None]:
    compare = (r.get("compare") or {}).get("summary") or {}
    return {
        "/ask p50 s (QA suite)": ((r.get("qa") or {}).get("summary") or {}).get("latency_p50_s"),
        "/ask p50 s (user-worded, test)": ((r.get("user") or {}).get("test") or {}).get("latency_p50_s"),
        "/compare p50 s (3 papers)": compare.get("latency_p50_s_3_papers"),
        "/compare p50 s (all groups)": compare.get("latency_p50_s"),
        "/compare LLM calls per request": compare.get("llm_calls_per_request"),
        "summary p50 s": ((r.get("summaries") or {}).get("summary") or {}).get("latency_p50_s"),
    }


def speed_table(results: dict[str, Any], before: list[dict[str, Any]]) -> list[str]:
    """Request latency now and in the previous full reports (same machine kind)."""
    now = _speed_figures(results)
    if all(v is None for v in now.values()):
        return []
    lines = [
        "",
        "## Speed: this run and the previous full reports",
        "",
        "| request | now | before | from report |",
        "|---|---:|---:|---|",
    ]
    for key, value in now.items():
        old, source = next(
            ((_speed_figures(b)[key], b["_report"]) for b in before if _speed_figures(b)[key] is not None),
            (None, ""),
        )
        cells = [_fmt(v) if v is not None else "n/a" for v in (value, old)]
        lines.append(f"| {key} | {cells[0]} | {cells[1]} | {source} |")
    lines += [
        "",
        "Targets: /ask p50 <= 5 s, /compare p50 <= 15 s for 3 papers, on 2 vCPUs with the embedded model.",
    ]
    return lines


def baseline_table(results: dict[str, Any]) -> list[str]:
    """paperlens and each baseline in adjacent columns, with ratios, same run."""
    qa = results.get("qa") or {}
    base = qa.get("naive_rag")
    if not base:
        return []
    ours, theirs = qa["summary"], base["summary"]
    metrics = [
        ("answer accuracy", "answer_accuracy", "delta"),
        ("abstention accuracy", "abstention_accuracy", "delta"),
        ("false abstentions", "false_abstention_rate", "delta"),
        ("citation precision", "citation_precision", "delta"),
        ("LLM calls per answer", "llm_calls_per_question", "ratio"),
        ("prompt tokens per answer", "prompt_tokens_mean", "ratio"),
        ("completion tokens per answer", "completion_tokens_mean", "ratio"),
        ("latency p50 s", "latency_p50_s", "ratio"),
    ]
    pqa_run = qa.get("paperqa2") or {}
    pqa, pqa_error = pqa_run.get("summary"), pqa_run.get("error")
    ours_same = pqa_run.get("paperlens_same_questions") or ours
    head = f"| QA metric ({ours['n_questions']} q) | paperlens | naive RAG | paperlens vs naive |"
    rule = "|---|---:|---:|---:|"
    if pqa:
        n = pqa["n_questions"]
        head += f" paperlens on PaperQA2's {n} q | PaperQA2 ({n} q) | paperlens vs PaperQA2 |"
        rule += "---:|---:|---:|"
    lines = ["", "## Against baselines (same run, same model, same machine)", "", head, rule]

    def compare(a: float, b: float, kind: str) -> str:
        ratio = f"{a / b:.2f}x" if b else "n/a"
        return f"{a - b:+.3f}" if kind == "delta" else ratio

    for label, key, kind in metrics:
        a, b = float(ours[key]), float(theirs[key])
        line = f"| {label} | {_fmt(a)} | {_fmt(b)} | {compare(a, b, kind)} |"
        if pqa:
            a2, c = float(ours_same[key]), float(pqa[key])
            if key == "citation_precision":  # PaperQA2 cites chunks, not quotes: not scored
                line += f" {_fmt(a2)} | not scored | n/a |"
            else:
                line += f" {_fmt(a2)} | {_fmt(c)} | {compare(a2, c, kind)} |"
        lines.append(line)
    lines += [
        "",
        "Naive RAG: dense top-4 chunks from the same Chroma store stuffed into one LangChain prompt, "
        "no attribution or abstention logic; it cites nothing, so its citation precision is 0. "
        "PaperQA2: the real paper-qa package in its own venv on the same endpoint; it cites document "
        "chunks, not quotes, so its citation precision is not scored; LLM calls are its evidence "
        "summaries plus the answer; it is compared with paperlens on the same questions. "
        "In quick mode it answers a 3-question subset; in full mode every question it reaches within "
        "its time budget.",
    ]
    if pqa and pqa_run.get("questions_asked", pqa["n_questions"]) > pqa["n_questions"]:
        lines += [
            "",
            f"PaperQA2 answered {pqa['n_questions']} of {pqa_run['questions_asked']} questions "
            "before its time budget ran out.",
        ]
    if pqa_error:
        lines += ["", f"PaperQA2 did not complete in this run: {pqa_error}"]
    return lines


def _save(fig: Any, out: Path, name: str, made: list[str]) -> None:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    made.append(name)


def plots(results: dict[str, Any], out: Path, stem: str) -> list[str]:
    made: list[str] = []
    if q := results.get("qa"):
        fig, ax = plt.subplots(figsize=(5, 3))
        by_type = q["summary"]["accuracy_by_type"]
        ax.bar(list(by_type), list(by_type.values()), color="#4477aa")
        ax.set_ylim(0, 1)
        ax.set_ylabel("correct")
        ax.set_title("Grounded QA: accuracy per question type")
        _save(fig, out, f"{stem}-qa-by-type.png", made)
        if q.get("latencies"):
            fig, ax = plt.subplots(figsize=(5, 3))
            ax.hist(q["latencies"], bins=12, color="#66ccee")
            ax.set_xlabel("/ask latency (s)")
            ax.set_ylabel("questions")
            ax.set_title("Grounded QA: latency distribution")
            _save(fig, out, f"{stem}-qa-latency.png", made)
    if (b := results.get("speed")) and len(b["search"]) > 1:
        fig, ax = plt.subplots(figsize=(5, 3))
        sizes = [r["chunks"] for r in b["search"]]
        ax.plot(sizes, [r["search_p50_ms"] for r in b["search"]], marker="o", label="p50")
        ax.plot(sizes, [r["search_p99_ms"] for r in b["search"]], marker="o", label="p99")
        ax.set_xscale("log")
        ax.set_xlabel("chunks in the store")
        ax.set_ylabel("ms (no query embedding)")
        ax.set_title("/search latency by store size")
        ax.legend()
        _save(fig, out, f"{stem}-search-latency.png", made)
    return made


def write_report(results: dict[str, Any], out_dir: Path, stem: str, mode: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {**results, "machine": machine(), "mode": mode}
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str))
    images = plots(results, out_dir, stem)
    lines = [f"# paperlens evaluation ({mode})", "", "| figure | value |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in headline(results)]
    m = results["machine"]
    lines += [
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, {m['platform']}.",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        f"LLM: {results.get('llm_model', 'unknown')}. Figures are medians (p50) unless marked.",
        "",
    ]
    lines += baseline_table(results)
    lines += user_table(results)
    lines += fulltext_table(results)
    lines += speed_table(results, previous_full(out_dir, stem) if mode == "full" else [])
    lines += latency_table(results)
    lines += runs_table(results)
    lines += [""] + [f"![{name}]({name})" for name in images]
    for suite in ("retrieval", "qa", "user", "fulltext", "summaries", "pubmedqa", "compare", "speed"):
        if suite in results:
            data = results[suite]
            summary = data.get("summary", data) if isinstance(data, dict) else data
            if suite == "user":
                summary = {k: v for k, v in data.items() if k in ("dev", "test")}
            lines += ["", f"## {suite}", "", "```json", json.dumps(summary, indent=2, default=str), "```"]
    path = out_dir / f"{stem}.md"
    path.write_text("\n".join(lines) + "\n")
    return path
