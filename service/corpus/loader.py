"""Turn files (paths or uploaded bytes) into papers, choosing the parser by format."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from service.core.errors import BadInput, UnsupportedFormat
from service.corpus.json_records import parse_json, parse_jsonl
from service.corpus.paper import Paper
from service.corpus.pdf_document import parse_pdf
from service.corpus.text_document import parse_text_document
from service.corpus.trending_page import parse_trending_page

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".json", ".jsonl", ".ndjson", ".pdf")


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BadInput(
            f"{name}: not UTF-8 text (bad byte at offset {err.start}); save the file as UTF-8 and try again"
        ) from err


def _sniff(data: bytes) -> str | None:
    head = data.lstrip()[:5]
    if head.startswith(b"%PDF"):
        return ".pdf"
    if head[:1] in (b"{", b"["):
        return ".json"
    return None


def file_format(name: str, data: bytes) -> str:
    """The format (a suffix) from the extension, else the content; a 4xx when neither says
    or the file is empty. Cheap: callers check a whole upload before accepting it."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        sniffed = _sniff(data)
        if sniffed is None:
            raise UnsupportedFormat(
                f"{name}: unknown format '{suffix or 'no extension'}'; "
                f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
            )
        suffix = sniffed
    if not data.strip():
        raise BadInput(f"{name}: the file is empty")
    return suffix


def parse_bytes(name: str, data: bytes) -> list[Paper]:
    """Parse one file's bytes. The format comes from the extension, else the content."""
    suffix = file_format(name, data)
    if suffix == ".pdf":
        return [parse_pdf(data, source=name)]
    text = _decode(data, name)
    if suffix == ".json":
        return parse_json(text, source=name)
    if suffix in (".jsonl", ".ndjson"):
        return parse_jsonl(text, source=name)
    if suffix == ".txt":
        listing = parse_trending_page(text, source=name)
        if len(listing) >= 2:
            return listing
    return [parse_text_document(text, source=name, markdown=suffix in (".md", ".markdown"))]


def expand_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, and the supported files inside folders (recursively, sorted)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        elif path.is_file():
            yield path
        else:
            raise BadInput(f"{path}: no such file or folder")


def load_paths(paths: Iterable[Path]) -> list[Paper]:
    papers: list[Paper] = []
    for path in expand_paths(paths):
        papers.extend(parse_bytes(str(path), path.read_bytes()))
    return papers
