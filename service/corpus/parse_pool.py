"""Parsing uploads in a bounded pool of child processes, each file on a time and size budget.

A parser is a library working on untrusted bytes: a 31 KB PDF can inflate to 10 MB of
text, and a pathological file can run for minutes. In the server such work must neither
hold the event loop or the GIL nor run without bound. Each file is parsed in a fresh
forked child (quick to start, killable): at most `workers` at once,
killed after `timeout_s`, refused when its text is over `max_text_chars`. Both refusals
are 4xx errors that name the file.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection

from service.core.errors import PaperlensError, TooLarge
from service.corpus.loader import parse_bytes
from service.corpus.paper import Paper

# fork: the child starts at once with the parser already imported (forkserver and spawn
# re-import the main module per child, about 1.5 s). The child runs only the parser, which
# the parent process never runs itself, so no parser state is copied mid-use.
_CONTEXT = multiprocessing.get_context("fork")


def _work(name: str, data: bytes, max_text_chars: int, out: Connection) -> None:
    try:
        papers = parse_bytes(name, data)
        chars = sum(
            len(p.text or "") + len(p.abstract or "") + sum(len(b.text) for b in p.blocks or [])
            for p in papers
        )
        if chars > max_text_chars:
            raise TooLarge(
                f"{name}: {chars:,} characters of text, over the {max_text_chars:,} limit "
                "(PAPERLENS_MAX_TEXT_CHARS); split the file"
            )
        out.send(("ok", papers))
    except PaperlensError as err:
        out.send(("error", (err.status, err.code, err.message)))
    except Exception as err:  # a real file a library chokes on: the caller reports it
        out.send(("crash", f"{err.__class__.__name__}: {err}"))
    finally:
        out.close()


class ParseFailed(PaperlensError):
    """A parser library failed on the file (reported per file, like any other failure)."""

    code = "unreadable_file"
    status = 422


class ParsePool:
    def __init__(self, workers: int, timeout_s: float, max_text_chars: int) -> None:
        self.timeout_s = timeout_s
        self.max_text_chars = max_text_chars
        self._slots = threading.BoundedSemaphore(workers)

    def parse(self, name: str, data: bytes) -> list[Paper]:
        """The papers in one file, parsed in a child process within the budgets."""
        with self._slots:
            receive, send = _CONTEXT.Pipe(duplex=False)
            child = _CONTEXT.Process(
                target=_work,
                args=(name, data, self.max_text_chars, send),
                name="paperlens-parse",
                daemon=True,
            )
            child.start()
            send.close()
            try:
                if not receive.poll(self.timeout_s):
                    raise TooLarge(
                        f"{name}: parsing took longer than {self.timeout_s:g} s "
                        "(PAPERLENS_PARSE_TIMEOUT_S); the file is too large or malformed"
                    )
                try:
                    kind, payload = receive.recv()
                except EOFError:  # the child died (e.g. a parser crash in C code)
                    raise ParseFailed(f"{name}: the parser crashed on this file") from None
            finally:
                if child.is_alive():
                    child.kill()
                child.join()
                receive.close()
        if kind == "error":
            status, code, message = payload
            err = PaperlensError(message, code=code)
            err.status = status
            raise err
        if kind == "crash":
            raise ParseFailed(f"{name}: could not read the file ({payload})")
        papers: list[Paper] = payload
        return papers
