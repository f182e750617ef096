"""Every corpus format, parsed from real input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fpdf import FPDF

from service.core.errors import BadInput, UnsupportedFormat
from service.corpus.loader import load_paths, parse_bytes
from service.corpus.paper import Paper
from service.corpus.trending_page import parse_trending_page

from .conftest import SAMPLE

DATA = Path(__file__).parent / "data"


def test_sample_page_gives_exactly_the_60_papers_with_exact_titles() -> None:
    papers = parse_trending_page(SAMPLE.read_text(), source="sample")
    expected = (DATA / "sample_titles.txt").read_text().splitlines()
    assert [p.title for p in papers] == expected
    assert len({p.paper_id for p in papers}) == 60


def test_sample_abstracts_are_whole_and_chrome_is_ignored() -> None:
    lines = SAMPLE.read_text().splitlines()
    abstracts = [lines[i] for i in range(12, len(lines), 4)]
    papers = parse_trending_page(SAMPLE.read_text())
    assert [p.abstract for p in papers] == abstracts
    everything = " ".join(f"{p.title} {p.abstract}" for p in papers)
    for chrome in ("Subscribe", "Get trending papers", "byAK", "Mar 13"):
        assert chrome not in everything


def test_trending_parser_skips_chrome_between_papers() -> None:
    page = (
        "Trending\n\nSubscribe\n\nMar 14\n\nA Title About Things\n\n"
        + "First sentence of the abstract is here and long. " * 5
        + "\n\n42 upvotes\n\nSecond Paper Title\n\n"
        + "Another abstract sentence that goes on for a while. " * 5
        + "\n\nFooter links\n"
    )
    papers = parse_trending_page(page)
    assert [p.title for p in papers] == ["A Title About Things", "Second Paper Title"]


def test_json_object_list_and_wrapper() -> None:
    one = {"title": "T1", "abstract": "An abstract.", "year": 2024, "authors": "A. B, C. D"}
    for payload in (one, [one], {"papers": [one]}):
        papers = parse_bytes("x.json", json.dumps(payload).encode())
        assert len(papers) == 1
        assert papers[0].title == "T1"
        assert papers[0].authors == ["A. B", "C. D"]
        assert papers[0].year == 2024


def test_jsonl_and_arxiv_id_from_url() -> None:
    rows = [
        {"title": "A", "text": "Body a.", "url": "https://arxiv.org/abs/2403.01234v2"},
        {"title": "B", "abstract": "Abs b.", "arxiv_id": "arXiv:2101.00001"},
    ]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    papers = parse_bytes("x.jsonl", data)
    assert [p.paper_id for p in papers] == ["2403.01234", "2101.00001"]
    # JSON Lines saved with a .json name still parses
    assert [p.title for p in parse_bytes("x.json", data)] == ["A", "B"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b'{"title": "x", "abstract": ', "invalid JSON"),
        (b'[{"abstract": "no title"}]', "[0].title: Field required"),
        (b'[{"title": "x", "abstract": "   "}]', "non-empty 'abstract' or 'text'"),
        (b'[{"title": "x", "abstract": "a", "colour": 1}]', "colour"),
        (b"[1]", "JSON object"),
        (b"[]", "no papers"),
    ],
)
def test_json_errors_say_what_to_fix(payload: bytes, fragment: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_bytes("in.json", payload)
    assert fragment in err.value.message
    assert "in.json" in err.value.message


def test_markdown_title_from_heading_and_abstract_section() -> None:
    md = (
        "<!-- front matter -->\n\n# Sparse **Attention** Is Enough\n\n"
        "## Abstract\n\nWe show that sparse attention works. It is fast.\n\n"
        "## Introduction\n\nTransformers are [everywhere](http://x).\n"
    )
    (paper,) = parse_bytes("paper.md", md.encode())
    assert paper.title == "Sparse Attention Is Enough"
    assert paper.abstract == "We show that sparse attention works. It is fast."
    assert paper.text is not None and "Transformers are everywhere." in paper.text


def test_plain_text_title_is_first_line() -> None:
    (paper,) = parse_bytes("p.txt", b"\n\nMy Paper Title\nSome body text. More text.\n")
    assert paper.title == "My Paper Title"
    assert paper.text == "Some body text. More text."


def test_text_with_only_a_title_is_rejected() -> None:
    with pytest.raises(BadInput, match="only a title"):
        parse_bytes("p.md", b"# Lonely title\n")


def test_non_utf8_and_unknown_format_and_empty() -> None:
    with pytest.raises(BadInput, match="not UTF-8"):
        parse_bytes("p.txt", "Título\n\ncafé".encode("latin-1"))
    with pytest.raises(UnsupportedFormat, match="unknown format"):
        parse_bytes("p.docx", b"PK\x03\x04 binary")
    with pytest.raises(BadInput, match="empty"):
        parse_bytes("p.txt", b"  \n")


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def test_pdf_text_per_page_title_from_metadata() -> None:
    data = make_pdf(
        [
            "Graph Nets for Weather\n\nAbstract\nWe forecast the weather with graph neural "
            "networks and beat the baseline by a wide margin on every benchmark we tried.\n\n"
            "1 Introduction\nWeather matters.",
            "Second page: results on ERA5 reanalysis data.",
        ],
        title="Graph Nets for Weather",
    )
    (paper,) = parse_bytes("w.pdf", data)
    assert paper.title == "Graph Nets for Weather"
    assert paper.abstract is not None and paper.abstract.startswith("We forecast the weather")
    assert paper.text is not None and "ERA5 reanalysis" in paper.text


def test_pdf_title_from_first_line_without_metadata() -> None:
    (paper,) = parse_bytes("n.pdf", make_pdf(["Learning To Rank Papers\n\nBody text here. More."]))
    assert paper.title == "Learning To Rank Papers"


def test_pdf_without_text_is_rejected() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)
    with pytest.raises(BadInput, match="no extractable text"):
        parse_bytes("scan.pdf", bytes(pdf.output()))


def test_corrupt_pdf_is_rejected() -> None:
    with pytest.raises(BadInput, match="not a readable PDF"):
        parse_bytes("bad.pdf", b"%PDF-1.4\n garbage garbage")


def test_folder_expansion(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\nText a.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text('{"title": "B", "abstract": "Text b."}')
    (tmp_path / "ignored.bin").write_bytes(b"\x00")
    titles = sorted(p.title for p in load_paths([tmp_path]))
    assert titles == ["A", "B"]


def test_ids_are_stable_and_content_hash_tracks_content() -> None:
    a = Paper(title="Some  Title", abstract="x")
    b = Paper(title="some title", abstract="y")
    assert a.paper_id == b.paper_id  # same normalised title -> same id (a new version)
    assert a.content_hash != b.content_hash
    assert Paper(title="T", abstract="x", id="my-id").paper_id == "my-id"
    with pytest.raises(ValueError, match="id must be"):
        Paper(title="T", abstract="x", id="bad id!")
