"""The PDF viewer on the workspace page, in a real headless Chromium (Debian's package,
through Playwright) against a running server: a real PDF uploaded through the page, a
question whose answer cites it, and the citation opening the PDF (pdf.js, vendored under
static/vendor/pdfjs/) at the cited page with the quoted sentence highlighted, under the
server's Content-Security-Policy (a violation fails the test) and with pdf.js's worker
running (not its in-page fallback). A source whose paper has no PDF still shows its
passage. The screenshot goes to tests/screenshots/pdf-viewer.png."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.container import Container, build_services
from service.corpus.paper import Paper
from service.server.app import create_app

from .conftest import PDF, make_settings, serving

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"
QUESTION = "Which A. lwoffii strains failed to grow in human serum?"  # answered on page 13

if not Path(CHROMIUM).exists():  # pragma: no cover - CI installs it (.ci/run)
    pytest.skip(
        "browser tests need Debian's chromium: apt-get install chromium (CI installs it)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI}`));
"""


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, embedder: OnnxMiniLMEmbedder, sample_papers: list[Paper]
) -> Iterator[str]:
    """No LLM: answers are extractive, each an exact sentence of a paper with its page."""
    services = build_services(make_settings(tmp_path_factory.mktemp("viewer")), embedder=embedder)
    services.ingest.ingest(sample_papers[:3])  # abstracts from a listing: no file
    with serving(create_app(services.settings, Container.of(services))) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH_CSP)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if "Content Security Policy" in m.text or "fake worker" in m.text.lower()
            else None
        ),
    )
    pg.goto(server)
    expect(pg.locator("#papers li").first).to_be_visible()
    yield pg
    problems += pg.evaluate("window.__violations")
    context.close()
    assert not problems, problems


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_a_citation_opens_the_pdf_at_its_page_with_the_quote_highlighted(page: Page) -> None:
    page.set_input_files("#file-input", str(PDF))
    expect(page.locator("#uploads li", has_text=PDF.name)).to_contain_text("indexed", timeout=240_000)
    expect(page.locator("#papers li", has_text="Differential development")).to_be_visible()

    page.fill("#question", QUESTION)
    page.keyboard.press("Enter")
    answer = page.locator("#conversation li.assistant").last
    source = answer.locator(".sources li").first
    expect(source).to_contain_text("p. ", timeout=60_000)
    cited = re.search(r"p\. (\d+)", source.inner_text())
    assert cited, source.inner_text()
    cited_page = cited.group(1)
    answer.locator(".answer-text a.cite").first.click()

    viewer = page.locator("#pdf-dialog")
    expect(viewer).to_be_visible()
    expect(viewer).to_have_attribute("data-rendered", "true", timeout=60_000)
    expect(viewer).to_have_attribute("data-page", cited_page)
    expect(viewer.locator(".pdf-pages")).to_have_text(re.compile(rf"^page {cited_page} of \d+$"))
    expect(viewer.locator(".pdf-status")).to_have_text(
        f"The quoted sentence is highlighted on page {cited_page}."
    )
    expect(page.locator("#quote-dialog")).to_be_hidden()
    assert [w.url for w in page.workers if w.url.endswith("/app/vendor/pdfjs/pdf.worker.min.mjs")]

    marks = viewer.locator(".textLayer mark.hit")
    expect(marks.first).to_be_visible()
    quote = viewer.locator(".pdf-quote").inner_text()  # the citation's quote, shown under the page
    assert len(words(quote).split()) >= 6, quote
    assert words(quote) in words(" ".join(marks.all_text_contents()))
    # the page was drawn (not a blank canvas), and the marks sit on it
    inked = page.evaluate(
        """() => {
          const c = document.querySelector('#pdf-dialog canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++;
          return n;
        }"""
    )
    assert inked > 5000, inked
    canvas = viewer.locator("canvas").bounding_box()
    first = marks.first.bounding_box()
    assert canvas and first
    assert canvas["x"] <= first["x"] < canvas["x"] + canvas["width"]
    assert canvas["y"] <= first["y"] < canvas["y"] + canvas["height"]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "pdf-viewer.png"))

    viewer.locator(".pdf-next").click()
    expect(viewer).to_have_attribute("data-page", str(int(cited_page) + 1))
    expect(viewer).to_have_attribute("data-rendered", "true", timeout=30_000)
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()


def test_a_source_without_a_pdf_shows_its_passage(page: Page) -> None:
    page.fill("#question", "What does CARP decouple action generation into?")
    page.keyboard.press("Enter")
    answer = page.locator("#conversation li.assistant").last
    expect(answer.locator("a.cite").first).to_be_visible(timeout=60_000)
    answer.locator(".answer-text a.cite").first.click()
    expect(page.locator("#quote-dialog")).to_be_visible()
    expect(page.locator("#quote-title")).to_contain_text("CARP")
    expect(page.locator("#quote-text")).not_to_be_empty()
    assert page.locator("#pdf-dialog").count() == 0  # the viewer was never opened
