"""Ingest files one by one, each on its own: a bad file fails alone, the rest go in.

Parsing and embedding overlap: while one file's chunks are embedded (the slow part on a
CPU), the next file is parsed in a second thread. Each file is written all-or-nothing
(the store's batch write), so a failure or a crash never leaves a file half-indexed.
Used by ingest jobs (HTTP uploads) and by `paperlens ingest`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from service.core.errors import PaperlensError
from service.corpus.loader import parse_bytes
from service.corpus.paper import Paper
from service.ingest.ingest_service import IngestReport, IngestService

Loader = Callable[[], bytes]
Parser = Callable[[str, bytes], list[Paper]]
MAX_PAPERS_PER_WRITE = 64  # a listing file with many papers is written in batches of this many


@dataclass
class FileResult:
    name: str
    status: str  # "done" or "failed"
    error: str | None = None
    report: IngestReport = field(default_factory=IngestReport)

    @property
    def paper_ids(self) -> list[str]:
        return self.report.added + self.report.replaced + self.report.unchanged

    @property
    def chunks(self) -> int:
        return self.report.n_chunks


def ingest_files(
    service: IngestService,
    files: Sequence[tuple[str, Loader]],
    on_file: Callable[[FileResult], None] | None = None,
    parse: Parser = parse_bytes,
    stop: Callable[[], bool] | None = None,
) -> list[FileResult]:
    """Parse and ingest `files` in order; `on_file` hears each file's result as it lands.
    `parse` is the server's bounded parse pool for uploads; the CLI parses in-process.
    `stop` (a cancelled job) is asked before each file: once true, no further file goes in."""

    def _parse(name: str, load: Loader) -> list[Paper]:
        return parse(name, load())

    results: list[FileResult] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="paperlens-parse") as parser:
        upcoming: Future[list[Paper]] | None = parser.submit(_parse, *files[0]) if files else None
        for index, (name, _) in enumerate(files):
            assert upcoming is not None
            if stop is not None and stop():
                break
            current = upcoming
            upcoming = parser.submit(_parse, *files[index + 1]) if index + 1 < len(files) else None
            result = _ingest_one(service, name, current)
            results.append(result)
            if on_file is not None:
                on_file(result)
    return results


def _ingest_one(service: IngestService, name: str, parsed: Future[list[Paper]]) -> FileResult:
    try:
        papers = parsed.result()
        report = IngestReport()
        for b in range(0, len(papers), MAX_PAPERS_PER_WRITE):
            report.merge(service.ingest(papers[b : b + MAX_PAPERS_PER_WRITE]))
    except PaperlensError as err:
        return FileResult(name, "failed", error=err.message)
    except Exception as err:  # a real paper a library chokes on: reported, never fatal
        return FileResult(name, "failed", error=f"could not read the file ({err.__class__.__name__}: {err})")
    return FileResult(name, "done", report=report)
