"""Ingest files one by one, each on its own: a bad file fails alone, the rest go in.

Parsing and embedding overlap: while one file's chunks are embedded (the slow part on a
CPU), the next file is parsed in a second thread. Each file is written all-or-nothing
(the store's batch write), so a failure or a crash never leaves a file half-indexed.
Used by ingest jobs (HTTP uploads) and by `paperlens ingest`. A file on disk that holds
one paper is kept with it (see `source_files`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from service.core.errors import PaperlensError
from service.corpus.loader import parse_bytes
from service.corpus.paper import Paper
from service.ingest.ingest_service import IngestReport, IngestService
from service.ingest.source_files import FilePlan, plan_files

Loader = Callable[[], bytes]
Source = Path | Loader
"""A file on disk, or a callable that returns its bytes."""
Parser = Callable[[str, Path], list[Paper]]
"""The server's parse pool: parses the file at a path in a child process on a budget."""
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
    files: Sequence[tuple[str, Source]],
    on_file: Callable[[FileResult], None] | None = None,
    parse: Parser | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[FileResult]:
    """Parse and ingest `files` in order; `on_file` hears each file's result as it lands.
    `parse` is the server's bounded parse pool for uploads (files are then paths); without
    it (the CLI) files are parsed in this process, under the same text limit.
    `stop` (a cancelled job) is asked before each file: once true, no further file goes in."""
    limit = service.settings.max_text_chars

    def _parse(name: str, source: Source) -> list[Paper]:
        if parse is not None:
            if not isinstance(source, Path):
                raise TypeError("the parse pool reads files from disk: give paths")
            return parse(name, source)
        return parse_bytes(name, source.read_bytes() if isinstance(source, Path) else source(), limit)

    results: list[FileResult] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="paperlens-parse") as parser:
        upcoming: Future[list[Paper]] | None = parser.submit(_parse, *files[0]) if files else None
        for index, (name, source) in enumerate(files):
            assert upcoming is not None
            if stop is not None and stop():
                break
            current = upcoming
            upcoming = parser.submit(_parse, *files[index + 1]) if index + 1 < len(files) else None
            result = _ingest_one(service, name, source, current)
            results.append(result)
            if on_file is not None:
                on_file(result)
    return results


def _ingest_one(service: IngestService, name: str, source: Source, parsed: Future[list[Paper]]) -> FileResult:
    try:
        papers = parsed.result()
        if isinstance(source, Path):
            plans = plan_files(name, source, papers, service.settings.keep_file_max_bytes)
        else:
            plans = {
                p.paper_id: FilePlan(reason=f"{name} was read from memory, not from a file on disk")
                for p in papers
            }
        report = IngestReport()
        for b in range(0, len(papers), MAX_PAPERS_PER_WRITE):
            report.merge(service.ingest(papers[b : b + MAX_PAPERS_PER_WRITE], files=plans))
    except PaperlensError as err:
        return FileResult(name, "failed", error=err.message)
    except Exception as err:  # a real paper a library chokes on: reported, never fatal
        return FileResult(name, "failed", error=f"could not read the file ({err.__class__.__name__}: {err})")
    return FileResult(name, "done", report=report)
