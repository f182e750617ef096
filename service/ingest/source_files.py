"""Which original file an ingested paper keeps, or why it keeps none.

A file that holds one paper (a PDF, a text or Markdown paper, a JSON file of one record)
is that paper's original and is kept, up to PAPERLENS_KEEP_FILE_MAX_BYTES. A file of many
papers (a listing page such as the sample corpus, JSON records) is no one paper's
original, and papers sent as JSON (POST /papers) come from no file: those papers keep
none, and the reason is stored with the paper, for the 404 of GET /papers/{id}/file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from service.components.kept_files import KeptFile, file_name
from service.corpus.loader import check_file
from service.corpus.paper import Paper

MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".markdown": "text/markdown; charset=utf-8",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
}

NOT_FROM_A_FILE = (
    "this paper was added as a JSON record (POST /papers), not from a file, so there is no file to show"
)
FROM_BEFORE = (
    "this paper was added before paperlens kept original files; "
    "delete it and upload its file again to keep the file"
)


@dataclass(frozen=True)
class FilePlan:
    """One paper's original file to keep (`source`), or why none is kept (`reason`)."""

    source: Path | None = None
    filename: str = ""
    suffix: str = ""
    size: int = 0
    reason: str | None = None

    def kept(self, paper_id: str, content_hash: str) -> KeptFile | None:
        """The record's entry for the file, once kept as this paper version's."""
        if self.source is None:
            return None
        return KeptFile(
            name=file_name(paper_id, content_hash, self.suffix),
            filename=self.filename,
            media_type=MEDIA_TYPES.get(self.suffix, "application/octet-stream"),
            size=self.size,
        )


NO_FILE = FilePlan(reason=NOT_FROM_A_FILE)


def plan_files(name: str, path: Path, papers: Sequence[Paper], limit: int) -> dict[str, FilePlan]:
    """What each paper parsed from the file `name` (on disk at `path`) keeps of it; `limit`
    is PAPERLENS_KEEP_FILE_MAX_BYTES."""
    shown = Path(name).name
    if len(papers) != 1:
        reason = (
            f"this paper was added from {shown}, a file of {len(papers)} papers (a listing or JSON "
            "records, such as the sample corpus); only a file that holds one paper is kept"
        )
        return {p.paper_id: FilePlan(reason=reason) for p in papers}
    paper = papers[0]
    size = path.stat().st_size
    if limit == 0:
        return {
            paper.paper_id: FilePlan(
                reason="keeping files is off on this server (PAPERLENS_KEEP_FILE_MAX_BYTES=0)"
            )
        }
    if size > limit:
        reason = (
            f"its file {shown} ({size:,} bytes) was over the size limit for kept files ({limit:,} bytes, "
            "PAPERLENS_KEEP_FILE_MAX_BYTES): the paper was indexed without it; raise the limit, "
            "delete the paper and upload it again to keep the file"
        )
        return {paper.paper_id: FilePlan(reason=reason)}
    return {paper.paper_id: FilePlan(source=path, filename=shown, suffix=check_file(name, path), size=size)}
