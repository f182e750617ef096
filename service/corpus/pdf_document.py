"""PDF via pypdf: text per page, title from the metadata or the first line.

pypdf returns hard-wrapped lines. The title is the metadata title when it looks real,
else the first line of page one; the abstract is the block after an "Abstract" line up
to the first section heading. The text joins the wrapped lines and undoes end-of-line
hyphenation. A PDF with no extractable text (a scan without OCR) is rejected rather
than indexed empty; a corrupt or encrypted file gets a message that says so.
"""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from service.core.errors import BadInput
from service.corpus.paper import Paper

_BAD_META_TITLE = re.compile(r"(^untitled$|^microsoft word|\.(pdf|dvi|docx?|tex)$|^$)", re.I)
_ABSTRACT = re.compile(r"^\s*abstract\b[\s.:\u2014\u2013-]*", re.IGNORECASE)
_SECTION = re.compile(
    r"^\s*(?:(?:1|I)\.?\s+)?(?:Introduction|Keywords|Index Terms|Background)\b", re.IGNORECASE
)


def read_pdf_pages(data: bytes, name: str) -> tuple[list[str], str | None]:
    """(raw page texts, metadata title). Raises BadInput for unreadable files."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadInput(f"{name}: the PDF is encrypted; upload an unlocked copy")
        pages = [(page.extract_text() or "").replace("\r", "") for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or None
    except BadInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as err:
        raise BadInput(f"{name}: not a readable PDF ({err.__class__.__name__}: {err})") from err
    return pages, meta_title


def join_lines(lines: list[str]) -> str:
    """Unwrap hard-wrapped lines; blank lines stay paragraph breaks."""
    text = "\n".join(line.strip() for line in lines)
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def parse_pdf(data: bytes, source: str | None = None) -> Paper:
    name = source or "PDF"
    pages, meta_title = read_pdf_pages(data, name)
    if not pages:
        raise BadInput(f"{name}: the PDF has no pages")
    if sum(len(p.strip()) for p in pages) < 20:
        raise BadInput(
            f"{name}: no extractable text in the PDF (is it a scanned image?); "
            "run OCR on it first or upload the text"
        )
    lines = [line for page in pages for line in (*page.split("\n"), "")]
    first = next(line.strip() for line in lines if line.strip())
    title = (
        meta_title.strip() if meta_title and not _BAD_META_TITLE.search(meta_title.strip()) else first[:300]
    )
    return Paper(title=title, abstract=_abstract(lines), text=join_lines(lines), source=source)


def _abstract(lines: list[str]) -> str | None:
    for i, line in enumerate(lines):
        m = _ABSTRACT.match(line)
        if not m:
            continue
        block = [line[m.end() :]]
        for nxt in lines[i + 1 :]:
            if _SECTION.match(nxt):
                break
            block.append(nxt)
        abstract = join_lines(block).replace("\n\n", " ")
        return abstract if len(abstract) >= 50 else None
    return None
