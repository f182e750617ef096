"""Turn files (paths or uploaded bytes) into papers, choosing the parser by format."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from service.core.errors import BadInput, TooLarge, UnsupportedFormat
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


def check_file(name: str, path: Path) -> str:
    """`file_format` of a file on disk, reading only its head and, to tell it is not empty,
    as much as comes before its first non-blank byte."""
    with path.open("rb") as f:
        head = f.read(4096)
        blank = not head.strip()
        while blank and (block := f.read(1 << 16)):
            blank = not block.strip()
    return file_format(name, b"" if blank else head)


def parse_bytes(name: str, data: bytes, max_text_chars: int | None = None) -> list[Paper]:
    """Parse one file's bytes. The format comes from the extension, else the content.
    `max_text_chars`: a 413 when the file's text is longer (a PDF is stopped at the page
    that passes it, before that page's text is extracted)."""
    suffix = file_format(name, data)
    if suffix == ".pdf":
        papers = [parse_pdf(data, source=name, max_chars=max_text_chars)]
    else:
        text = _decode(data, name)
        if suffix == ".json":
            papers = parse_json(text, source=name)
        elif suffix in (".jsonl", ".ndjson"):
            papers = parse_jsonl(text, source=name)
        else:
            listing = parse_trending_page(text, source=name) if suffix == ".txt" else []
            papers = (
                listing
                if len(listing) >= 2
                else [parse_text_document(text, source=name, markdown=suffix in (".md", ".markdown"))]
            )
    if max_text_chars is not None:
        for paper in papers:
            check_text_size(paper, max_text_chars, f"{name}: ")
        chars = sum(text_chars(p) for p in papers)
        if chars > max_text_chars:
            raise TooLarge(
                f"{name}: {chars:,} characters of text, over the {max_text_chars:,} limit "
                "(PAPERLENS_MAX_TEXT_CHARS); split the file"
            )
    return papers


def text_chars(paper: Paper) -> int:
    """The size of a paper's text as the limits count it: abstract plus full text."""
    return len(paper.abstract or "") + len(paper.text or "")


def check_text_size(paper: Paper, limit: int, where: str = "") -> None:
    """A 413 naming the paper (id and title) when its text is over `limit` characters."""
    chars = text_chars(paper)
    if chars > limit:
        raise TooLarge(
            f"{where}paper {paper.paper_id!r} ('{paper.title[:60]}'): {chars:,} characters of text "
            f"(abstract plus full text), over the {limit:,} limit (PAPERLENS_MAX_TEXT_CHARS); "
            "split it into several papers or send less of its text"
        )


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


def load_paths(paths: Iterable[Path], max_text_chars: int | None = None) -> list[Paper]:
    papers: list[Paper] = []
    for path in expand_paths(paths):
        papers.extend(parse_bytes(str(path), path.read_bytes(), max_text_chars))
    return papers
