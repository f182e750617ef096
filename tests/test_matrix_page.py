"""The literature matrix on the workspace page, in a real headless Chromium (Debian's
package, through Playwright) against a running server behind the fake LLM: build a matrix
over ticked papers and watch it fill, open a cell's quote, add a column (only it is
filled), export CSV, Markdown and JSON, and build one from a query; under the server's
Content-Security-Policy (a violation fails the test). The screenshot goes to
tests/screenshots/matrix.png (docs/matrix.png is a copy)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.container import Container
from service.corpus.paper import Paper
from service.server.app import create_app

from .conftest import fake_llm_services, serving
from .fake_llm import FakeLLM

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"
COLUMNS = ["task or problem", "dataset or benchmark", "does it use real robots?"]

if not Path(CHROMIUM).exists():  # pragma: no cover - CI installs it (.ci/run)
    pytest.skip(
        "browser tests need Debian's chromium: apt-get install chromium (CI installs it)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: OnnxMiniLMEmbedder,
    sample_papers: list[Paper],
    fake_llm: FakeLLM,
) -> Iterator[str]:
    services = fake_llm_services(
        tmp_path_factory.mktemp("matrix-page"), embedder, sample_papers[:12], fake_llm
    )
    with serving(create_app(services.settings, Container.of(services))) as base:
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
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.extend(csp_violations([m])))
    pg.goto(server)
    expect(pg.locator("#papers li").first).to_be_visible()
    yield pg
    context.close()
    assert not errors, errors


def csp_violations(messages: list[ConsoleMessage]) -> list[str]:
    return [m.text for m in messages if "Content Security Policy" in m.text]


def tick(page: Page, title_start: str) -> None:
    page.locator("#papers li", has_text=title_start).locator("input[type=checkbox]").check()


def download(page: Page, button: str) -> str:
    with page.expect_download() as got:
        page.click(button)
    return Path(got.value.path()).read_text()


def test_build_a_matrix_open_a_quote_add_a_column_and_export(page: Page, fake_llm: FakeLLM) -> None:
    for title in ("CARP", "Streaming Diffusion Policy", "On-Policy Policy Gradient"):
        tick(page, title)
    page.fill("#matrix-columns", "\n".join(COLUMNS))
    fake_llm.delay_s = 0.3  # slow enough to see the table fill in
    try:
        page.click("#matrix-start")
        expect(page.locator("#matrix-progress")).to_contain_text("of 3 papers", timeout=10_000)
        table = page.locator("table.matrix-table")
        expect(page.locator("#matrix-progress")).to_contain_text("done: 3 of 3 papers", timeout=30_000)
    finally:
        fake_llm.delay_s = 0.0
    expect(table.locator("thead th")).to_have_count(1 + len(COLUMNS))
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("td.empty").first).to_have_text("not reported")  # a column a paper does not answer
    assert len(fake_llm.requests) == 3  # one call per paper
    # a cell opens its quote: the paper's sentence the answer was taken from
    cell = table.locator("td a.cite").first
    answer = cell.inner_text()
    cell.click()
    expect(page.locator("#quote-dialog")).to_be_visible()
    quote = page.locator("#quote-text").inner_text()
    assert answer.lower() in quote.lower(), (answer, quote)
    page.click("#quote-close")

    fake_llm.reset()
    page.fill("#matrix-new-column", "inference speed")
    page.click("#matrix-add")
    expect(table.locator("thead th")).to_have_count(2 + len(COLUMNS), timeout=10_000)
    expect(page.locator("#matrix-progress")).to_contain_text("done: 3 of 3 papers", timeout=30_000)
    assert len(fake_llm.requests) == 3
    assert all(
        r["response_format"]["json_schema"]["schema"]["required"] == ["inference speed"]
        for r in fake_llm.requests
    )
    expect(table.locator("tbody tr").first.locator("td")).to_have_count(1 + len(COLUMNS))
    SHOTS.mkdir(exist_ok=True)
    page.locator("#matrix-section").screenshot(path=str(SHOTS / "matrix.png"))

    rows = list(csv.reader(io.StringIO(download(page, "#matrix-export-csv"))))
    assert rows[0][:3] == ["paper", "paper_id", COLUMNS[0]] and "inference speed (quote)" in rows[0]
    assert len(rows) == 4 and any(r[0].startswith("CARP") for r in rows[1:])
    md = download(page, "#matrix-export-md")
    assert md.startswith(f"| Paper | {' | '.join([*COLUMNS, 'inference speed'])} |") and "Quotes:" in md
    data = json.loads(download(page, "#matrix-export-json"))
    assert data["columns"] == [*COLUMNS, "inference speed"] and len(data["rows"]) == 3


def test_a_matrix_from_a_query(page: Page) -> None:
    page.check("#matrix-from-query")
    page.fill("#matrix-top", "2")
    page.fill("#matrix-query", "diffusion policies for robot manipulation")
    page.fill("#matrix-columns", "dataset or benchmark")
    page.click("#matrix-start")
    expect(page.locator("#matrix-progress")).to_contain_text("done: 2 of 2 papers", timeout=30_000)
    expect(page.locator("table.matrix-table tbody tr")).to_have_count(2)


def test_a_bad_matrix_request_says_what_to_fix(page: Page) -> None:
    page.fill("#matrix-columns", "\n".join(f"column {i}" for i in range(11)))
    tick(page, "CARP")
    page.click("#matrix-start")
    expect(page.locator("#matrix-progress")).to_contain_text("1 to 10 columns")
