"""PDF pages as lines with their position and size, read with pypdfium2 (Apache-2.0/BSD).

Chosen by measuring on the 18 full-text papers in `tests/data/fulltext/`: pypdfium2
reads 197 pages/s against pypdf's 9 on the same machine, keeps two-column reading order
(PDFium orders text by the content stream and its own line detection), marks
end-of-line hyphenation with U+FFFE so it can be undone exactly, and does not stop on
streams that made pypdf raise `LimitReachedError`. PyMuPDF is AGPL, so not an option.

Each line keeps its page, left edge, top/bottom (PDF points, origin bottom-left) and a
font size (the median loose glyph height), which the structure pass uses to find
headings, paragraph gaps, running headers and footers.
"""

from __future__ import annotations

import logging
import re
import statistics
from dataclasses import dataclass

import pypdfium2 as pdfium

from service.core.errors import BadInput, TooLarge

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufeff\u00ad]")


@dataclass
class Line:
    text: str
    page: int  # 1-based
    x0: float
    top: float
    bottom: float
    size: float  # 0.0 when PDFium gave no geometry

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class PdfPages:
    lines: list[Line]
    n_pages: int
    page_height: float
    page_width: float
    metadata: dict[str, str]


def read_pdf(data: bytes, name: str, max_chars: int | None = None) -> PdfPages:
    """Every text line of every page. Raises BadInput for files that are not readable PDFs,
    and TooLarge at the page that takes the text past `max_chars` (counted from PDFium's
    character count before the page's text is extracted)."""
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        message = str(err)
        if "password" in message.lower():
            raise BadInput(f"{name}: the PDF is encrypted; upload an unlocked copy") from err
        raise BadInput(f"{name}: not a readable PDF ({message})") from err
    try:
        metadata = {k: str(v) for k, v in doc.get_metadata_dict(skip_empty=True).items()}
        lines: list[Line] = []
        width, height = 612.0, 792.0
        left = max_chars
        for index in range(len(doc)):
            page = doc[index]
            try:
                width, height = page.get_size()
                chars, page_lines = _page_lines(page, index + 1, left)
                lines.extend(page_lines)
                left = None if left is None else left - chars
            except _OverBudget:
                raise TooLarge(
                    f"{name}: over {max_chars:,} characters of text by page {index + 1} "
                    "(PAPERLENS_MAX_TEXT_CHARS); split the file"
                ) from None
            except MemoryError:
                raise
            except Exception as err:  # one broken page does not lose the paper
                log.debug("%s: page %d unreadable: %s", name, index + 1, err)
            finally:
                page.close()
        return PdfPages(lines, len(doc), height, width, metadata)
    finally:
        doc.close()


class _OverBudget(Exception):
    """The page's characters would take the text past the budget."""


def _page_lines(page: pdfium.PdfPage, number: int, budget: int | None = None) -> tuple[int, list[Line]]:
    """(PDFium's character count, the lines) of a page; _OverBudget when the count passes `budget`."""
    textpage = page.get_textpage()
    try:
        n = textpage.count_chars()
        if budget is not None and n > budget:
            raise _OverBudget
        raw = textpage.get_text_range(0, n) if n else ""
        aligned = len(raw) == n  # one string index per PDFium char: geometry available
        out: list[Line] = []
        start = 0
        for piece in raw.split("\r\n"):
            end = start + len(piece)
            text = _clean(piece)
            if text:
                out.append(
                    _line(textpage, text, number, start, end) if aligned else Line(text, number, 0, 0, 0, 0)
                )
            start = end + 2
        return n, out
    finally:
        textpage.close()


def _clean(text: str) -> str:
    text = text.replace("\ufffe", "").replace("\u2010", "-")  # U+FFFE: PDFium's soft hyphen at a break
    return " ".join(_CONTROL.sub("", text).split())


def _line(textpage: pdfium.PdfTextPage, text: str, page: int, start: int, end: int) -> Line:
    step = max(1, (end - start) // 12)
    boxes = []
    heights = []
    for i in range(start, end, step):
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        if right > left and top > bottom:
            boxes.append((left, bottom, top))
            heights.append(top - bottom)
    if not boxes:
        return Line(text, page, 0, 0, 0, 0)
    return Line(
        text,
        page,
        x0=min(b[0] for b in boxes),
        top=max(b[2] for b in boxes),
        bottom=min(b[1] for b in boxes),
        size=round(statistics.median(heights), 1),
    )
