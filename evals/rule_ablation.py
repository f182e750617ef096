"""Rule families switched off one at a time, scored on blind questions none of them was written for.

Issue 30 asks each family of hand-written answer rules to earn its place on held-out
data. The questions are the dev splits of the two blind sets (written by helpers that
never saw the code, after every rule here was written): `user_questions2` (abstracts)
and `fulltext/blind-ft` (whole papers). Test splits are not touched.

Every variant runs the same questions through POST /ask with the answer cache off. The
first (all rules on) records the model's replies (`evals/replay.py`); a variant whose
family acts after the LLM call replays them, so it sees the very same model outputs and
only the family's effect differs. A variant that changes the prompt (evidence priors, the
question-form rule) calls the model afresh.

Each family is switched off by replacing its entry point for the run (`FAMILIES`); the
service's code is not changed. A family pays when switching it off lowers
net = right - wrong answers over both sets (declines count 0); one that does not pay is
deleted with its tests.

    python -m evals.rule_ablation [--families all|name,name] [--split dev]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from fastapi.testclient import TestClient
from tqdm import tqdm

from evals import blind_eval, pubmedqa_eval, user_eval
from evals.client import SAMPLE, ensure_sample_corpus
from evals.fulltext_eval import ingest
from evals.replay import Replay
from service.answering.ask_service import AskService
from service.checks import attribution
from service.container import Container, build_services
from service.core.config import Settings
from service.schemas import AskOut
from service.server.app import create_app

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "evals" / "reports"
RESULTS = ROOT / "evals" / "results"
ABSTRACTS = user_eval.DATA_DIR / "user_questions2.jsonl"


@contextlib.contextmanager
def _all(*patches: contextlib.AbstractContextManager[Any]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        yield


# family -> (what it is, the patches that switch it off, whether it changes the prompt)
FAMILIES: dict[str, tuple[str, Callable[[], contextlib.AbstractContextManager[Any]], bool]] = {
    "numbers": (
        "numbers the supporting sentences lack drop a claim (attribution, numbers.py)",
        lambda: mock.patch.object(attribution, "unsupported_numbers", lambda *a, **k: set()),
        False,
    ),
    "paper_names": (
        "a claim naming a paper rests on that paper's sentences; 'A does X, while B does Y' is "
        "checked clause by clause; 'both papers ...' needs two papers' support (attribution)",
        lambda: _all(
            mock.patch.object(attribution, "_paper_names", lambda items: attribution._PaperNames({}, {})),
            mock.patch.object(attribution, "_SHARED", re.compile(r"(?!x)x")),
        ),
        False,
    ),
    "question_fit": (
        "an answer must answer what was asked: re-cite, rebind a number, complete a comparison, "
        "decline restatements (checks/question_fit.py, AskService._fit)",
        lambda: mock.patch.object(AskService, "_fit", lambda self, prep, checked: checked),
        False,
    ),
}
"""The families still in the code. Deleted after the 2026-12-07 ablation (its reports name
them and their scores): entailment cues, names the supporting sentences lack and renaming a
misnamed paper, quoting the answering sentence instead of a missed answer, code-decided
yes/no verdicts, a prompt rule per question form, covering every named paper and naming
the paper of a which-paper answer, evidence priors by question form."""


def _client(shared: dict[str, Any], **overrides: Any) -> TestClient:
    settings = Settings(
        **overrides,
        data_dir=Path(tempfile.mkdtemp(prefix="paperlens-ablation-")),
        rate_limit_per_s=0,
        llm_rate_limit_per_min=0,
        ask_cache_size=0,  # every variant asks afresh
        _env_file=None,
    )
    services = build_services(settings, embedder=shared.get("embedder"), llm=shared.get("llm"))
    shared.setdefault("embedder", services.embedder)
    shared.setdefault("llm", services.llm)
    return TestClient(create_app(settings, Container.of(services)), base_url="http://localhost")


def _ask(client: TestClient, question: str) -> tuple[AskOut, float]:
    t0 = time.perf_counter()
    r = client.post("/ask", json={"question": question, "min_confidence": 0.0})
    r.raise_for_status()
    return AskOut.model_validate(r.json()), time.perf_counter() - t0


def _kept(row: dict[str, Any], bar: float) -> bool:
    return row["confidence"] is None or row["confidence"] >= bar


def score_variant(
    abstracts: TestClient, ids: dict[str, str], papers: TestClient, split: str, label: str
) -> dict[str, Any]:
    """Both blind sets through /ask; right/wrong/declined per set at bar 0 and the default bar."""
    bar = Settings(_env_file=None).answer_min_confidence
    a_rows, a_lat = [], []
    for item in tqdm(user_eval.load_items(split, data=ABSTRACTS), desc=f"{label}: abstracts", unit="q"):
        answer, seconds = _ask(abstracts, item["question"])
        a_rows.append(user_eval.score_item(item, answer, ids))
        a_lat.append(seconds)
    f_rows = []
    for item in tqdm(blind_eval.load_items(split), desc=f"{label}: whole papers", unit="q"):
        answer, seconds = _ask(papers, item["question"])
        f_rows.append(
            {
                "id": item["id"],
                "answerable": item["answerable"],
                "grade": blind_eval.grade_item(item, answer),
                "confidence": answer.confidence,
                "answer": answer.answer,
                "dropped": [d.reason for d in answer.dropped],
                "llm_calls": answer.usage.llm_calls,
                "seconds": seconds,
            }
        )

    def counts(at: float) -> dict[str, int]:
        # below the bar an answer is declined: right for an unanswerable question, else not given
        a_right = sum(
            (r["right"] and (r["abstained"] or _kept(r, at))) or (not r["answerable"] and not _kept(r, at))
            for r in a_rows
        )
        a_wrong = sum(r["wrong"] and _kept(r, at) for r in a_rows)
        f_right = sum(r["grade"] == "right" and _kept(r, at) for r in f_rows)
        f_wrong = sum(r["grade"] == "wrong" and _kept(r, at) for r in f_rows)
        return {
            "abstracts_right": a_right,
            "abstracts_wrong": a_wrong,
            "papers_right": f_right,
            "papers_wrong": f_wrong,
            "net": a_right + f_right - a_wrong - f_wrong,
        }

    return {
        "label": label,
        "at_0": counts(0.0),
        "at_bar": counts(bar),
        "bar": bar,
        "abstracts": user_eval.summarise(a_rows, a_lat),
        "papers": blind_eval.summarise(f_rows),
        "rows": {"abstracts": a_rows, "papers": f_rows},
    }


def pubmedqa_variant(client: TestClient, items: list[dict[str, Any]], label: str) -> dict[str, Any]:
    """PubMedQA items (each its own one-abstract paper) through /ask: decision right or not.
    A yes/no question set larger than the blind sets' few, for the yes/no families."""
    rows = []
    for item in tqdm(items, desc=f"{label}: pubmedqa", unit="q"):
        r = client.post(
            "/ask", json={"question": item["question"], "paper_ids": [item["id"]], "min_confidence": 0.0}
        )
        r.raise_for_status()
        answer = AskOut.model_validate(r.json())
        predicted = pubmedqa_eval.decision(answer.answer, answer.abstained)
        rows.append({"id": item["id"], "gold": item["gold"], "predicted": predicted, "answer": answer.answer})
    right = sum(r["predicted"] == r["gold"] for r in rows)
    wrong = sum(r["predicted"] not in ("maybe", r["gold"]) for r in rows)
    return {"label": label, "right": right, "wrong": wrong, "net": right - wrong, "rows": rows}


def run_pubmedqa(names: list[str], offset: int, n: int, replay_path: Path) -> None:
    shared: dict[str, Any] = {}
    client = _client(shared)
    items = pubmedqa_eval.load_items(n, offset)
    papers = [
        {"id": i["id"], "title": f"PubMed {i['id'][9:]}", "abstract": " ".join(i["contexts"])} for i in items
    ]
    client.post("/papers", json={"papers": papers}).raise_for_status()
    if shared["llm"].client is not None:
        Replay(shared["llm"].client, replay_path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    lines = [
        f"# Rule-family ablation on PubMedQA dev items {offset}-{offset + n - 1} (never tuned on)",
        "",
        "right = decision equals the gold one; wrong = a yes/no that is not; maybe/declined count 0.",
        "",
        "| variant | right | wrong | net |",
        "|---|---|---|---|",
    ]
    results = []
    for label in ["all rules on", *names]:
        patch = contextlib.nullcontext() if label == "all rules on" else FAMILIES[label][1]()
        with patch:
            result = pubmedqa_variant(client, items, label)
        results.append(result)
        lines.append(f"| {label} | {result['right']} | {result['wrong']} | {result['net']} |")
        print(lines[-1], flush=True)
    (RESULTS / f"rule-ablation-pubmedqa-{stamp}.json").write_text(json.dumps(results))
    path = REPORTS / f"{stamp}-rule-ablation-pubmedqa.md"
    path.write_text("\n".join(lines) + "\n")
    print(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", default="all")
    parser.add_argument(
        "--pubmedqa", default=None, help="OFFSET:N: PubMedQA dev items instead of the blind sets"
    )
    parser.add_argument("--split", default="dev", choices=("dev",))  # test splits are not for choosing
    parser.add_argument("--replay", default=str(RESULTS / "replay-ablation-dev.jsonl"))
    args = parser.parse_args()
    names = list(FAMILIES) if args.families == "all" else args.families.split(",")
    if args.pubmedqa:
        offset, n = (int(x) for x in args.pubmedqa.split(":"))
        run_pubmedqa(names, offset, n, RESULTS / "replay-ablation-pubmedqa.jsonl")
        return
    shared: dict[str, Any] = {}
    abstracts = _client(shared)
    ids = ensure_sample_corpus(abstracts)
    assert SAMPLE.exists()
    papers = _client(shared)
    ingest(papers, sorted({i["pdf"] for i in blind_eval.load_items(args.split)}))
    client = shared["llm"].client
    replay = Replay(client, Path(args.replay)) if client is not None else None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"rule-ablation-{stamp}.jsonl"
    RESULTS.mkdir(exist_ok=True)
    results = []
    for label in ["all rules on", *names]:
        patch = contextlib.nullcontext() if label == "all rules on" else FAMILIES[label][1]()
        t0 = time.perf_counter()
        with patch:
            result = score_variant(abstracts, ids, papers, args.split, label)
        result["seconds"] = time.perf_counter() - t0
        if replay is not None:
            result["replay_hits"], result["replay_misses"] = replay.hits, replay.misses
        results.append(result)
        with out.open("a") as f:
            f.write(json.dumps(result) + "\n")
        print(label, result["at_0"], result["at_bar"], f"{result['seconds']:.0f}s", flush=True)
    write_report(results, stamp, args.split)


def write_report(results: list[dict[str, Any]], stamp: str, split: str) -> Path:
    base = results[0]
    lines = [
        f"# Rule-family ablation ({split} splits of the blind sets)",
        "",
        f"Questions: {base['abstracts']['n_questions']} on the abstracts (user_questions2 {split}), "
        f"{base['papers']['questions']} on whole papers (blind-ft {split}); written blind, after every "
        "rule below. net = right - wrong over both sets. 'at bar' applies the default verifier bar "
        f"({base['bar']}). A family pays when switching it off lowers net.",
        "",
        "| variant | abstracts right/wrong | papers right/wrong | net | net at bar | Δ vs all on | pays? |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a, b = r["at_0"], r["at_bar"]
        delta = b["net"] - base["at_bar"]["net"]
        pays = "" if r is base else ("yes" if delta < 0 else "no")
        lines.append(
            f"| {r['label']} | {a['abstracts_right']}/{a['abstracts_wrong']} | "
            f"{a['papers_right']}/{a['papers_wrong']} | {a['net']} | {b['net']} | {delta:+d} | {pays} |"
        )
    lines += ["", "Families:", ""]
    lines += [f"- **{name}**: {what}" for name, (what, _, _) in FAMILIES.items()]
    path = REPORTS / f"{stamp}-rule-ablation.md"
    path.write_text("\n".join(lines) + "\n")
    print(path)
    return path


if __name__ == "__main__":
    main()
