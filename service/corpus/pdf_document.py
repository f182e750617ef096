"""A PDF as a structured paper: located paragraphs, the abstract, and the metadata.

`pdf_layout` reads the lines (pypdfium2), `pdf_structure` removes page furniture and
finds sections, paragraphs and captions, `pdf_metadata` finds title, authors, year, DOI
and arXiv id. The paper's `text` is every paragraph in reading order (references
included: stored, shown by GET /papers/{id}); `blocks` keep each paragraph's page,
section and part, so chunks and citations can say where they come from. A PDF with no
extractable text (a scan without OCR) is rejected rather than indexed empty; a corrupt
or encrypted file gets a message that says so.
"""

from __future__ import annotations

import html
import logging
import re

from service.core.errors import BadInput
from service.corpus.paper import Paper, TextBlock
from service.corpus.pdf_layout import PdfPages, read_pdf
from service.corpus.pdf_metadata import PdfMeta, extract_metadata
from service.corpus.pdf_structure import Block, join_lines, strip_furniture, to_blocks

log = logging.getLogger(__name__)
_INLINE_ABSTRACT = re.compile(r"^abstract\b[\s.:\u2014\u2013-]*(?=[A-Z])", re.I)
MIN_ABSTRACT_CHARS = 50


def parse_pdf(data: bytes, source: str | None = None, max_chars: int | None = None) -> Paper:
    """`max_chars`: a TooLarge at the page whose text would pass it (see `read_pdf`)."""
    name = source or "PDF"
    pages = read_pdf(data, name, max_chars)
    if pages.n_pages == 0:
        raise BadInput(f"{name}: the PDF has no pages")
    if sum(len(line.text) for line in pages.lines) < 20:
        raise BadInput(
            f"{name}: no extractable text in the PDF (is it a scanned image?); "
            "run OCR on it first or upload the text"
        )
    try:
        meta = extract_metadata(pages)
        blocks = _mark_inline_abstract(to_blocks(strip_furniture(pages)))
    except MemoryError:  # the parse process's memory limit: the file is refused, not degraded
        raise
    except Exception as err:  # a layout the rules choke on still goes in, as plain pages
        log.warning(
            "%s: structure not recognised (%s: %s); indexed as plain pages", name, type(err).__name__, err
        )
        meta, blocks = PdfMeta(), _plain_pages(pages)
    if not blocks:
        raise BadInput(f"{name}: no paragraphs of text found in the PDF")
    first_line = next(line.text for line in pages.lines if line.text.strip())
    return Paper(
        title=html.unescape(meta.title or first_line)[:1000],
        abstract=_abstract(blocks),
        text="\n\n".join(b.text for b in blocks),
        authors=[html.unescape(a) for a in meta.authors],
        year=meta.year,
        doi=meta.doi,
        arxiv_id=meta.arxiv_id,
        source=source,
        blocks=[
            TextBlock(text=b.text, page=b.page, section=b.section, part=b.part, kind=b.kind) for b in blocks
        ],
    )


def _plain_pages(pages: PdfPages) -> list[Block]:
    by_page: dict[int, list[str]] = {}
    for line in pages.lines:
        by_page.setdefault(line.page, []).append(line.text)
    return [Block(join_lines(lines), page, "", "body") for page, lines in sorted(by_page.items())]


def _mark_inline_abstract(blocks: list[Block]) -> list[Block]:
    """ "Abstract Splicing is ..." in the front matter: an abstract without its own heading line."""
    if any(b.part == "abstract" for b in blocks):
        return blocks
    for b in blocks:
        if b.part == "front" and _INLINE_ABSTRACT.match(b.text):
            b.text, b.part, b.section = _INLINE_ABSTRACT.sub("", b.text), "abstract", "Abstract"
            break
    return blocks


def _abstract(blocks: list[Block]) -> str | None:
    parts = [b.text for b in blocks if b.part == "abstract" and b.kind == "text" and len(b.text) >= 40]
    text = " ".join(parts)
    return text if len(text) >= MIN_ABSTRACT_CHARS else None
