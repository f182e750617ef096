"""Whole papers: the LitQA2 questions over real full-text PDFs (`evals/data/fulltext/`).

The PDFs go in through `POST /papers/upload`, as a user's would. Each question is then
- searched (`/search?k=5`): paper recall@5 (the source paper among the results) and
  key-passage recall@5 (a result holds the key passage's sentence);
- asked open-ended through `/ask`, and once more with its options listed (LitQA2's
  multiple-choice form, with "insufficient information" as the way out);
- checked for the key passage among the evidence the answer was built from (in-process
  only: the evidence is internal).
Scored as LitQA2 scores it: an answer is right when it states the ideal answer and no
distractor, an abstention is "unsure" (not wrong); accuracy = right / all, precision =
right / answered. The naive RAG baseline answers the same questions on the same store.

Two question sets over the same 18 PDFs:
- `litqa2-dev.jsonl`, the 18 LitQA2 questions: the development split, the one the rules
  were tuned on (its figures are dev figures);
- `own-test.jsonl`, 34 questions in LitQA2's form written for paperlens: the test split,
  never tuned on. Its key passages were drawn at random (fixed seed) from the results and
  discussion sentences of each paper before any answer was looked at, two per paper
  where a sentence made a question, and the questions reword them;
- `own-dev.jsonl`, 30 more such questions (another random draw): a development set for
  tuning by hand (`load_items(split="own-dev")`), not scored by a run.
The held-out papers and questions are scored by the project's acceptance tests.

    python -m evals.fulltext_eval [--base-url URL] [--n 18] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evals.client import open_client
from evals.metrics import median
from evals.pubmedqa_eval import load_items as pubmedqa_items
from evals.results_io import save_and_print
from service.checks.acronyms import is_acronym, stands_for
from service.components.sentences import split_sentences
from service.core.sentinels import OPTIONS_MARK
from service.evidence.similarity import containment
from service.schemas import AskIn, AskOut, SearchOut

DATA = Path(__file__).parent / "data" / "fulltext"
KEY_MATCH = 0.7  # share of a key-passage sentence's content words a passage must hold


SPLITS = {
    "dev": "litqa2-dev.jsonl",
    "own-dev": "own-dev.jsonl",
    "own-dev2": "own-dev2.jsonl",
    "test": "own-test.jsonl",
}
SCORED = ("dev", "test")  # the splits a run scores; own-dev is for tuning by hand


def load_items(n: int | None = None, split: str = "dev") -> list[dict[str, Any]]:
    """The questions of one split (`SPLITS`), the first `n` when given."""
    items = [json.loads(line) for line in (DATA / SPLITS[split]).read_text().splitlines() if line.strip()]
    return items[:n] if n else items


def ingest(client: Any, pdfs: list[str]) -> tuple[dict[str, str], list[float]]:
    """Upload the PDFs one by one, each indexed before the answer (?wait=true); return
    (file name -> paper id, seconds per file: upload to searchable)."""
    ids: dict[str, str] = {}
    seconds = []
    for name in tqdm(pdfs, desc="fulltext ingest", unit="pdf"):
        t0 = time.perf_counter()
        r = client.post(
            "/papers/upload",
            params={"wait": "true"},
            files=[("files", (name, (DATA / "pdfs" / name).read_bytes(), "application/pdf"))],
        )
        r.raise_for_status()
        body = r.json()
        ids[name] = (body["added"] + body["replaced"] + body["unchanged"])[0]
        seconds.append(time.perf_counter() - t0)
    return ids, seconds


_TOKEN = re.compile(r"[a-z0-9]+(?:[.\-+%/][a-z0-9%+]+)*[%+]?")
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "and",
        "or",
        "there",
        "are",
        "is",
        "was",
        "were",
        "have",
        "has",
        "be",
    ]
)
MATCH_SHARE = 0.6  # share of an option's words the answer must state


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("\u2013", "-").replace("\u2212", "-"))


_UNITS = {
    "h": "hour",
    "hr": "hour",
    "hrs": "hour",
    "min": "minute",
    "mins": "minute",
    "d": "day",
    "wk": "week",
}


def _same_word(a: str, b: str) -> bool:
    """Equal, or one a plural of the other, or a unit and its abbreviation ("18 h" is
    "18 hours"), or a near spelling (the data set has typos: "ciproflaxin")."""
    if a == b or a.rstrip("s") == b.rstrip("s") or a.replace("-", "") == b.replace("-", ""):
        return True
    if _UNITS.get(a, a).rstrip("s") == _UNITS.get(b, b).rstrip("s"):
        return True
    # a motif written with its ends, "5-CCGCGG-3", states "CCGCGG"
    if min(len(a), len(b)) >= 4 and _unended(a) == _unended(b):
        return True
    # near spellings of words only: "35-fold" is no spelling of "453-fold"
    words = not any(c.isdigit() for c in a + b)
    return words and min(len(a), len(b)) >= 6 and SequenceMatcher(None, a, b).ratio() >= 0.8


def _unended(word: str) -> str:
    """A sequence without its 5'/3' ends: "5-ccgcgg-3" -> "ccgcgg"; other words as they are."""
    parts = word.split("-")
    ends = len(parts) >= 3 and parts[0] in ("5", "3") and parts[-1] in ("5", "3")
    return "-".join(parts[1:-1]) if ends else word


_ASIDE = re.compile(r"^(?P<main>.+?)\s*\((?P<aside>[^()]+)\)\s*$")


def option_score(answer: str, option: str, question: str = "") -> float:
    """Share of the option's words (fillers and the question's own words aside: they tell no
    option from another) that the answer states. "CXE (Cas9-XTEN-hExo1)" is stated by
    either spelling: its name or the part in brackets."""
    aside = _ASIDE.match(option)
    if aside:
        return max(
            option_score(answer, aside["main"], question), option_score(answer, aside["aside"], question)
        )
    answer = _MARKER.sub(" ", answer)  # "[1]" is a citation, not the option "1 mM"
    if _abbreviated(answer, option):
        return 1.0
    asked = set(_tokens(question))
    all_words = [t for t in _tokens(option) if t not in _FILLER] or _tokens(option)
    # the question's words as written (or plural): "stronger" tells an option from "weaker"
    # though the question asks "how strong"
    asked_stems = {a.rstrip("s") for a in asked}
    words = [w for w in all_words if w.rstrip("s") not in asked_stems] or all_words
    said = _tokens(answer)
    return sum(any(_same_word(w, t) for t in said) for w in words) / max(1, len(words))


_MARKER = re.compile(r"\[\d+(?:\s*[,;-]\s*\d+)*\]")


def _abbreviated(answer: str, option: str) -> bool:
    """The answer names the option by its acronym: "LBP" for "lipopolysaccharide-binding
    protein" (one letter per word of the option, the papers' own abbreviation)."""
    words = len(re.findall(r"[A-Za-z][a-z]*", option))
    return any(
        len(a.rstrip("s")) == words and stands_for(a, [option])
        for a in re.findall(r"\w+", answer)
        if words >= 3 and is_acronym(a)
    )


def grade(item: dict[str, Any], answer: AskOut) -> str:
    """ "right", "wrong" or "unsure" (abstained). An open answer is mapped to the option it
    states: right when it states the ideal answer (most of its words) and more of the words
    that set the ideal apart (the question's words aside) than any distractor's; a
    deterministic stand-in for LitQA2's multiple-choice grading."""
    if answer.abstained:
        return "unsure"
    # most of the ideal option stated, and more of what sets it apart than any distractor's
    q = item["question"]
    ideal = option_score(answer.answer, item["ideal"], q)
    distractor = max((option_score(answer.answer, d, q) for d in item["distractors"]), default=0.0)
    # "amino acids 344-360" states "residues 344-360": the question's own word "residues" is
    # no part of what makes the option right, so stating the rest of it is enough
    stated = max(option_score(answer.answer, item["ideal"]), ideal)
    return "right" if stated >= MATCH_SHARE and ideal > distractor else "wrong"


def key_sentences(item: dict[str, Any]) -> list[str]:
    return [s for s in split_sentences(item["key_passage"]) if len(s.split()) >= 6] or [item["key_passage"]]


def holds_key(item: dict[str, Any], texts: list[str]) -> bool:
    return any(containment(key, text) >= KEY_MATCH for key in key_sentences(item) for text in texts)


def with_options(item: dict[str, Any]) -> str:
    options = [item["ideal"], *item["distractors"]]
    random.Random(item["id"]).shuffle(options)
    listed = "; ".join([*options, "insufficient information to answer"])
    return f"{item['question']}{OPTIONS_MARK} {listed}."


def evidence_texts(client: Any, question: str) -> list[str] | None:
    """The evidence sentences /ask would build its answer from (in-process clients only)."""
    app = getattr(client, "app", None)
    if app is None:
        return None
    services = app.state.container.services
    prepared = services.ask.prepare(services.ask.check(AskIn(question=question)))
    return [e.text for e in prepared.evidence.items]


def score(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    grades = [r[key] for r in rows]
    answered = [g for g in grades if g != "unsure"]
    return {
        "accuracy": sum(g == "right" for g in grades) / max(1, len(grades)),
        "precision": sum(g == "right" for g in answered) / max(1, len(answered)),
        "answered": len(answered) / max(1, len(grades)),
    }


def _ask_rows(
    client: Any, items: list[dict[str, Any]], ids: dict[str, str], split: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for item in tqdm(items, desc=f"fulltext qa ({split})", unit="q"):
        gold = ids[item["pdf"]]
        hits = SearchOut.model_validate(client.get("/search", params={"q": item["question"], "k": 5}).json())
        t0 = time.perf_counter()
        open_answer = AskOut.model_validate(client.post("/ask", json={"question": item["question"]}).json())
        seconds = time.perf_counter() - t0
        choice = AskOut.model_validate(client.post("/ask", json={"question": with_options(item)}).json())
        evidence = evidence_texts(client, item["question"])
        rows.append(
            {
                "id": item["id"],
                "split": split,
                "question": item["question"],
                "ideal": item["ideal"],
                "paper_at_5": any(h.paper_id == gold for h in hits.results),
                "key_at_5": holds_key(item, [h.text for h in hits.results if h.paper_id == gold]),
                "key_in_evidence": None if evidence is None else holds_key(item, evidence),
                "open": grade(item, open_answer),
                "choice": grade(item, choice),
                "answer": open_answer.answer,
                "choice_answer": choice.answer,
                "citations": [c.model_dump() for c in open_answer.citations],
                "usage": open_answer.usage.model_dump(),
                "model": open_answer.model,
                "seconds": seconds,
            }
        )
    return rows


def split_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The question figures of one split's rows."""
    with_evidence = [r["key_in_evidence"] for r in rows if r["key_in_evidence"] is not None]
    return {
        "questions": len(rows),
        "paper_recall_at_5": sum(r["paper_at_5"] for r in rows) / max(1, len(rows)),
        "key_passage_recall_at_5": sum(r["key_at_5"] for r in rows) / max(1, len(rows)),
        "key_passage_in_evidence": (sum(with_evidence) / len(with_evidence)) if with_evidence else None,
        "open": score(rows, "open"),
        "choice": score(rows, "choice"),
        "ask_p50_s": median([r["seconds"] for r in rows]),
        "citations_with_page": sum(c["page"] is not None for r in rows for c in r["citations"])
        / max(1, sum(len(r["citations"]) for r in rows)),
    }


def run(base_url: str | None, n: int | None = None, baseline: bool = True) -> dict[str, Any]:
    """Both splits on one store: `summary` holds the ingest figures and the dev split's
    (LitQA2), `test` the test split's; the naive RAG baseline answers both."""
    client = open_client(base_url)
    items = {split: load_items(n, split) for split in SCORED}
    pdfs = sorted({i["pdf"] for split_items in items.values() for i in split_items})
    ids, per_file = ingest(client, pdfs)
    papers = [client.get(f"/papers/{pid}").json() for pid in ids.values()]
    rows = {split: _ask_rows(client, split_items, ids, split) for split, split_items in items.items()}
    summary: dict[str, Any] = {
        "papers": len(ids),
        "pages": sum(p["pages"] or 0 for p in papers),
        "chunks": sum(p["n_chunks"] for p in papers),
        "ingest_seconds": sum(per_file),
        "seconds_per_paper_p50": median(per_file),
        "pages_per_paper_p50": median([float(p["pages"] or 0) for p in papers]),
        **split_summary(rows["dev"]),
    }
    models = {r["model"] for split_rows in rows.values() for r in split_rows if r["model"] != "extractive"}
    result: dict[str, Any] = {
        "summary": summary,
        "test": split_summary(rows["test"]),
        "rows": rows["dev"] + rows["test"],
        "model": min(models) if models else "extractive",
    }
    if baseline and base_url is None:
        result["naive_rag"] = _naive(client, items["dev"])
        result["naive_rag_test"] = _naive(client, items["test"])
    if base_url is None:  # last: it adds papers to the suite's store
        result["distractors"] = with_distractors(client, items["test"], ids)
    return result


DISTRACTOR_PAPERS = 500  # every PubMedQA dev item


def with_distractors(client: Any, items: list[dict[str, Any]], ids: dict[str, str]) -> dict[str, Any]:
    """Retrieval at a larger scale: the test split's paper recall@5 and key passage in the
    evidence again after 500 PubMedQA abstracts (same field, other papers) join the store.
    No answers are generated: this measures what reaches the model, not the model."""
    papers = [
        {"id": i["id"], "title": i["question"], "abstract": " ".join(i["contexts"])}
        for i in pubmedqa_items(DISTRACTOR_PAPERS)
    ]
    client.post("/papers", json={"papers": papers}).raise_for_status()
    paper_hits, keys = 0, 0
    for item in tqdm(items, desc="fulltext with distractors", unit="q"):
        hits = SearchOut.model_validate(client.get("/search", params={"q": item["question"], "k": 5}).json())
        paper_hits += any(h.paper_id == ids[item["pdf"]] for h in hits.results)
        keys += holds_key(item, evidence_texts(client, item["question"]) or [])
    return {
        "distractor_papers": len(papers),
        "questions": len(items),
        "paper_recall_at_5": paper_hits / max(1, len(items)),
        "key_passage_in_evidence": keys / max(1, len(items)),
    }


def _naive(client: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    from langchain_openai import ChatOpenAI

    from evals.baselines import naive_rag

    services = client.app.state.container.services
    if services.llm.client is None:
        return {"skipped": "no LLM endpoint"}
    llm = ChatOpenAI(
        base_url=services.llm.client.base_url,
        api_key="none",
        model=services.llm.model,
        temperature=0,
        max_tokens=220,
    )
    rows = []
    for item in tqdm(items, desc="fulltext naive-rag", unit="q"):
        response = AskOut.model_validate(
            {
                **naive_rag.answer(services, llm, item["question"]),
                "model": services.llm.model,
                "prompt_version": "naive",
                "timings_ms": {},
                "dropped": [],
                "cached": False,
            }
        )
        rows.append({"id": item["id"], "open": grade(item, response), "answer": response.answer})
    return {"summary": {"open": score(rows, "open")}, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    save_and_print("fulltext", run(args.base_url, args.n, not args.no_baseline))


if __name__ == "__main__":
    main()
