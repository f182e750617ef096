"""The `paperlens` command and a real `paperlens serve` process on loopback.

Also checks, with strace, that ingesting, searching and serving make no outbound
connection attempt (telemetry off, tiktoken and models served from local files).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import SAMPLE, free_port, wait_for_http

BIN = Path(sys.executable).parent


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLENS_")}
    env["PAPERLENS_DATA_DIR"] = str(data_dir)
    return env


def paperlens(
    *args: str, data_dir: Path, strace_log: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "paperlens"), *args]
    if strace_log is not None:
        cmd = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(strace_log), *cmd]
    full_env = {**cli_env(data_dir), **{f"PAPERLENS_{k.upper()}": v for k, v in env.items()}}
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=300)


_INET = re.compile(
    r"connect\(\d+, \{sa_family=AF_INET6?, (?:sin6?_port=htons\(\d+\), )?[^}]*?"
    r"(?:sin_addr=inet_addr\(\"([^\"]+)\"\)|inet_pton\(AF_INET6, \"([^\"]+)\")"
)


def outbound(strace_log: Path) -> list[str]:
    """Connect attempts to anything but loopback, from an strace log."""
    bad = []
    for line in strace_log.read_text().splitlines():
        m = _INET.search(line)
        if m:
            addr = m.group(1) or m.group(2)
            if not (addr.startswith("127.") or addr in ("::1", "::ffff:127.0.0.1")):
                bad.append(line)
    return bad


def test_outbound_parser_flags_only_non_loopback(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text(
        '12 connect(3, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("20.60.1.2")}, 16)'
        " = -1 ENETUNREACH\n"
        '12 connect(4, {sa_family=AF_INET, sin_port=htons(8000), sin_addr=inet_addr("127.0.0.1")}, 16) = 0\n'
        '12 connect(5, {sa_family=AF_UNIX, sun_path="/run/x"}, 110) = 0\n'
        "12 connect(6, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), "
        'inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = -1\n'
    )
    assert len(outbound(log)) == 2


@pytest.mark.slow
def test_ingest_search_papers_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "trending.txt")
    (folder / "extra.md").write_text("# Tiny Extra Paper\n\nIt is about sparse retrieval. Yes.")
    r = paperlens("ingest", str(folder), data_dir=data)
    assert r.returncode == 0, r.stderr
    assert "added 61, replaced 0, unchanged 0" in r.stdout
    again = paperlens("ingest", str(folder), data_dir=data)
    assert "added 0, replaced 0, unchanged 61" in again.stdout
    skipped = paperlens("ingest", "--if-empty", str(SAMPLE), data_dir=data)
    assert "skipping" in skipped.stdout

    listing = json.loads(paperlens("papers", "--json", data_dir=data).stdout)
    assert len(listing) == 61 and "Tiny Extra Paper" in {p["title"] for p in listing}
    hits = json.loads(paperlens("search", "sparse retrieval tiny", "-k", "2", "--json", data_dir=data).stdout)
    assert len(hits) == 2 and hits[0]["title"] == "Tiny Extra Paper"

    answer = paperlens("ask", "How much faster is CARP's inference?", "--json", data_dir=data, llm="none")
    body = json.loads(answer.stdout)
    assert body["engine"] == "extractive" and "10x" in body["answer"] and body["citations"]
    pid = body["citations"][0]["paper_id"]
    summary = paperlens("summary", pid, data_dir=data, llm="none")
    assert summary.returncode == 0 and len(summary.stdout.strip()) > 50


@pytest.mark.slow
def test_cli_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "bad.json").write_text('[{"abstract": "no title"}]')
    (folder / "good.md").write_text("# A Good Paper\n\nIt is fine. Really.")
    r = paperlens("ingest", str(folder), data_dir=tmp_path / "d")
    assert r.returncode == 1  # one file failed alone, the other went in, and a table says why
    assert "added 1, replaced 0, unchanged 0" in r.stdout
    assert (
        "1 file(s) failed" in r.stderr and "bad.json" in r.stderr and "[0].title: Field required" in r.stderr
    )
    assert "Traceback" not in r.stderr
    missing = paperlens("ingest", str(tmp_path / "nope.txt"), data_dir=tmp_path / "d")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    k = paperlens("search", "x", "-k", "0", data_dir=tmp_path / "d")
    assert k.returncode == 2 and "out of range" in k.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, Path | None]]:
    """`paperlens ingest` then `paperlens serve` on the same data dir (under strace)."""
    data = tmp_path / "data"
    use_strace = shutil.which("strace") is not None
    ingest_log = tmp_path / "ingest.strace" if use_strace else None
    r = paperlens("ingest", str(SAMPLE), data_dir=data, strace_log=ingest_log)
    assert r.returncode == 0, r.stderr
    port = free_port()
    cmd = [str(BIN / "paperlens"), "serve", "--port", str(port)]
    serve_log = tmp_path / "serve.strace" if use_strace else None
    if serve_log is not None:
        cmd = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(serve_log), *cmd]
    env = {**cli_env(data), "PAPERLENS_LLM_EMBEDDED_MODEL": "smollm2-135m"}  # the LLM loads too
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", timeout=60)
        yield base, data, (ingest_log if use_strace else None)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # strace and the server it traces
        proc.wait(timeout=30)
    if serve_log is not None:
        assert outbound(serve_log) == []


@pytest.mark.real_model
@pytest.mark.slow
def test_serve_serves_what_ingest_added_without_outbound_connections(
    served: tuple[str, Path, Path | None],
) -> None:
    base, _, ingest_log = served
    import time

    deadline = time.monotonic() + 60
    while httpx.get(f"{base}/readyz").status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
    ready = httpx.get(f"{base}/readyz").json()
    assert ready["status"] == "ready" and ready["papers"] == 60
    hits = httpx.get(f"{base}/search", params={"q": "humanoid robot sim-to-real physics", "k": 3}).json()
    assert hits["results"][0]["title"].startswith("ASAP")
    assert ready["llm"] == "embedded"
    answer = httpx.post(f"{base}/ask", json={"question": "What does ASAP align?"}, timeout=120)
    assert answer.status_code == 200 and answer.json()["engine"] == "llm"
    bad = httpx.get(f"{base}/search", params={"q": "x", "k": 999})
    assert bad.status_code == 400 and "out of range" in bad.json()["error"]["message"]
    if ingest_log is not None:
        assert outbound(ingest_log) == []
