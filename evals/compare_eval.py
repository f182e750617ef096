"""Side-by-side comparisons with the embedded model: cost, coverage and quote validity.

Compares fixed groups of sample papers through POST /compare and reports, per request,
LLM calls, tokens and latency; over all cells, the share filled (vs "not stated") and
the share whose quote is an exact sentence of its paper (must be 100 %); over requests,
the share whose summary names every compared paper (its group name below).

    python -m evals.compare_eval [--base-url URL]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tqdm import tqdm

from evals.client import ensure_sample_corpus, open_client
from evals.metrics import median
from evals.results_io import save_and_print
from service.components.sentences import split_sentences
from service.corpus.paper import paper_body
from service.schemas import CompareOut, PaperOut

GROUPS = [
    ["CARP:", "Streaming Diffusion Policy:"],
    ["ASAP:", "Gen2Sim:"],
    ["Policy-Guided Diffusion", "Policy Regularization with Dataset Constraint", "ODICE:"],
    ["Octo-planner:", "ToolChain*:"],
    ["SINC:", "EMDM:", "Multi-Track Timeline Control"],
    ["CogACT:", "SpatialVLA:", "Unified Video Action Model"],
    ["GenSim:", "Gen2Sim:", "DataEnvGym:"],
    ["Flow Straight and Fast", "Fast Sampling of Diffusion Models", "Direct Discriminative Optimization"],
]


def run(base_url: str | None) -> dict[str, Any]:
    client = open_client(base_url)
    ids = ensure_sample_corpus(client)
    rows, latencies, cells, filled, valid, named_all = [], [], 0, 0, 0, 0
    model = "unknown"
    for group in tqdm(GROUPS, desc="compare", unit="request"):
        paper_ids = [next(pid for title, pid in ids.items() if title.startswith(g)) for g in group]
        t0 = time.perf_counter()
        r = client.post("/compare", json={"paper_ids": paper_ids})
        latencies.append(time.perf_counter() - t0)
        r.raise_for_status()
        body = CompareOut.model_validate(r.json())
        for row in body.rows:
            paper = PaperOut.model_validate(client.get(f"/papers/{row.paper_id}").json())
            sentences = set(split_sentences(paper_body(paper.abstract, paper.text)))
            for cell in row.cells.values():
                cells += 1
                if cell.quote:
                    filled += 1
                    valid += cell.quote in sentences
        model = body.model
        named_all += all(g.rstrip(":").lower() in body.summary.lower() for g in group)
        dumped = body.model_dump()
        rows.append(
            {"papers": group, "usage": dumped["usage"], "summary": body.summary, "rows": dumped["rows"]}
        )
    n_papers = sum(len(g) for g in GROUPS)
    return {
        "summary": {
            "requests": len(GROUPS),
            "papers": n_papers,
            "llm_calls_per_request": sum(r["usage"]["llm_calls"] for r in rows) / len(rows),
            "prompt_tokens_per_request": sum(r["usage"]["prompt_tokens"] for r in rows) / len(rows),
            "cells": cells,
            "cells_filled": filled / cells,
            "quotes_exact": valid / max(1, filled),
            "summary_names_every_paper": named_all / len(GROUPS),
            "latency_p50_s": median(latencies),
            "latency_p50_s_3_papers": median(
                [t for t, g in zip(latencies, GROUPS, strict=True) if len(g) == 3]
            ),
            "latency_per_paper_s": sum(latencies) / n_papers,
        },
        "rows": rows,
        "model": model,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=None)
    args = parser.parse_args()
    save_and_print("compare", run(args.base_url))


if __name__ == "__main__":
    main()
