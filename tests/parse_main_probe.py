"""Run as `python -m tests.parse_main_probe FOLDER`: notes each import of this module in
FOLDER/imports.log, then parses a file twice through a ParsePool. A parse child that
imported the main module again (multiprocessing's default) would add lines to the log."""

from __future__ import annotations

import sys
from pathlib import Path

FOLDER = Path(sys.argv[1])
with (FOLDER / "imports.log").open("a") as log:
    log.write(f"{__name__}\n")


def main() -> None:
    from service.corpus.parse_pool import ParsePool

    note = FOLDER / "note.md"
    note.write_text("# A Note\n\nSome text that is long enough to be a paper body.")
    pool = ParsePool(workers=1, timeout_s=30, max_text_chars=10_000, memory_mb=512)
    for _ in range(2):
        assert pool.parse("note.md", note)[0].title == "A Note"
    print("parsed")


if __name__ == "__main__":
    main()
