"""The known-answer probe on clean text, with the real model: how often it fails (a false
alarm declines a right answer) and what it adds to a call's time.

For PubMedQA dev abstracts (clean, never used to write the probe), the `/ask` prompt is
built as the service builds it (numbered sentences of the paper, the question). Items
alternate: odd ones are asked plainly (the call alone, a cold prompt cache), even ones
probed first and then asked (the call reads the probe's cached prefix). Reported: probes
that did not get their code back (false alarms), and the median seconds of a plain call
against probe + call.

    python -m evals.probe_clean [--items 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from evals.client import ROOT
from evals.results_io import REPORTS, stamp
from service.components.llm.llm_handle import open_llm
from service.components.sentences import split_sentences
from service.core.config import Settings
from service.generation.probe import answered, new_code, probe_messages
from service.generation.prompts import load_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--items", type=int, default=40)
    args = parser.parse_args()
    settings = Settings()
    llm = open_llm(settings)
    assert llm.client is not None, llm.status
    prompt = load_prompt(settings.prompts_dir, "ask")
    data = json.loads((ROOT / "evals" / "data" / "pubmedqa-dev.json").read_text())
    items = list(data.values())[-args.items :]  # the last ones: the first 12 were looked at while writing it
    plain: list[float] = []
    probed: list[float] = []
    alarms: list[str] = []
    for n, item in enumerate(items):
        sentences = [s for c in item["CONTEXTS"] for s in split_sentences(c)]
        lines = [f"[{i}] {s}" for i, s in enumerate(sentences, 1)]
        evidence = f"Paper: {item['QUESTION']}\n" + "\n".join(lines)
        messages = prompt.render(evidence=evidence, question=item["QUESTION"])
        start = time.perf_counter()
        if n % 2:
            code = new_code()
            reply = llm.client.complete(probe_messages(messages, code), 16, 60.0).text
            if not answered(reply, code):
                alarms.append(f"{item['QUESTION'][:60]} -> {reply[:60]!r}")
            llm.client.complete(messages, 120, 60.0)
            probed.append(time.perf_counter() - start)
        else:
            llm.client.complete(messages, 120, 60.0)
            plain.append(time.perf_counter() - start)
    summary = {
        "items": len(items),
        "probes": len(probed),
        "false_alarms": len(alarms),
        "plain_call_p50_s": round(statistics.median(plain), 2),
        "probe_and_call_p50_s": round(statistics.median(probed), 2),
        "alarms": alarms,
    }
    path = REPORTS / f"{stamp()}-probe-clean.json"
    path.write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    print(f"report: {path}")


if __name__ == "__main__":
    main()
