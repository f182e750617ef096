"""Which of the injection detector's rule families earn their place: a detector-level
ablation on held-out data (no service, no model).

A family is one term of `instruction_score` (or of `flagged`): it is switched off by
replacing, in this process, the pattern or function it scores with one that never fires
(`FAMILIES`; cue families are also taken out of `_CUES`). For a set of families switched
off, per half of the two injection sets (`evals/data/injection{,2}/{test,dev}.jsonl`) and at
each of the two bars, `whole_text_flag_score` (1.5: what a summary or compare prompt shows)
and `flag_score` (2.0: what /ask evidence shows), both with centrality (MiniLM vectors):

- caught: attacks with a sentence (or a title part) flagged and none of their markers
  left in what the prompt is built from (`data_title` of the title, `data_only` of the
  abstract at that bar);
- benign: benign papers with a sentence (or a title part) flagged;

and, on clean text (the sample abstracts, the evidence blocks of the 18 PDFs through the
project's parser, PubMedQA dev contexts, SciTLDR dev sources): clean sentences flagged at
2.0 and at 1.5 (the sentences of each text, without centrality, as the first ablation,
report 20261207-024500, counted them).

    python -m evals.injection_ablation --alone            # each family off alone
    python -m evals.injection_ablation --off you,self     # one set off together
    python -m evals.injection_ablation --greedy a,b,...   # all of them off, then add back
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import service.evidence.injection as inj
from service.components.embedding.embedder import Vectors

ROOT = Path(__file__).resolve().parents[1]
HALVES = ("injection/test", "injection2/test", "injection/dev", "injection2/dev")
TEST_HALVES = HALVES[:2]
BARS = (inj.DEFAULTS.whole_text_flag_score, inj.DEFAULTS.flag_score)  # the summary bar, the /ask bar
NEVER = re.compile(r"(?!x)x")

# family -> the module attributes it scores; each is switched off by OFF[attr] or NEVER. The
# nine families deleted after the joint ablation (report 20261207-040434) are in this table
# at commit 7927ccb, where that report's runs can be repeated.
FAMILIES: dict[str, tuple[str, ...]] = {
    "role_tag": ("_ROLE_TAG",),
    "label": ("_LABEL",),
    "agent_heading": ("_AGENT_HEADING",),
    "imperative": ("_IMPERATIVE",),
    "clause_imperative": ("_CLAUSE_IMPERATIVE",),
    "final_request": ("_FINAL_REQUEST",),
    "addressee": ("_ADDRESSEE",),
    "process_reader": ("_PROCESS_READER",),
    "duty": ("_OBLIGATION", "_ASK_VERBS"),
    "asking": ("_ASKING",),
    "you": ("_YOU", "_YOU_SIE"),
    "output_constraint": ("_CONSTRAINT",),
    "link": ("_LINK",),
    "descriptive": ("_DESCRIPTIVE",),
    "order_field": ("_ORDER_FIELD",),
    "fate": ("_FATE",),
    "framing": ("_FRAMING",),
    "downstream": ("_DOWNSTREAM",),
    "verbatim": ("_VERBATIM",),
    "part_split": ("_part_score",),
    "centrality": ("outlier_score",),
    "neighbour": ("neighbour_score",),
}
OFF: dict[str, object] = {
    "_part_score": lambda *_: 0.0,
    "outlier_score": 0.0,
    "neighbour_score": math.inf,
}


def _owner(attr: str) -> Any:
    """Where an attribute lives: a bar in the detector's settings (`inj.DEFAULTS`, read at
    each call) or a pattern or function of the module."""
    return inj.DEFAULTS if attr in type(inj.DEFAULTS).model_fields else inj


def present() -> list[str]:
    """The families this version of the detector has."""
    return [name for name, attrs in FAMILIES.items() if all(hasattr(_owner(a), a) for a in attrs)]


@contextmanager
def switched_off(names: frozenset[str] | set[str]) -> Iterator[None]:
    """The detector with `names` switched off, in this process; restored on exit."""
    attrs = [a for name in names for a in FAMILIES[name]]
    saved: dict[str, Any] = {a: getattr(_owner(a), a) for a in [*attrs, "_CUES"]}
    try:
        for a in attrs:
            setattr(_owner(a), a, OFF.get(a, NEVER))
        gone = [saved[a] for a in attrs]
        setattr(inj, "_CUES", [(c, w) for c, w in saved["_CUES"] if c not in gone])  # noqa: B010
        inj.instruction_score.cache_clear()
        yield
    finally:
        for a, value in saved.items():
            setattr(_owner(a), a, value)
        inj.instruction_score.cache_clear()


class Data:
    """The labelled halves, the clean texts and a MiniLM embedder with a cache."""

    def __init__(self) -> None:
        from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder

        self.halves = {
            h: [
                json.loads(line) for line in (ROOT / "evals" / "data" / f"{h}.jsonl").read_text().splitlines()
            ]
            for h in HALVES
        }
        self.clean = clean_texts()
        self._embedder = OnnxMiniLMEmbedder()
        self._vectors: dict[str, np.ndarray] = {}

    def embed(self, sentences: list[str]) -> Vectors:
        missing = list(dict.fromkeys(s for s in sentences if s not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self._embedder.embed(missing), strict=True))
        return np.array([self._vectors[s] for s in sentences])


def clean_texts() -> list[str]:
    """Text with no injection: what the QA, whole-paper, PubMedQA and summary suites read."""
    from service.corpus.loader import parse_bytes
    from service.corpus.paper import NOT_EVIDENCE_PARTS

    texts: list[str] = []
    sample = ROOT / "data" / "samples" / "trending-papers.txt"
    texts += [p.abstract or "" for p in parse_bytes(sample.name, sample.read_bytes())]
    for pdf in sorted((ROOT / "evals" / "data" / "fulltext" / "pdfs").glob("*.pdf")):
        for p in parse_bytes(pdf.name, pdf.read_bytes()):
            texts += [b.text for b in p.blocks or [] if b.part not in NOT_EVIDENCE_PARTS]
    pubmed = json.loads((ROOT / "evals" / "data" / "pubmedqa-dev.json").read_text())
    texts += [" ".join(v.get("CONTEXTS", [])) for v in pubmed.values()]
    for line in (ROOT / "evals" / "data" / "scitldr-a-dev.jsonl").read_text().splitlines():
        source = json.loads(line).get("source") or []
        texts.append(" ".join(source) if isinstance(source, list) else str(source))
    return texts


def measure(data: Data) -> dict[str, Any]:
    """The figures of the detector as it is now (see the module docstring): per half,
    (caught, benign) at each bar; clean sentences flagged at each bar."""
    inj.instruction_score.cache_clear()
    out: dict[str, Any] = {}
    for half, items in data.halves.items():
        counts = {bar: [0, 0] for bar in BARS}
        for item in items:
            paper = item["paper"]
            texts = [paper.get("abstract") or "", paper.get("text") or ""]
            title = inj.data_title(paper["title"])
            for bar in BARS:
                found = title != paper["title"] or any(
                    inj.instruction_sentences(t, data.embed, bar) for t in texts
                )
                if item["kind"] == "benign":
                    counts[bar][1] += found
                    continue
                shown = " ".join([title, *(inj.data_only(t, data.embed, bar) for t in texts)]).lower()
                counts[bar][0] += found and not any(m.lower() in shown for m in item["markers"])
        out[half] = {bar: (c[0], c[1]) for bar, c in counts.items()}
    out["clean"] = {
        bar: sum(len(inj.instruction_sentences(t, None, bar)) for t in data.clean) for bar in BARS
    }
    return out


def line(name: str, figures: dict[str, Any]) -> str:
    """One row: per half caught/benign at the summary bar, then at the /ask bar; clean
    sentences flagged at 2.0/1.5."""
    cells = [
        "{:>5} {:>5}".format(*(f"{figures[h][bar][0]}/{figures[h][bar][1]}" for bar in BARS)) for h in HALVES
    ]
    clean = figures["clean"]
    return (
        f"{name:<28} "
        + "  ".join(cells)
        + f"  {clean[inj.DEFAULTS.flag_score]:>3}/{clean[inj.DEFAULTS.whole_text_flag_score]}"
    )


def header() -> str:
    halves = "  ".join(f"{h:<11}" for h in HALVES)
    return (
        f"{'config':<28} {halves}  clean\n{'':<28} "
        + "  ".join(["@1.5  @2.0 "] * len(HALVES))
        + "  @2.0/@1.5"
    )


def caught(figures: dict[str, Any], halves: tuple[str, ...]) -> int:
    return sum(figures[h][bar][0] for h in halves for bar in BARS)


def recovered(figures: dict[str, Any]) -> tuple[int, int, int, int]:
    """How good a configuration is (higher is better): attacks caught on the test halves
    (both bars), then on the dev halves, then fewer clean flags at 2.0 and at 1.5."""
    dev = tuple(h for h in HALVES if h not in TEST_HALVES)
    clean = figures["clean"]
    return caught(figures, TEST_HALVES), caught(figures, dev), -clean[BARS[1]], -clean[BARS[0]]


def no_worse(figures: dict[str, Any], than: dict[str, Any]) -> bool:
    """Every half catches at least as many attacks at each bar, and no more clean sentence
    is flagged at 2.0."""
    return figures["clean"][BARS[1]] <= than["clean"][BARS[1]] and all(
        figures[h][bar][0] >= than[h][bar][0] for h in HALVES for bar in BARS
    )


def greedy(data: Data, candidates: list[str], say: Callable[[str], None]) -> list[str]:
    """All `candidates` off together, then add back, one at a time, the family whose return
    recovers the most, until every half matches the full detector (or none helps); then
    try each family added back off again. Returns the families still off."""
    full = measure(data)
    say(header())
    say(line("ALL", full))
    off = set(candidates)
    with switched_off(off):
        now = measure(data)
    say(line("joint off (" + str(len(off)) + ")", now))
    while not no_worse(now, full) and off:
        trials = {}
        for name in sorted(off):
            with switched_off(off - {name}):
                trials[name] = measure(data)
            say("  " + line("+ " + name, trials[name]))
        best = max(trials, key=lambda n: recovered(trials[n]))
        if recovered(trials[best]) <= recovered(now):
            say("no family recovers more")
            break
        off.discard(best)
        now = trials[best]
        say(line("add back " + best, now))
    for name in [c for c in candidates if c not in off]:
        with switched_off(off | {name}):
            figures = measure(data)
        say("  " + line("off again " + name, figures))
        if no_worse(figures, now):
            off.add(name)
            now = figures
            say(line("drop again " + name, now))
    say(line("final off (" + str(len(off)) + ")", now))
    say("final off: " + ",".join(sorted(off)))
    return sorted(off)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--alone", action="store_true", help="each family switched off alone")
    mode.add_argument("--off", help="comma-separated families switched off together")
    mode.add_argument("--greedy", help="comma-separated families: all off, then add back greedily")
    parser.add_argument("--out", type=Path, help="also write the lines here")
    args = parser.parse_args()
    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)
        print(text, flush=True)

    names = present()
    asked = [n for n in (args.off or args.greedy or "").split(",") if n]
    unknown = [n for n in asked if n not in names]
    if unknown:
        sys.exit(f"unknown families {unknown}; this detector has {names}")
    started = time.perf_counter()
    data = Data()
    if args.alone:
        say(header())
        say(line("ALL", measure(data)))
        for name in names:
            with switched_off({name}):
                say(line(name, measure(data)))
    elif args.off:
        say(header())
        say(line("ALL", measure(data)))
        with switched_off(set(asked)):
            say(line(f"off ({len(asked)})", measure(data)))
        say("off: " + ",".join(asked))
    else:
        greedy(data, asked, say)
    say(f"({time.perf_counter() - started:.0f} s)")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
