# Named so as not to shadow the `paperqa` package for paperqa_runner.py, which runs from this folder.
"""Baseline: PaperQA2 (the real `paper-qa` package, pinned, in its own venv under
evals/.paperqa-venv), on the same corpus, questions and local model endpoint.

PaperQA2 makes one LLM call per evidence summary plus one for the answer; we count
`contexts + 1` calls per question. It cites by document chunk, not by quote, so its
citation precision is not scored.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from service.container import Services

VENV_PYTHON = Path(__file__).resolve().parents[1] / ".paperqa-venv" / "bin" / "python"
RUNNER = Path(__file__).with_name("paperqa_runner.py")
ABSTAINS = re.compile(
    r"cannot answer|can't answer|unable to answer|insufficient information|not enough information|"
    r"does not (provide|mention|contain)|no information",
    re.IGNORECASE,
)


def available() -> bool:
    return VENV_PYTHON.exists()


def run(
    services: Services,
    items: list[dict[str, Any]],
    score: Any,
    summarise: Any,
    ids: dict[str, str],
    budget_s: float | None = None,
) -> dict[str, Any]:
    """PaperQA2's answers, scored like paperlens's. With `budget_s`, no question starts
    after that many seconds; the result says how many of the questions it answered."""
    server = services.llm.server
    endpoint = server.base_url if server else (services.llm.client.base_url if services.llm.client else None)
    if endpoint is None:
        raise RuntimeError("the PaperQA2 baseline needs an LLM endpoint")
    papers = [
        {"docname": f"doc{i}", "title": p.title, "text": "\n\n".join(x for x in (p.abstract, p.text) if x)}
        for i, p in enumerate(services.store.papers.get(pid) for pid in ids.values())
        if p is not None
    ]
    home = tempfile.mkdtemp(prefix="pqa-home-")
    out_file = f"{home}/answers.json"
    job = {
        "endpoint": endpoint,
        "home": home,
        "out": out_file,
        "papers": papers,
        "questions": [{"id": i["id"], "question": i["question"]} for i in items],
        "budget_s": budget_s,
    }
    error = None
    try:
        proc = subprocess.run(
            [str(VENV_PYTHON), str(RUNNER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=(budget_s or 6 * 3600) + 1800,
        )
        if proc.returncode != 0:  # reported, not fatal: the rest of the run still counts
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "Provider List" not in ln]
            error = f"PaperQA2 exited with {proc.returncode}: " + " | ".join(lines[-6:])
    except subprocess.TimeoutExpired:
        error = "PaperQA2 overran its time budget by 30 minutes and was stopped"
    out = Path(out_file)
    answers = {a["id"]: a for a in json.loads(out.read_text())} if out.exists() else {}
    if not answers:
        return {"error": error or "PaperQA2 answered no question"}
    rows, latencies = [], []
    for item in items:
        if item["id"] not in answers:
            continue
        a = answers[item["id"]]
        latencies.append(a["seconds"])
        response = {
            "answer": a["answer"],
            "abstained": bool(ABSTAINS.search(a["answer"])),
            "citations": [],
            "engine": "paperqa2",
            "degraded": False,
            "usage": {
                "llm_calls": a["n_contexts"] + 1,
                "prompt_tokens": a["prompt_tokens"],
                "completion_tokens": a["completion_tokens"],
            },
        }
        rows.append(score(item, response, ids))
    return {
        "summary": summarise(rows, latencies),
        "rows": rows,
        "latencies": latencies,
        "questions_asked": len(items),
        "error": error,
    }
