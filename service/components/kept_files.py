"""The original files of papers, kept on disk under DATA_DIR/files for GET /papers/{id}/file.

A kept file's name carries its paper's id (hashed: ids may hold characters a file system
refuses) and the content hash of the version it belongs to, as chunk ids do:
`<id key>-<content hash>.<format>`. So a new version's file never overwrites the old one
before the store names it, and one rule tells a file to keep from one to drop: a file is
kept only while its paper's record names it.

The ingest writes a paper's file before its record (copied to a `.part` name first, then
renamed, so a file is never half there) and removes it again when the write fails; after
a good write the paper's other files go. A delete removes the record first, the files
after. A crash between two steps leaves only files no record names, which `sweep` removes
at start-up (with any `.part` left) once they are older than any write could be: replicas
that share the folder may be writing one at that moment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)
PART = ".part"


class KeptFile(BaseModel):
    """What the paper record says of its kept file."""

    name: str = Field(description="The file's name under DATA_DIR/files.")
    filename: str = Field(description="The name it was uploaded under.")
    media_type: str = Field(description="Its content type, e.g. application/pdf.")
    size: int = Field(ge=0, description="Its size in bytes.")

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> KeptFile:
        return cls.model_validate(json.loads(text))


def id_key(paper_id: str) -> str:
    """The part of a file name that names its paper."""
    return hashlib.sha256(paper_id.encode()).hexdigest()[:24]


def file_name(paper_id: str, content_hash: str, suffix: str) -> str:
    """The name a paper version's file is kept under (`suffix`: the format, e.g. `.pdf`)."""
    return f"{id_key(paper_id)}-{content_hash[:24]}{suffix}"


class FileStore:
    """A folder of kept files; every method is safe to call for a file that is not there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        return self.folder / Path(name).name  # a record names a file in this folder, nothing else

    def put(self, source: Path, name: str) -> None:
        """Copy `source` in under `name`, whole or not at all."""
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.folder / f"{name}{PART}"
        try:
            shutil.copyfile(source, part)
            os.replace(part, self.path(name))
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    def remove(self, names: Iterable[str]) -> None:
        for name in names:
            self.path(name).unlink(missing_ok=True)

    def keep_only(self, paper_id: str, name: str | None) -> None:
        """Remove the paper's files other than `name` (all of them when None)."""
        if not self.folder.is_dir():
            return
        for path in self.folder.glob(f"{id_key(paper_id)}-*"):
            if path.name != name:
                path.unlink(missing_ok=True)

    def sweep(self, named: set[str], older_than_s: float = 3600.0) -> int:
        """Remove every file no record names (what a crash mid-write left) and untouched for
        `older_than_s`; how many went."""
        if not self.folder.is_dir():
            return 0
        before = time.time() - older_than_s
        stale = [
            p
            for p in self.folder.iterdir()
            if p.is_file() and p.name not in named and p.stat().st_mtime < before
        ]
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            log.warning("removed %d kept files no paper names (a crash mid-write left them)", len(stale))
        return len(stale)
