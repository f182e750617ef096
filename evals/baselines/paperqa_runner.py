"""Runs inside evals/.paperqa-venv (the real `paper-qa` package from PyPI), not in
paperlens's venv: answers questions over the same corpus through the same local
OpenAI-compatible endpoint. Reads a JSON job on stdin and writes JSON results to the
job's "out" file (not stdout: litellm prints its own notices there).

Job: {"endpoint": ".../v1", "home": DIR, "out": FILE, "papers": [{"docname", "title", "text"}],
      "questions": [{"id", "question"}], "budget_s": seconds or null}

The out file is rewritten after every answer, so a run cut short keeps what it answered;
no new question starts once `budget_s` has passed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no cost-map download


async def main(job: dict[str, Any]) -> list[dict[str, Any]]:
    os.environ["PQA_HOME"] = job["home"]
    from paperqa import Docs, Settings
    from paperqa.settings import ParsingSettings

    router = {
        "model_list": [
            {
                "model_name": "openai/local",
                "litellm_params": {"model": "openai/local", "api_base": job["endpoint"], "api_key": "x"},
            }
        ]
    }
    settings = Settings(
        llm="openai/local",
        summary_llm="openai/local",
        llm_config=router,
        summary_llm_config=router,
        embedding="sparse",
        temperature=0.0,
        parsing=ParsingSettings(use_doc_details=False, multimodal=False),
    )
    docs = Docs()
    folder = Path(tempfile.mkdtemp(prefix="pqa-corpus-"))
    for paper in job["papers"]:
        path = folder / f"{paper['docname']}.txt"
        path.write_text(f"{paper['title']}\n\n{paper['text']}")
        await docs.aadd(
            path, citation=paper["title"], docname=paper["docname"], title=paper["title"], settings=settings
        )
    out: list[dict[str, Any]] = []
    start = time.perf_counter()
    for q in job["questions"]:
        if job.get("budget_s") and time.perf_counter() - start > job["budget_s"]:
            break
        t0 = time.perf_counter()
        session = await docs.aquery(q["question"], settings=settings)
        prompt = sum(v[0] for v in session.token_counts.values())
        completion = sum(v[1] for v in session.token_counts.values())
        out.append(
            {
                "id": q["id"],
                "answer": session.answer,
                "seconds": time.perf_counter() - t0,
                "n_contexts": len(session.contexts),
                "prompt_tokens": prompt,
                "completion_tokens": completion,
            }
        )
        Path(job["out"]).write_text(json.dumps(out))
    return out


if __name__ == "__main__":
    job = json.load(sys.stdin)
    Path(job["out"]).write_text(json.dumps(asyncio.run(main(job))))
