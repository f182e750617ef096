"""Load test (loopback only, bounded): does a busy model give fast, honest statuses while
the health probes stay fast?

Runs a real `paperlens serve` on the sample corpus and measures, in one run:
- 20 concurrent /ask against a fake OpenAI-compatible LLM that takes 2 s a call, and
  against the embedded model (default Qwen2.5-Coder-1.5B): statuses (no 5xx but 503),
  how fast a 503 comes back, p50/p99 of the answered ones and the longest queue wait;
- 50 concurrent /search: p50/p99;
- /healthz polled every 25 ms throughout: p50/p99/max;
- sentence splitting of 1, 5 and 20 MB of text (seconds per MB should stay flat: linear).

    python -m evals.load_eval [--no-embedded]

Writes evals/reports/<timestamp>-load.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from evals.metrics import median, percentile
from evals.results_io import stamp
from service.components.sentences import split_sentences
from tests.conftest import free_port
from tests.fake_llm import FakeLLM

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "trending-papers.txt"
BIN = Path(sys.executable).parent
QUESTIONS = [
    "How much faster is CARP's inference?",
    "What does CARP decouple?",
    "Which paper is about video generation?",
    "What benchmark does the retrieval paper use?",
    "How is the policy trained?",
    "What problem does the paper on agents tackle?",
    "Which model is the fastest?",
    "What dataset is used for evaluation?",
    "How many parameters does the model have?",
    "What does the diffusion policy predict?",
]


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {
        "n": len(values),
        "p50": round(median(values), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


class Server:
    def __init__(self, data: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLENS_")}
        full.update({"PAPERLENS_DATA_DIR": str(data), **env})
        subprocess.run([str(BIN / "paperlens"), "ingest", "--if-empty", str(SAMPLE)], env=full, check=True)
        self.proc = subprocess.Popen(
            [str(BIN / "paperlens"), "serve", "--port", str(self.port)],
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError("the server did not become ready")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)


async def _poll_health(base: str, stop: asyncio.Event, out: list[float]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            r = await client.get(f"{base}/healthz")
            out.append(time.perf_counter() - t0)
            assert r.status_code == 200
            await asyncio.sleep(0.025)


async def _burst(base: str, n: int, make: Any) -> list[tuple[int, float, dict[str, Any]]]:
    limits = httpx.Limits(max_connections=n + 5)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def one(i: int) -> tuple[int, float, dict[str, Any]]:
            t0 = time.perf_counter()
            r = await make(client, i)
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            return r.status_code, time.perf_counter() - t0, body

        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _measure(base: str, n: int, make: Any) -> dict[str, Any]:
    health: list[float] = []
    stop = asyncio.Event()
    poller = asyncio.create_task(_poll_health(base, stop, health))
    t0 = time.perf_counter()
    results = await _burst(base, n, make)
    wall = time.perf_counter() - t0
    stop.set()
    await poller
    statuses: dict[str, int] = {}
    for status, _, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    ok = [s for status, s, _ in results if status == 200]
    busy = [s for status, s, _ in results if status == 503]
    waits = [b.get("timings_ms", {}).get("llm_wait", 0.0) / 1000 for status, _, b in results if status == 200]
    return {
        "requests": n,
        "statuses": statuses,
        "server_errors": sum(1 for status, _, _ in results if status >= 500 and status != 503),
        "answered_s": _stats(ok),
        "busy_503_s": _stats(busy),
        "max_queue_wait_s": round(max(waits), 3) if waits else None,
        "degraded": sum(1 for status, _, b in results if status == 200 and b.get("degraded")),
        "wall_s": round(wall, 2),
        "healthz_s": _stats(health),
    }


def ask_burst(base: str) -> dict[str, Any]:
    async def make(client: httpx.AsyncClient, i: int) -> httpx.Response:
        question = f"{QUESTIONS[i % len(QUESTIONS)]} (load {i})"  # distinct: no answer cache
        return await client.post(f"{base}/ask", json={"question": question})

    return asyncio.run(_measure(base, 20, make))


def search_burst(base: str) -> dict[str, Any]:
    async def make(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.get(f"{base}/search", params={"q": f"{QUESTIONS[i % len(QUESTIONS)]} {i}"})

    return asyncio.run(_measure(base, 50, make))


def sentence_split_bench() -> list[dict[str, float]]:
    unit = "The model improves accuracy by 3.5 points (e.g. on GSM8K) over the baseline. "
    rows = []
    for mb in (1, 5, 20):
        text = unit * (mb * 1_000_000 // len(unit))
        t0 = time.perf_counter()
        n = len(split_sentences(text))
        seconds = time.perf_counter() - t0
        rows.append(
            {"mb": mb, "sentences": n, "seconds": round(seconds, 2), "s_per_mb": round(seconds / mb, 3)}
        )
    return rows


def report(results: dict[str, Any], out: Path) -> str:
    lines = [
        "# paperlens load test",
        "",
        f"Run {results['when']} on {results['cpus']} CPUs; loopback only. Settings: the defaults "
        "(one LLM slot, a queue of 8, 30 s longest wait).",
        "",
        "| run | requests | statuses | 5xx other than 503 | answered p50 / p99 (s) | 503 p50 / max (s) "
        "| longest queue wait (s) | degraded | /healthz p50 / p99 / max (ms) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f}"

    for name, r in results["runs"].items():
        a, b, h = r["answered_s"], r["busy_503_s"], r["healthz_s"]
        lines.append(
            f"| {name} | {r['requests']} | {r['statuses']} | {r['server_errors']} | {a['p50']} / {a['p99']} "
            f"| {b['p50']} / {b['max']} | {r['max_queue_wait_s']} | {r['degraded']} "
            f"| {ms(h['p50'])} / {ms(h['p99'])} / {ms(h['max'])} |"
        )
    lines += [
        "",
        "Sentence splitting (linear time: seconds per MB stays flat):",
        "",
        "| MB | sentences | s | s/MB |",
    ]
    lines.append("|---|---|---|---|")
    lines += [
        f"| {r['mb']} | {r['sentences']} | {r['seconds']} | {r['s_per_mb']} |" for r in results["sentences"]
    ]
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-embedded", action="store_true", help="skip the run against the embedded model")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "load-eval")
    args = parser.parse_args()
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "runs": {}}
    fake = FakeLLM()
    fake.start(free_port())
    fake.delay_s = 2.0
    env = {"PAPERLENS_LLM_BASE_URL": fake.base_url, "PAPERLENS_LLM_MODEL": "fake"}
    server = Server(args.data / "fake", env)
    try:
        results["runs"]["20 x /ask, fake LLM at 2 s a call"] = ask_burst(server.base)
        results["runs"]["50 x /search"] = search_burst(server.base)
    finally:
        server.stop()
        fake.stop()
    if not args.no_embedded:
        models = os.environ.get("PAPERLENS_MODELS_DIR", str(ROOT / "data" / "models"))
        server = Server(args.data / "embedded", {"PAPERLENS_MODELS_DIR": models})
        try:
            results["runs"]["20 x /ask, embedded model"] = ask_burst(server.base)
        finally:
            server.stop()
    results["sentences"] = sentence_split_bench()
    stem = stamp() + "-load"
    out_dir = ROOT / "evals" / "reports"
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2))
    print(report(results, out_dir / f"{stem}.md"))


if __name__ == "__main__":
    main()
