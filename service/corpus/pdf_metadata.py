"""A PDF paper's title, authors, year, DOI and arXiv id, from its metadata and first pages.

The metadata title is used when it looks like a title (publishers often leave a file
name, a journal name or a cut line there); otherwise the title is the run of largest
lines in the top half of page one, joined, so a two-line title is whole. DOI and arXiv id
are found by pattern on the first two pages; the year prefers a "Published" date, then a
copyright line, then the citation line of the journal header, then the file's dates.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from service.corpus.pdf_layout import Line, PdfPages
from service.corpus.pdf_structure import body_size

_BAD_TITLE = re.compile(
    r"(^untitled|^microsoft word|\.(pdf|dvi|docx?|tex|indd|qxd)\b|^[\w\-]+$|^doi[:\s]|^\d|^manuscript|"
    r"^(nucleic acids research|cancers|elife|genome biology|bmc \w+|ijms|msphere|g3))",
    re.I,
)
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>,;]+)", re.I)
_ARXIV = re.compile(r"arxiv[:\s]*(\d{4}\.\d{4,5})(v\d+)?", re.I)
_YEAR = r"((?:19[5-9]|20[0-9])\d)"
_YEAR_PATTERNS = [
    re.compile(rf"\b(?:published|publication date|accepted)\b[^\n]{{0,60}}?\b{_YEAR}\b", re.I),
    re.compile(rf"(?:©|\(c\)|copyright)\s*(?:the authors?\s*)?{_YEAR}\b", re.I),
    re.compile(rf"\b{_YEAR}\s*[,;]\s*\d+\s*[:(,]"),  # "2024, 52, 4151", "2023;12:RP91357"
]


@dataclass
class PdfMeta:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    doi: str | None = None
    arxiv_id: str | None = None


def extract_metadata(pages: PdfPages) -> PdfMeta:
    first = [ln for ln in pages.lines if ln.page == 1]
    front_text = "\n".join(ln.text for ln in pages.lines if ln.page <= 2)
    meta = pages.metadata
    return PdfMeta(
        title=_title(meta.get("Title", ""), first, pages.page_height, body_size(pages.lines)),
        authors=_authors(meta.get("Author", "")),
        year=_year(front_text, meta),
        doi=_doi(front_text, meta),
        arxiv_id=(m.group(1) if (m := _ARXIV.search(front_text)) else None),
    )


def _title(meta_title: str, first_page: list[Line], page_height: float, body: float) -> str | None:
    meta_title = " ".join(meta_title.split())
    if len(meta_title.split()) >= 4 and not _BAD_TITLE.search(meta_title) and len(meta_title) <= 400:
        return meta_title
    top = [ln for ln in first_page if ln.size > 0 and ln.top > page_height * 0.4 and len(ln.text) > 3]
    if not top:
        return None
    biggest = max(ln.size for ln in top)
    if biggest < body + 1.0:  # nothing set larger than the text: the first line is the title
        return first_page[0].text[:400] if first_page else None
    run: list[Line] = []
    for ln in first_page:  # reading order: the first run of lines at the largest size
        if ln in top and ln.size >= biggest - 0.5:
            run.append(ln)
        elif run:
            break
    title = " ".join(ln.text for ln in run).strip()
    return title[:400] if len(title.split()) >= 2 else None


def _authors(raw: str) -> list[str]:
    parts = [p.strip() for p in re.split(r";|,(?=\s*[A-Z][a-z])|\band\b", raw) if p.strip()]
    return parts[:100] if len(parts) >= 1 and all(len(p) <= 80 for p in parts) else []


def _year(front_text: str, meta: dict[str, str]) -> int | None:
    for pattern in _YEAR_PATTERNS:
        found = Counter(int(m.group(1)) for m in pattern.finditer(front_text))
        if found:
            return found.most_common(1)[0][0]
    for key in ("CreationDate", "ModDate"):
        m = re.match(r"D:(\d{4})", meta.get(key, ""))
        if m and 1950 <= int(m.group(1)) <= 2100:
            return int(m.group(1))
    return None


def _doi(front_text: str, meta: dict[str, str]) -> str | None:
    for source in (front_text, meta.get("Subject", ""), meta.get("Keywords", "")):
        m = DOI.search(source)
        if m:
            return m.group(1).rstrip(".)]}")
    return None
