"""The summary on the workspace page, in a real headless Chromium against a running server
behind the fake LLM: every sentence carries the [n] of the sentences of the paper it rests
on, the sources are listed under it with their page and section, and a source opens where
it is: a whole paper's PDF at the cited page (the viewer, static/viewer.js), an abstract's
passage in the quote dialog. All under the server's Content-Security-Policy. The
screenshot goes to tests/screenshots/summary.png."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.container import Container
from service.corpus.paper import Paper
from service.server.app import create_app

from .conftest import PDF, fake_llm_services, serving
from .fake_llm import FakeLLM

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"

if not Path(CHROMIUM).exists():  # pragma: no cover - CI installs it (.ci/run)
    pytest.skip(
        "browser tests need Debian's chromium: apt-get install chromium (CI installs it)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: OnnxMiniLMEmbedder,
    sample_papers: list[Paper],
    fake_llm: FakeLLM,
) -> Iterator[str]:
    services = fake_llm_services(
        tmp_path_factory.mktemp("summary-page"), embedder, sample_papers[:3], fake_llm
    )
    with serving(create_app(services.settings, Container.of(services))) as base:
        r = httpx.post(
            f"{base}/papers/upload",
            params={"wait": "true"},
            files=[("files", (PDF.name, PDF.read_bytes(), "application/pdf"))],
            timeout=600,
        )
        assert r.status_code == 201, r.text
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, server: str, fake_llm: FakeLLM) -> Iterator[Page]:
    fake_llm.reset()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    pg.goto(server)
    expect(pg.locator("#papers li").first).to_be_visible()
    yield pg
    context.close()
    assert not problems, problems


def open_summary(page: Page, title_start: str) -> None:
    page.locator("#papers li", has_text=title_start).get_by_role("button", name="Summary").click()
    expect(page.locator("#summary-title")).to_contain_text(title_start)
    expect(page.locator("#summary-sources li").first).to_be_visible(timeout=60_000)


def test_a_pdf_summary_lists_its_sources_and_one_opens_the_pdf_at_its_page(page: Page) -> None:
    open_summary(page, "Differential development")
    text = page.locator("#summary-text")
    expect(text.locator("a.cite").first).to_be_visible()
    sources = page.locator("#summary-sources li")
    assert sources.count() >= 2
    for item in sources.all():  # every source says where it is
        assert re.search(r".+ p\. \d+ · \S", item.inner_text()), item.inner_text()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "summary.png"))
    cited_page = re.search(r"p\. (\d+)", sources.first.inner_text())
    assert cited_page
    text.locator("a.cite").first.click()  # the first sentence's first source
    viewer = page.locator("#pdf-dialog")
    expect(viewer).to_be_visible()
    expect(viewer).to_have_attribute("data-rendered", "true", timeout=60_000)
    expect(viewer).to_have_attribute("data-page", cited_page.group(1))
    expect(page.locator("#quote-dialog")).to_be_hidden()
    page.keyboard.press("Escape")


def test_an_abstracts_summary_source_shows_its_passage(page: Page) -> None:
    open_summary(page, "CARP")
    first = page.locator("#summary-sources li a").first
    quote = first.inner_text()
    first.click()
    expect(page.locator("#quote-dialog")).to_be_visible()
    expect(page.locator("#quote-text")).to_have_text(quote)
    assert page.locator("#pdf-dialog").count() == 0  # no PDF: the viewer never opened
