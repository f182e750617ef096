"""The workspace page, driven in a real headless Chromium (Debian's package, through
Playwright) against a running server: upload and see the paper listed, ask and open a
citation, ask a follow-up, open a summary, build and export a comparison, delete with
confirmation, keyboard use and a phone-width layout, all under the server's
Content-Security-Policy (a violation fails the test). Also: the API key stays in the tab
unless remembered, an ingest job is polled only until it ends, a CSV export cannot carry a
spreadsheet formula, and the API page (/docs) works under its CSP. Screenshots go to
tests/screenshots/.
"""

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

if not Path(CHROMIUM).exists():  # pragma: no cover - CI installs it (.ci/run)
    pytest.skip(
        "browser tests need Debian's chromium: apt-get install chromium (CI installs it)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect, sync_playwright  # noqa: E402

NOTE = b"""# GlowNet: Fast Glow Detection for Night Photos

GlowNet is a small convolutional network that finds lens glow in night photographs.
It runs at 240 frames per second on a laptop CPU and needs no GPU.
On the NightGlow benchmark GlowNet reaches 91 percent precision.
"""


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: OnnxMiniLMEmbedder,
    sample_papers: list[Paper],
    fake_llm: FakeLLM,
) -> Iterator[str]:
    services = fake_llm_services(tmp_path_factory.mktemp("page"), embedder, sample_papers[:12], fake_llm)
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


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def tick(page: Page, title_start: str) -> None:
    page.locator("#papers li", has_text=title_start).locator("input[type=checkbox]").check()


def test_upload_a_file_and_see_it_listed(page: Page, tmp_path: Path) -> None:
    note = tmp_path / "glownet.md"
    note.write_bytes(NOTE)
    page.set_input_files("#file-input", str(note))
    expect(page.locator("#uploads li", has_text="glownet.md")).to_contain_text("indexed", timeout=30_000)
    expect(page.locator("#papers li", has_text="GlowNet")).to_be_visible()
    bad = tmp_path / "notes.xyz"
    bad.write_bytes(b"\x00\x01 not a paper")
    page.set_input_files("#file-input", str(bad))
    expect(page.locator("#uploads li", has_text="notes.xyz")).to_contain_text(
        "failed: notes.xyz: unknown format"
    )


def test_ask_then_open_a_citation_then_a_follow_up(page: Page) -> None:
    page.fill("#question", "What does CARP decouple action generation into?")
    page.keyboard.press("Enter")  # Enter asks (Shift+Enter is a new line)
    answer = page.locator("#conversation li.assistant").last
    expect(answer.locator("a.cite").first).to_be_visible(timeout=30_000)
    answer.locator(".answer-text a.cite").first.click()
    dialog = page.locator("#quote-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#quote-title")).to_contain_text("CARP")
    expect(page.locator("#quote-text")).not_to_be_empty()
    shot(page, "citation")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.fill("#question", "and how much faster is its inference?")
    page.click("#ask-button")
    follow = page.locator("#conversation li.assistant").nth(1)
    expect(follow.locator(".asked")).to_have_text(
        "Answered as: And how much faster is CARP's inference?", timeout=30_000
    )
    expect(follow.locator(".answer-text")).to_contain_text("10x")
    shot(page, "workspace")


def test_a_library_question_is_shown_as_a_list_of_papers_with_quotes(page: Page) -> None:
    page.fill("#question", "Which papers in my library use diffusion models to generate robot actions?")
    page.click("#ask-button")
    found = page.locator("#conversation li.assistant .papers-found li")
    expect(found.first).to_be_visible(timeout=30_000)
    assert found.count() >= 2
    for i in range(found.count()):  # each paper: its title (opens the quote) and the quote itself
        expect(found.nth(i).locator("blockquote")).not_to_be_empty()
        expect(found.nth(i)).to_contain_text("match ")
    found.first.locator("a.cite").click()
    expect(page.locator("#quote-dialog")).to_be_visible()
    expect(page.locator("#quote-text")).to_have_text(found.first.locator("blockquote").inner_text())
    shot(page, "library-answer")
    page.keyboard.press("Escape")


def test_an_unanswerable_question_is_shown_as_such(page: Page) -> None:
    page.fill("#question", "Who won the football world cup in 1954?")
    page.click("#ask-button")
    expect(page.locator("#conversation .badge.abstained")).to_be_visible(timeout=30_000)


def test_open_a_summary(page: Page) -> None:
    page.locator("#papers li", has_text="CARP").get_by_role("button", name="Summary").click()
    expect(page.locator("#summary-title")).to_contain_text("CARP")
    expect(page.locator("#summary-text")).not_to_have_text("Writing the summary…", timeout=30_000)
    expect(page.locator("#summary-text")).to_contain_text("authors")


def test_build_and_export_a_comparison(page: Page) -> None:
    tick(page, "CARP")
    tick(page, "Streaming Diffusion Policy")
    page.fill("#aspects", "problem, key result")
    page.click("#compare-button")
    table = page.locator("table.compare-table")
    expect(table).to_be_visible(timeout=30_000)
    expect(table.locator("thead th")).to_have_count(3)
    expect(table.locator("tbody tr")).to_have_count(2)
    table.locator("a.cite").first.click()
    expect(page.locator("#quote-dialog")).to_be_visible()
    page.click("#quote-close")
    shot(page, "compare")
    with page.expect_download() as got:
        page.click("#export-csv")
    rows = list(csv.reader(io.StringIO(Path(got.value.path()).read_text())))
    assert rows[0] == ["paper", "problem", "problem (quote)", "key result", "key result (quote)"]
    assert len(rows) == 3 and any(r[0].startswith("CARP") for r in rows[1:])
    with page.expect_download() as got:
        page.click("#export-md")
    md = Path(got.value.path()).read_text()
    assert md.startswith("| Aspect | ") and "| problem |" in md and "Quotes:" in md


def test_delete_asks_for_confirmation(page: Page, tmp_path: Path) -> None:
    note = tmp_path / "doomed.md"
    note.write_bytes(
        b"# Doomed Paper About Nothing\n\nThis paper studies nothing at all, in depth, for testing.\n"
    )
    page.set_input_files("#file-input", str(note))
    row = page.locator("#papers li", has_text="Doomed Paper")
    expect(row).to_be_visible(timeout=30_000)
    page.once("dialog", lambda d: d.dismiss())  # "Cancel" keeps it
    row.get_by_role("button", name="Delete").click()
    expect(row).to_be_visible()
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)


def test_readable_at_phone_width(browser: Browser, server: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    pg = context.new_page()
    pg.goto(server)
    expect(pg.locator("#papers li").first).to_be_visible()
    overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    for field in ("#question", "#search-q", "#aspects", "#scope"):  # every field has a label
        label = pg.evaluate(f"document.querySelector('{field}').labels.length")
        assert label >= 1, field
    shot(pg, "phone")
    context.close()


def test_the_api_page_works_under_its_csp(browser: Browser, server: str) -> None:
    context = browser.new_context()
    pg = context.new_page()
    messages: list[ConsoleMessage] = []
    pg.on("console", lambda m: messages.append(m))
    response = pg.goto(f"{server}/docs")
    assert (
        response is not None and "script-src 'self' 'sha256-" in response.headers["content-security-policy"]
    )
    expect(pg.locator(".opblock").first).to_be_visible(timeout=30_000)  # the spec loaded and rendered
    expect(pg.locator(".opblock-summary-path", has_text="/ask").first).to_be_visible()
    assert not csp_violations(messages), csp_violations(messages)
    context.close()


def test_the_key_stays_in_the_tab_unless_remembered(browser: Browser, server: str) -> None:
    context = browser.new_context()
    pg = context.new_page()
    pg.goto(server)
    stored = "[sessionStorage.getItem('paperlens-key'), localStorage.getItem('paperlens-key')]"
    pg.locator("details.key summary").click()
    expect(pg.locator("#remember-key")).not_to_be_checked()  # session-only by default
    pg.fill("#api-key", "pl_tab_only")
    pg.locator("#api-key").press("Enter")
    pg.locator("#api-key").blur()
    assert pg.evaluate(stored) == ["pl_tab_only", None]
    other = context.new_page()  # another tab: the key is not there
    other.goto(server)
    assert other.evaluate(stored) == [None, None] and other.input_value("#api-key") == ""
    other.close()

    pg.check("#remember-key")
    assert pg.evaluate(stored) == [None, "pl_tab_only"]
    other = context.new_page()  # remembered: a new tab has it
    other.goto(server)
    assert other.input_value("#api-key") == "pl_tab_only" and other.is_checked("#remember-key")
    other.locator("details.key summary").click()
    other.uncheck("#remember-key")  # forgotten on this device again
    assert other.evaluate(stored) == ["pl_tab_only", None]
    other.close()
    assert pg.evaluate("localStorage.getItem('paperlens-key')") is None
    context.close()


def job_body(job_id: str, status: str) -> str:
    file: dict[str, object] = {
        "name": "slow.md",
        "status": status,
        "paper_id": None,
        "paper_ids": [],
        "chunks": 0,
        "error": None,
    }
    return json.dumps(
        {
            "job_id": job_id,
            "status": status,
            "status_url": f"/jobs/{job_id}",
            "files": [file],
            "papers_done": 0,
            "papers_total": 1,
            "chunks_done": 0,
        }
    )


@pytest.mark.parametrize(
    ("ending", "shown"),
    [
        ("cancelled", "cancelled"),
        ("failed", "failed"),
        ("404", "failed: the ingest job is gone"),
        ("401", "failed: this API key is not valid"),
    ],
)
def test_a_job_is_polled_only_until_it_ends(page: Page, tmp_path: Path, ending: str, shown: str) -> None:
    job_id = f"job-{ending}"
    polls: list[str] = []

    def upload(route: Route) -> None:
        route.fulfill(status=202, content_type="application/json", body=job_body(job_id, "queued"))

    def job(route: Route) -> None:
        polls.append(route.request.url)
        if len(polls) == 1:  # still running at the first look
            route.fulfill(status=200, content_type="application/json", body=job_body(job_id, "running"))
        elif ending.isdigit():
            message = "no job" if ending == "404" else "this API key is not valid (revoked, or never issued)"
            body = json.dumps({"error": {"code": "x", "message": message, "type": "x", "param": None}})
            route.fulfill(status=int(ending), content_type="application/json", body=body)
        else:
            route.fulfill(status=200, content_type="application/json", body=job_body(job_id, ending))

    page.route("**/papers/upload?wait=false", upload)
    page.route(f"**/jobs/{job_id}", job)
    note = tmp_path / "slow.md"
    note.write_bytes(NOTE)
    page.set_input_files("#file-input", str(note))
    expect(page.locator("#uploads li", has_text="slow.md")).to_contain_text(shown, timeout=10_000)
    page.wait_for_timeout(3000)  # several poll intervals: no further request
    assert len(polls) == 2, polls


def test_csv_export_neutralises_formulas(page: Page) -> None:
    hostile = {
        "problem": '=HYPERLINK("http://evil.example","click")',
        "approach": "+1+cmd|' /C calc'!A0",
        "key result": "-2+3",
        "limitations": "@SUM(A1:A9)",
        "data": "\t=1+1",
        "code": "\r=1+1",
        "plain": "A plain, safe sentence.",
    }
    aspects = list(hostile)
    rows = [
        {
            "paper_id": pid,
            "title": title,
            "cells": {
                a: {"text": text, "quote": text, "page": None, "section": None} for a, text in hostile.items()
            },
        }
        for pid, title in (("p1", "=cmd|' /C calc'!A0"), ("p2", "Safe Title"))
    ]
    body = {
        "aspects": aspects,
        "rows": rows,
        "summary": "",
        "engine": "extractive",
        "degraded": False,
        "model": "x",
        "prompt_version": "x",
        "usage": {},
        "timings_ms": {},
    }
    page.route(
        "**/compare",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(body)),
    )
    page.locator("#papers input[type=checkbox]").nth(0).check()
    page.locator("#papers input[type=checkbox]").nth(1).check()
    page.click("#compare-button")
    expect(page.locator("table.compare-table")).to_be_visible()
    with page.expect_download() as got:
        page.click("#export-csv")
    raw = Path(got.value.path()).read_bytes().decode()  # keeps a \r inside a cell
    table = list(csv.reader(io.StringIO(raw, newline="")))
    assert table[1][0] == "'=cmd|' /C calc'!A0" and table[2][0] == "Safe Title"
    cells = dict(zip(table[0], table[1], strict=True))
    for aspect, text in hostile.items():
        expected = text if aspect == "plain" else "'" + text
        assert cells[aspect] == expected and cells[f"{aspect} (quote)"] == expected, aspect
    assert all(not cell or cell[0] not in "=+-@\t\r" for row in table for cell in row)
