"""From PDF lines to the blocks of a paper: sections, pages, captions, no page furniture.

Steps, each a small function:
1. running headers and footers go: lines near the top or bottom edge whose text (digits
   folded) repeats on many pages, page numbers ("4", "4 of 26", "Page 4"), and
   "Downloaded from ..." stamps;
2. line numbers go: lines that are only a number, and a leading number on pages where
   most lines have one (preprint line numbering);
3. figure innards go: runs of short label-like lines (axis labels, panel letters), and
   paragraphs with hardly a prose word ("0 100 200 300", "t g g a g c c t");
4. headings are found: known section names (Abstract, Introduction, Results, Methods,
   Discussion, Conclusion, References, Acknowledgements, ... numbered or not), or short
   lines set clearly larger than the body text;
5. lines are joined into paragraphs at vertical gaps and column changes, hyphenation is
   undone, and every paragraph keeps its first page, its section heading and its part
   (front, abstract, introduction, methods, results, discussion, conclusion, references,
   back); paragraphs opening with "Figure 2." or "Table 1" are captions.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from service.corpus.paper import NOT_EVIDENCE_PARTS
from service.corpus.pdf_layout import Line, PdfPages

EDGE_SHARE = 0.09  # a line this close to the top or bottom edge may be a running header/footer
REPEAT_SHARE = 0.25  # ... and is one when its text repeats on this share of pages (at least 2)

_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?$", re.I)
_STAMP = re.compile(
    r"^(downloaded from|this article is protected by copyright|\(which was not certified)", re.I
)
# a journal's draft header left inside figure pages: "Cancers 2022, 14, x FOR PEER REVIEW 11 of 19"
_DRAFT_HEADER = re.compile(r"\bFOR PEER REVIEW\b")
# a publisher's download stamp, which PDFium may run into a body line
_INLINE_STAMP = re.compile(
    r"\s*Downloaded from https?://\S+(?: by [\w .,'-]{1,80}? on \d{1,2} \w+ \d{4})?", re.I
)
_LINE_NUMBER = re.compile(r"^\d{1,4}$")
_LEADING_NUMBER = re.compile(r"^\d{1,4}\s+(?=\S)")
_CAPTION = re.compile(
    r"^(supplementa(ry|l)\s+)?(fig(ure)?|table|box)\.?\s*S?\d+[A-Za-z]?(\s*[.:|\-\u2013\u2014]|\s+(?=[A-Z]))",
    re.I,
)

# Canonical parts and the heading words that open them.
PARTS: dict[str, tuple[str, ...]] = {
    "abstract": ("abstract", "summary", "significance", "author summary", "simple summary"),
    "introduction": ("introduction", "background"),
    "methods": (
        "methods",
        "materials and methods",
        "material and methods",
        "methods and materials",
        "experimental procedures",
        "methodology",
        "star methods",
        "online methods",
        "experimental section",
        "materials",
    ),
    "results": ("results", "results and discussion"),
    "discussion": ("discussion",),
    "conclusion": ("conclusion", "conclusions", "concluding remarks", "outlook"),
    "references": ("references", "bibliography", "literature cited", "references and notes", "works cited"),
    "back": (
        "acknowledgements",
        "acknowledgments",
        "acknowledgement",
        "acknowledgment",
        "funding",
        "author contributions",
        "conflict of interest",
        "conflicts of interest",
        "competing interests",
        "declaration of interests",
        "ethics declarations",
        "additional information",
        "supplementary material",
        "supplementary data",
        "supplementary information",
        "supporting information",
        "abbreviations",
        "declarations",
        "consent for publication",
        "ethics approval and consent to participate",
        "author information",
        "publisher's note",
    ),
}
_PART_OF = {name: part for part, names in PARTS.items() for name in names}
_NUMBERED = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,4}\.)\s+(?=[A-Z])")


@dataclass
class Block:
    text: str
    page: int
    section: str  # the heading the block sits under ("" before the first heading)
    part: str  # canonical: front, abstract, introduction, methods, results, discussion, ...
    kind: str = "text"  # "text" or "caption"


@dataclass
class _Para:
    lines: list[Line] = field(default_factory=list)


def part_of_heading(text: str) -> str | None:
    """The canonical part a heading opens, or None when it is not a known section name."""
    name = _NUMBERED.sub("", text).strip().rstrip(".:").strip().lower()
    name = re.sub(r"\s+", " ", name.replace("&", "and"))
    return _PART_OF.get(name)


def strip_furniture(pages: PdfPages) -> list[Line]:
    """Steps 1-3: page furniture, line numbers and figure innards removed."""
    lines = [ln for ln in pages.lines if not _STAMP.match(ln.text) and not _DRAFT_HEADER.search(ln.text)]
    for ln in lines:
        ln.text = _INLINE_STAMP.sub("", ln.text)
    lines = [ln for ln in lines if ln.text]
    edge = pages.page_height * EDGE_SHARE
    page_ends = _page_ends(lines)
    at_edge = [
        (ln.size > 0 and (ln.top > pages.page_height - edge or ln.bottom < edge))
        or (ln.size <= 0 and id(ln) in page_ends)
        for ln in lines
    ]
    pages_of: dict[str, set[int]] = {}
    for ln, edge_line in zip(lines, at_edge, strict=True):
        if edge_line:
            pages_of.setdefault(_repeat_key(ln), set()).add(ln.page)
    min_pages = max(2, round(REPEAT_SHARE * pages.n_pages))
    kept = []
    for ln, edge_line in zip(lines, at_edge, strict=True):
        if edge_line and (len(pages_of[_repeat_key(ln)]) >= min_pages or _PAGE_NUMBER.match(ln.text)):
            continue
        if _LINE_NUMBER.match(ln.text):
            continue
        kept.append(ln)
    return _drop_figure_innards(_strip_leading_numbers(kept))


def _repeat_key(line: Line) -> str:
    return _DIGITS.sub("#", line.text.lower())


def _by_page(lines: list[Line]) -> dict[int, list[Line]]:
    pages: dict[int, list[Line]] = {}
    for ln in lines:
        pages.setdefault(ln.page, []).append(ln)
    return pages


def _page_ends(lines: list[Line]) -> set[int]:
    """Ids of the first two and last two lines of each page: the edge lines of a page
    PDFium gave no geometry for."""
    return {id(ln) for same in _by_page(lines).values() for ln in (*same[:2], *same[-2:])}


def _strip_leading_numbers(lines: list[Line]) -> list[Line]:
    for page_lines in _by_page(lines).values():
        numbered = [ln for ln in page_lines if _LEADING_NUMBER.match(ln.text)]
        if len(page_lines) >= 10 and len(numbered) >= 0.5 * len(page_lines):
            for ln in numbered:
                ln.text = _LEADING_NUMBER.sub("", ln.text)
    return lines


def _label_like(line: Line) -> bool:
    return line.words <= 4 and not re.search(r"[.!?:]$", line.text) and part_of_heading(line.text) is None


def _drop_figure_innards(lines: list[Line]) -> list[Line]:
    """Runs of 4+ short label-like lines on one page are text inside a figure."""
    out: list[Line] = []
    run: list[Line] = []
    for ln in [*lines, None]:
        if ln is not None and _label_like(ln) and (not run or run[-1].page == ln.page):
            run.append(ln)
            continue
        if len(run) < 4:
            out.extend(run)
        run = []
        if ln is not None:
            out.append(ln)
    return out


def body_size(lines: list[Line]) -> float:
    sizes = Counter(round(ln.size) for ln in lines if ln.size > 0 for _ in range(ln.words))
    return float(sizes.most_common(1)[0][0]) if sizes else 0.0


def is_heading(line: Line, body: float) -> bool:
    if line.words > 14 or len(line.text) < 3 or line.text.endswith((".", ",", ";")):
        return part_of_heading(line.text) is not None
    if part_of_heading(line.text) is not None:
        return True
    larger = body > 0 and line.size >= body + 1.0
    return bool(larger and line.text[:1].isupper() and not _CAPTION.match(line.text) and line.words >= 2)


def to_blocks(lines: list[Line]) -> list[Block]:
    """Steps 4-5: headings, paragraphs, captions, each with page, section and part."""
    body = body_size(lines)
    blocks: list[Block] = []
    section, part = "", "front"
    para: list[Line] = []
    caption = False

    def flush() -> None:
        nonlocal para, caption
        text = join_lines([ln.text for ln in para])
        if text and (caption or not figure_text(text)):
            blocks.append(Block(text, para[0].page, section, part, "caption" if caption else "text"))
        para, caption = [], False

    for ln in lines:
        if is_heading(ln, body):
            flush()
            opened = part_of_heading(ln.text)
            if opened is not None:
                part, section = opened, _heading_text(ln.text)
            elif part not in NOT_EVIDENCE_PARTS:
                section = _heading_text(ln.text)
            continue
        # "Figure 2." opens a caption, unless the line before runs on into it ("... in" / "Figure 2.")
        starts_caption = bool(_CAPTION.match(ln.text)) and not (
            para and _continues(para[-1]) and not _breaks(para[-1], ln, body)
        )
        if para and (starts_caption or _breaks(para[-1], ln, body)):
            flush()
        if not para:
            caption = starts_caption
        para.append(ln)
    flush()
    return blocks


_PROSE_WORD = re.compile(r"[A-Za-z][a-z]{2,}[,.;:)]?")
FIGURE_TEXT_WORDS = 0.15
"""A paragraph with fewer prose words than this share of its tokens is text inside a figure
(axis ticks "0 100 200 300", a sequence "t g g a g c", labels "Cas9 D10A CXE D10A")."""
FIGURE_PROSE_WORDS = 5  # ... and fewer prose words than this in all


def figure_text(text: str) -> bool:
    """Whether a paragraph is the text of a figure's innards rather than prose."""
    tokens = text.split()
    if len(tokens) < 4:
        return False
    prose = sum(bool(_PROSE_WORD.fullmatch(t)) for t in tokens)
    # a clause of prose among the statistics ("p-values were calculated using t-tests") stays
    return prose < FIGURE_TEXT_WORDS * len(tokens) and prose < FIGURE_PROSE_WORDS


def _heading_text(text: str) -> str:
    return _NUMBERED.sub("", text).strip().rstrip(".:").strip()[:120]


def _breaks(prev: Line, line: Line, body: float) -> bool:
    """A paragraph ends at a page or column change, or a vertical gap wider than a line.
    (A page change always ends a block, so every block has one page; blocks of one section
    are chunked together, so a sentence running over the page is not cut.)"""
    if line.page != prev.page:
        return True
    if prev.size <= 0 or line.size <= 0:
        return False
    if line.top > prev.top + 2:  # moved up the page: a new column
        return not _continues(prev)
    gap = prev.bottom - line.top
    return gap > 0.9 * max(body, line.size) or abs(line.size - prev.size) > 1.5


def _continues(prev: Line) -> bool:
    """The previous line stops mid-sentence, so the text flows on."""
    return not re.search(r"[.!?:)\]]$", prev.text)


def join_lines(lines: list[str]) -> str:
    """Unwrap lines; a hyphen at a line end joins the word when the next line goes on in lower case."""
    text = ""
    for line in lines:
        if not text:
            text = line
        elif text.endswith("-") and line[:1].islower() and not text.endswith(" -"):
            text = text[:-1] + line
        else:
            text += " " + line
    return " ".join(text.split())
