"""A real `paperlens serve` for tests about processes, memory and latency: started as a
subprocess in its own session, with probes for its resident memory, its descendants and
`/healthz` latency measured open-loop (a request every few milliseconds whether or not the
last one came back, so a stalled event loop shows in every request it delays)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .test_cli_and_server import BIN, cli_env


def serve(data: Path, port: int, log: Path | None = None, **env: str) -> subprocess.Popen[bytes]:
    full = {
        **cli_env(data),
        "PAPERLENS_LLM": "none",
        "PAPERLENS_RATE_LIMIT_PER_S": "0",
        **{f"PAPERLENS_{k.upper()}": v for k, v in env.items()},
    }
    return subprocess.Popen(
        [str(BIN / "paperlens"), "serve", "--port", str(port)],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab") if log else subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.1)


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                if fields[0] != "Z":
                    children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the server's whole session (whatever is left of it)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


@dataclass
class Probe:
    """Healthz latencies (open loop, one request every `every_s`) and peak memory of a
    server process and of its descendants, sampled until stopped."""

    base: str
    pid: int
    every_s: float = 0.02
    latencies: list[float] = field(default_factory=list)
    sent_at: list[float] = field(
        default_factory=list
    )  # time.monotonic() of each request, in order of answers
    failures: int = 0
    server_peak_mb: float = 0.0
    children_peak_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    async def _poll(self) -> None:
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=30) as client:

            async def one() -> None:
                t0 = time.perf_counter()
                sent = time.monotonic()
                try:
                    ok = (await client.get("/healthz")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies.append(time.perf_counter() - t0)
                self.sent_at.append(sent)
                self.failures += not ok

            tasks = []
            next_at = time.perf_counter()
            while not self._stop.is_set():
                tasks.append(asyncio.create_task(one()))
                next_at += self.every_s
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            await asyncio.gather(*tasks)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.server_peak_mb = max(self.server_peak_mb, rss_mb(self.pid))
            kids = sum(rss_mb(k) for k in descendants(self.pid))
            self.children_peak_mb = max(self.children_peak_mb, kids)
            time.sleep(0.05)

    @contextlib.contextmanager
    def running(self) -> Iterator[Probe]:
        threads = [
            threading.Thread(target=lambda: asyncio.run(self._poll()), daemon=True),
            threading.Thread(target=self._sample, daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            yield self
        finally:
            self._stop.set()
            for t in threads:
                t.join(timeout=60)
