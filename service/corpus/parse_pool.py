"""Parsing uploads in child processes, each file on a time, memory and size budget.

A parser is a library working on untrusted bytes: a 170 KB PDF of compressed text
operators inflates to gigabytes of PDFium objects, and a pathological file can run for
minutes. In the server such work must neither hold the event loop or the GIL nor run
without bound. Each file is parsed in a child process of its own (at most `workers` at
once) that reads the file from disk and runs under hard limits:

- memory: RLIMIT_AS of `memory_mb` (PDFium aborts, Python raises MemoryError: a 413);
- time: killed after `timeout_s` of wall clock, and RLIMIT_CPU stops it after as much CPU;
- output: the PDF reader stops at the page that takes the text past `max_text_chars`,
  and the result sent back is at most `result_limit(max_text_chars)` bytes, which the
  parent enforces when it receives it (a larger message is refused unread).

Each refusal is a 413 that names the file. The children come from a forkserver started
with the parser modules preloaded and none of the server's file descriptors (a fork of
the server would hold its listening socket and pipes: after a kill -9 of the server such
a child kept the port, and blocked forever writing into a pipe it also held). A child dies
with its parent (PR_SET_PDEATHSIG), and the forkserver exits when the server does.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import math
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import threading
from dataclasses import dataclass
from multiprocessing import forkserver, popen_forkserver, process, reduction, spawn, util
from multiprocessing.connection import Connection
from multiprocessing.context import set_spawning_popen
from pathlib import Path
from typing import Any

from service.core.errors import PaperlensError, TooLarge
from service.corpus.loader import parse_bytes
from service.corpus.paper import Paper

log = logging.getLogger(__name__)

# forkserver: a child starts as a fork of a small server process (about 60 MB, the parser
# already imported: ~10 ms per file) that holds none of the API server's sockets or files.
# Its own start (~0.3 s) is done once, at start-up (`ParsePool.warm`).
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])
_PR_SET_PDEATHSIG = 1


class _Popen(popen_forkserver.Popen):
    """The forkserver's launch, less its preparation of `__main__`: multiprocessing has each
    child import the parent's main module again (`paperlens`, pytest, an eval run with
    `python -m`), which costs seconds and, for a main that imports the whole service,
    more memory than the parse limit. The child runs `_work`, found by its module's name,
    and needs no `__main__`. (The body is CPython's `popen_forkserver.Popen._launch`.)"""

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_name", None)
        prep_data.pop("init_main_from_path", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        _parent_w = os.dup(w)  # a sentinel of the parent for the child, as CPython keeps it
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))  # type: ignore[attr-defined]
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(process.BaseProcess):
    _start_method = "forkserver"

    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


def result_limit(max_text_chars: int) -> int:
    """Most bytes a child may send back: the papers of at most `max_text_chars` characters,
    each stored twice (the text and its paragraphs), at up to 4 bytes a character in UTF-8,
    plus room for the records' fields."""
    return 8 * max_text_chars + (1 << 20)


@dataclass(frozen=True)
class Budget:
    timeout_s: float
    memory_mb: int
    max_text_chars: int

    @property
    def result_bytes(self) -> int:
        return result_limit(self.max_text_chars)


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent (the forkserver) exits."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent == 1 or os.getppid() != parent:  # the parent was gone before the signal was set
        os._exit(1)


def _limit(budget: Budget) -> None:
    memory = budget.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = math.ceil(budget.timeout_s) + 1  # SIGXCPU at the soft limit, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort on the memory limit leaves no core file


def _memory_message(name: str, budget: Budget) -> str:
    return (
        f"{name}: parsing needs more than the {budget.memory_mb:,} MiB memory limit "
        "(PAPERLENS_PARSE_MEMORY_MB); the file is too large or malformed: split it"
    )


def _time_message(name: str, budget: Budget) -> str:
    return (
        f"{name}: parsing took longer than {budget.timeout_s:g} s "
        "(PAPERLENS_PARSE_TIMEOUT_S); the file is too large or malformed"
    )


def _work(name: str, path: str, budget: Budget, out: Connection) -> None:
    """The child: parse one file within `budget`, send back one bounded message, exit."""
    _die_with_parent()
    _limit(budget)
    message: tuple[str, object]
    try:
        papers = parse_bytes(name, Path(path).read_bytes(), max_text_chars=budget.max_text_chars)
        message = ("ok", papers)
    except PaperlensError as err:
        message = ("error", (err.status, err.code, err.message))
    except MemoryError:
        message = ("error", (413, TooLarge.code, _memory_message(name, budget)))
    except Exception as err:  # a real file a library chokes on: the caller reports it
        message = ("crash", f"{err.__class__.__name__}: {err}")
    try:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        if len(payload) > budget.result_bytes:
            payload = pickle.dumps(("error", (413, TooLarge.code, _result_message(name, budget))))
        out.send_bytes(payload)
    except MemoryError:
        out.send_bytes(pickle.dumps(("error", (413, TooLarge.code, _memory_message(name, budget)))))
    finally:
        out.close()


def _result_message(name: str, budget: Budget) -> str:
    return (
        f"{name}: the parsed text is over the {budget.max_text_chars:,}-character limit "
        "(PAPERLENS_MAX_TEXT_CHARS); split the file"
    )


class ParseFailed(PaperlensError):
    """A parser library failed on the file (reported per file, like any other failure)."""

    code = "unreadable_file"
    status = 422


class ParsePool:
    def __init__(self, workers: int, timeout_s: float, max_text_chars: int, memory_mb: int = 1024) -> None:
        self.budget = Budget(timeout_s, memory_mb, max_text_chars)
        self._slots = threading.BoundedSemaphore(workers)

    @property
    def timeout_s(self) -> float:
        return self.budget.timeout_s

    @property
    def max_text_chars(self) -> int:
        return self.budget.max_text_chars

    @staticmethod
    def warm() -> None:
        """Start the forkserver now (about 0.3 s), not on the first upload."""
        forkserver.ensure_running()

    def parse(self, name: str, path: Path) -> list[Paper]:
        """The papers in the file at `path` (reported as `name`), parsed in a child process
        within the budget."""
        budget = self.budget
        with self._slots:
            receive, send = _CONTEXT.Pipe(duplex=False)
            child = _Process(
                target=_work, args=(name, str(path), budget, send), name="paperlens-parse", daemon=True
            )
            try:
                child.start()
            finally:
                send.close()
            payload: bytes | None = None
            try:
                if not receive.poll(budget.timeout_s):
                    raise TooLarge(_time_message(name, budget))
                with contextlib.suppress(EOFError):  # EOF: the child died (a signal), see below
                    payload = receive.recv_bytes(budget.result_bytes)
            except OSError as err:  # "bad message length": more than the child may send
                raise TooLarge(_result_message(name, budget)) from err
            finally:
                if child.is_alive():
                    child.kill()
                child.join()
                receive.close()
        if payload is None:
            raise self._died(name, child.exitcode)
        kind, body = pickle.loads(payload)
        if kind == "error":
            status, code, message = body
            refused = PaperlensError(message, code=code)
            refused.status = status
            raise refused
        if kind == "crash":
            raise ParseFailed(f"{name}: could not read the file ({body})")
        papers: list[Paper] = body
        return papers

    def _died(self, name: str, exitcode: int | None) -> PaperlensError:
        """Why a child ended without an answer: its CPU limit (SIGXCPU), its memory limit (PDFium
        aborts when an allocation fails; the kernel's OOM killer sends SIGKILL), or a crash."""
        if exitcode == -signal.SIGXCPU:
            return TooLarge(_time_message(name, self.budget))
        if exitcode in (-signal.SIGABRT, -signal.SIGKILL):
            return TooLarge(_memory_message(name, self.budget))
        log.warning("%s: the parse process ended with exit code %s", name, exitcode)
        return ParseFailed(f"{name}: the parser crashed on this file")
