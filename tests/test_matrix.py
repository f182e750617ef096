"""The literature matrix through HTTP, against the fake LLM: a background job with progress,
one LLM call per paper for all its columns, every cell an answer its quoted sentence
carries or "not reported" with the reason, limits that say what to fix, exports (CSV safe
against spreadsheet formulas), a column added later, cancellation; and /compare, now the
matrix engine's small synchronous case, weighing the papers against each other."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.answering.matrix_export import csv_cell
from service.answering.matrix_store import MadeBy
from service.answering.results import MatrixCell
from service.checks.matrix_reply import CellClaim, check_claim, parse_reply
from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.sentences import split_sentences
from service.container import Container
from service.corpus.paper import Paper
from service.generation.accounting import Usage
from service.server.app import create_app
from service.server.auth import needed_scope
from service.server.guards import is_llm_route

from .conftest import fake_llm_services
from .fake_llm import FakeLLM, reply, status

COLUMNS = ["dataset or benchmark", "does it use real robots?", "favourite colour of the cat"]


def paper_ids(client: TestClient, n: int, offset: int = 0) -> list[str]:
    papers = client.get("/papers", params={"limit": n, "offset": offset}).json()["papers"]
    return [p["id"] for p in papers]


def paper_sentences(client: TestClient, paper_id: str) -> list[str]:
    paper = client.get(f"/papers/{paper_id}").json()
    return split_sentences(" ".join(p for p in (paper["abstract"], paper["text"]) if p))


def finished(client: TestClient, matrix_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The matrix once its job has ended and no paper is being filled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/matrix/{matrix_id}").json()
        if body["status"] not in ("queued", "running") and all(
            r["status"] != "running" for r in body["rows"]
        ):
            return dict(body)
        time.sleep(0.05)
    raise TimeoutError(f"matrix {matrix_id} did not finish: {body}")


def start(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/matrix", json=body)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/matrix/{r.json()['matrix_id']}"
    return dict(r.json())


def matrix_requests(fake: FakeLLM) -> list[dict[str, Any]]:
    return [r for r in fake.requests if "response_format" in r]


def test_a_matrix_fills_every_cell_from_one_call_per_paper(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    ids = paper_ids(llm_client, 3)
    queued = start(llm_client, paper_ids=ids, columns=COLUMNS)
    assert queued["status"] in ("queued", "running") and queued["papers_total"] == 3
    body = finished(llm_client, queued["matrix_id"])
    assert body["status"] == "done" and body["papers_done"] == 3 and body["engine"] == "llm"
    assert [r["paper_id"] for r in body["rows"]] == ids and body["columns"] == COLUMNS
    # one call per paper, all its columns in it, the reply held to a schema of the columns
    calls = matrix_requests(fake_llm)
    assert len(calls) == len(fake_llm.requests) == 3 == len(fake_llm.probes)  # each after its probe
    assert body["usage"]["llm_calls"] == 6
    schema = calls[0]["response_format"]["json_schema"]["schema"]
    assert calls[0]["response_format"]["type"] == "json_schema" and schema["required"] == COLUMNS
    filled = 0
    for row in body["rows"]:
        sentences = paper_sentences(llm_client, row["paper_id"])
        assert row["status"] == "done" and set(row["cells"]) == set(COLUMNS)
        for cell in row["cells"].values():
            if cell["reported"]:
                filled += 1
                assert cell["quote"] in sentences, cell  # an exact sentence of its paper
                assert cell["answer"].lower() in cell["quote"].lower(), cell  # taken from it
                assert cell["reason"] is None
            else:
                assert (cell["answer"], cell["quote"]) == ("not reported", "") and cell["reason"], cell
        # nothing in any paper is about a cat's colour: never a guess
        cat = row["cells"]["favourite colour of the cat"]
        assert not cat["reported"] and "none of the paper's sentences" in cat["reason"]
    assert filled >= 2


def test_progress_shows_the_cells_made_so_far(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    fake_llm.delay_s = 0.3
    try:
        queued = start(llm_client, paper_ids=paper_ids(llm_client, 4, offset=3), columns=COLUMNS[:2])
        seen: set[int] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = llm_client.get(f"/matrix/{queued['matrix_id']}").json()
            seen.add(body["papers_done"])
            for row in body["rows"]:  # a finished paper has every cell; a waiting one none yet
                assert len(row["cells"]) == (2 if row["status"] == "done" else 0), row
            if body["status"] == "done":
                break
            time.sleep(0.05)
    finally:
        fake_llm.delay_s = 0.0
    assert body["status"] == "done" and body["papers_done"] == 4 and body["elapsed_s"] > 0
    assert len(seen & {1, 2, 3}) >= 2, seen  # papers were counted as they finished


def test_a_reply_that_is_not_json_or_a_guess_makes_not_reported_cells(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    columns = ["dataset or benchmark", "main result"]
    guess = {c: {"sentence": 1, "answer": "a 99% success rate on Atari games"} for c in columns}
    fake_llm.reset(reply("The dataset is ImageNet."), reply(json.dumps(guess)))
    body = finished(
        llm_client, start(llm_client, paper_ids=paper_ids(llm_client, 3), columns=columns)["matrix_id"]
    )
    first, second, third = body["rows"]
    assert first["status"] == "done" and body["status"] == "done"  # no 500, no failed job
    for cell in first["cells"].values():
        assert not cell["reported"] and "not valid JSON" in cell["reason"]
    for cell in second["cells"].values():  # sentence 1 holds neither the number nor the words
        assert not cell["reported"] and ("99%" in cell["reason"] or "Atari" in cell["reason"]), cell
    for cell in third["cells"].values():  # the fake's own reply again: a cell, or no sentence for it
        assert cell["reported"] or "none of the paper's sentences" in cell["reason"], cell


def test_a_failed_call_fails_its_paper_and_the_job_goes_on(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    fake_llm.reset(*[status(500)] * 5)  # every attempt of the first paper's call
    body = finished(
        llm_client, start(llm_client, paper_ids=paper_ids(llm_client, 3), columns=COLUMNS)["matrix_id"]
    )
    failed = [r for r in body["rows"] if r["status"] == "failed"]
    assert failed and body["rows"][-1]["status"] == "done" and body["status"] == "done"
    assert body["degraded"]
    for row in failed:
        assert "the model failed" in row["error"]
        assert all(not c["reported"] and "the model failed" in c["reason"] for c in row["cells"].values())


def test_a_query_picks_the_papers_search_finds(llm_client: TestClient) -> None:
    query = "diffusion policy for robot manipulation"
    hits = llm_client.get("/search", params={"q": query, "k": 10}).json()["results"]
    expected = list(dict.fromkeys(h["paper_id"] for h in hits))[:3]
    body = finished(llm_client, start(llm_client, query=query, top=3, columns=COLUMNS[:1])["matrix_id"])
    assert body["query"] == query and [r["paper_id"] for r in body["rows"]] == expected


@pytest.mark.parametrize(
    ("body", "status_code", "says"),
    [
        ({"paper_ids": [f"p{i}" for i in range(51)], "columns": ["dataset"]}, 400, "1 to 50 papers"),
        ({"paper_ids": "FIRST", "columns": [f"c{i}" for i in range(11)]}, 400, "1 to 10 columns"),
        ({"paper_ids": "FIRST", "columns": []}, 400, "columns is empty"),
        ({"paper_ids": "FIRST", "columns": ["dataset", " "]}, 400, "columns[1] is empty"),
        ({"paper_ids": "FIRST", "columns": ["Dataset", "dataset"]}, 400, "given twice"),
        ({"paper_ids": "FIRST", "columns": ["x" * 121]}, 400, "at most 120"),
        ({"paper_ids": ["no-such-paper"], "columns": ["dataset"]}, 404, "unknown paper ids: no-such-paper"),
        ({"paper_ids": "FIRST", "query": "robots", "columns": ["dataset"]}, 400, "not both"),
        ({"columns": ["dataset"]}, 400, "either paper_ids"),
        ({"query": "robots", "top": 51, "columns": ["dataset"]}, 400, "top=51 is out of range"),
        ({"query": "  ", "columns": ["dataset"]}, 400, "query is empty"),
        ({"paper_ids": "FIRST"}, 422, "columns: Field required"),
    ],
)
def test_bad_requests_say_what_to_fix(
    llm_client: TestClient, fake_llm: FakeLLM, body: dict[str, Any], status_code: int, says: str
) -> None:
    if body.get("paper_ids") == "FIRST":
        body = {**body, "paper_ids": paper_ids(llm_client, 1)}
    r = llm_client.post("/matrix", json=body)
    assert r.status_code == status_code and says in r.json()["error"]["message"], r.text
    assert fake_llm.requests == []  # refused before anything ran


def test_an_unknown_matrix_is_a_404(llm_client: TestClient) -> None:
    for r in (
        llm_client.get("/matrix/nope"),
        llm_client.delete("/matrix/nope"),
        llm_client.post("/matrix/nope/columns", json={"columns": ["x"]}),
    ):
        assert r.status_code == 404 and "POST /matrix" in r.json()["error"]["message"]
    assert llm_client.get("/matrix/nope?format=xls").status_code == 422


def test_exports_csv_markdown_and_json(llm_client: TestClient) -> None:
    ids = paper_ids(llm_client, 2)
    matrix = finished(llm_client, start(llm_client, paper_ids=ids, columns=COLUMNS)["matrix_id"])
    url = f"/matrix/{matrix['matrix_id']}"
    r = llm_client.get(url, params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0][:5] == ["paper", "paper_id", COLUMNS[0], f"{COLUMNS[0]} (quote)", f"{COLUMNS[0]} (where)"]
    assert len(table) == 3 and [row[1] for row in table[1:]] == ids
    by_paper = {row["paper_id"]: row for row in matrix["rows"]}
    for line in table[1:]:
        cells = by_paper[line[1]]["cells"]
        assert line[2:4] == [cells[COLUMNS[0]]["answer"], cells[COLUMNS[0]]["quote"]]
    md = llm_client.get(url, params={"format": "md"})
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith(f"| Paper | {' | '.join(COLUMNS)} |") and "Quotes:" in md.text
    assert "not reported" in md.text and re.search(r"\[1\]", md.text)
    as_json = llm_client.get(url, params={"format": "json"}).json()
    assert as_json == llm_client.get(url).json() == matrix


def test_csv_export_neutralises_formulas(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, fake_llm: FakeLLM
) -> None:
    hostile = Paper(
        title='=HYPERLINK("http://evil.example","click")',
        abstract="-2+3 is the dataset our robots learn from. @SUM(A1:A9) marks the benchmark of real robots.",
    )
    services = fake_llm_services(tmp_path, embedder, [hostile], fake_llm)
    fake_llm.reset()
    with TestClient(create_app(services.settings, Container.of(services))) as client:
        pid = paper_ids(client, 1)[0]
        matrix = finished(client, start(client, paper_ids=[pid], columns=COLUMNS[:2])["matrix_id"])
        raw = client.get(f"/matrix/{matrix['matrix_id']}", params={"format": "csv"}).text
    table = list(csv.reader(io.StringIO(raw, newline="")))
    assert table[1][0] == "'" + hostile.title
    quotes = [table[1][i] for i in (3, 6)]
    assert any(q.startswith(("'-2+3", "'@SUM")) for q in quotes), table  # a formula-led quote, defused
    assert all(not cell or cell[0] not in "=+-@\t\r" for row in table for cell in row)
    for text in ("=1+1", "+1", "-1", "@x", "\t=1", "\r=1", "  =1", "\uff1d1"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("a plain, safe sentence") == "a plain, safe sentence"


def test_add_a_column_fills_only_that_column(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    ids = paper_ids(llm_client, 2, offset=6)
    matrix = finished(llm_client, start(llm_client, paper_ids=ids, columns=COLUMNS[:1])["matrix_id"])
    url = f"/matrix/{matrix['matrix_id']}"
    fake_llm.reset()
    r = llm_client.post(f"{url}/columns", json={"columns": ["main result"]})
    assert r.status_code == 202 and r.json()["columns"] == [COLUMNS[0], "main result"]
    again = llm_client.post(f"{url}/columns", json={"columns": ["anything else"]})
    more = finished(llm_client, matrix["matrix_id"])
    assert again.status_code in (202, 400)  # refused while running, or queued after it
    if again.status_code == 400:
        assert "still being filled" in again.json()["error"]["message"]
    calls = matrix_requests(fake_llm)
    assert calls and all(
        c["response_format"]["json_schema"]["schema"]["required"] in (["main result"], ["anything else"])
        for c in calls
    )
    assert len(calls) == 2 * (1 + (again.status_code == 202))  # one call per paper for the new column
    for before, after in zip(matrix["rows"], more["rows"], strict=True):
        assert after["cells"][COLUMNS[0]] == before["cells"][COLUMNS[0]]  # kept, not redone
        assert "main result" in after["cells"]
    dup = llm_client.post(f"{url}/columns", json={"columns": [COLUMNS[0].upper()]})
    assert dup.status_code == 400 and "given twice" in dup.json()["error"]["message"]


def test_cancel_skips_the_papers_not_started(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    fake_llm.delay_s = 0.3
    try:
        queued = start(llm_client, paper_ids=paper_ids(llm_client, 5, offset=10), columns=COLUMNS[:1])
        time.sleep(0.1)
        r = llm_client.delete(f"/matrix/{queued['matrix_id']}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        body = finished(llm_client, queued["matrix_id"])
    finally:
        fake_llm.delay_s = 0.0
    assert body["status"] == "cancelled"
    assert sum(r["status"] == "cancelled" for r in body["rows"]) >= 3
    assert len(matrix_requests(fake_llm)) <= 2


def test_without_an_llm_each_cell_is_its_best_sentence(sample_client: TestClient) -> None:
    ids = paper_ids(sample_client, 2)
    body = finished(
        sample_client, start(sample_client, paper_ids=ids, columns=["approach", "key result"])["matrix_id"]
    )
    assert body["engine"] == "extractive" and not body["degraded"] and body["usage"]["llm_calls"] == 0
    for row in body["rows"]:
        sentences = paper_sentences(sample_client, row["paper_id"])
        assert all(c["quote"] in sentences for c in row["cells"].values() if c["reported"])
        assert row["cells"]["approach"]["reported"]


def test_compare_llm_cells_are_the_matrix_engines_one_call_per_paper(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, sample_papers: list[Paper], fake_llm: FakeLLM
) -> None:
    services = fake_llm_services(tmp_path, embedder, sample_papers[:3], fake_llm, compare_cells="llm")
    fake_llm.reset()
    with TestClient(create_app(services.settings, Container.of(services))) as client:
        ids = paper_ids(client, 3)
        body = client.post("/compare", json={"paper_ids": ids, "aspects": ["approach", "dataset"]}).json()
    calls = matrix_requests(fake_llm)
    assert len(calls) == len(ids) == len(fake_llm.requests)  # one JSON call per paper, no summary call
    assert body["usage"]["llm_calls"] == 2 * len(ids)  # each after its known-answer probe
    for row in body["rows"]:
        for cell in row["cells"].values():
            assert cell["text"] == "not stated" or cell["text"].lower() in cell["quote"].lower()


# --- the checks on one cell, without a server ---------------------------------------------------
SENTENCES = [
    "CARP delivers 10x faster inference compared to state-of-the-art policies.",
    "We evaluate on real-world robot tasks and in simulation.",
]


@pytest.mark.parametrize(
    ("column", "claim", "answer", "reason"),
    [
        ("speed", CellClaim(sentence=1, answer="10x faster inference"), "10x faster inference", None),
        ("speed", CellClaim(sentence=1, answer="20x faster inference"), "not reported", "number(s) 20x"),
        (
            "speed",
            CellClaim(sentence=1, answer="faster than diffusion transformers"),
            "not reported",
            "words",
        ),
        ("speed", CellClaim(sentence=0, answer="10x"), "not reported", "none of the paper's"),
        ("speed", CellClaim(sentence=3, answer="10x"), "not reported", "not shown"),
        ("speed", CellClaim(sentence=1, answer="Not reported."), "not reported", "none of the paper's"),
        (
            "compared with",
            CellClaim(sentence=1, answer="state of the art policies"),
            "state of the art policies",
            None,
        ),
        (
            "does it use real robots?",
            CellClaim(sentence=2, answer="Yes, real-world robot tasks"),
            "yes, real-world robot tasks",
            None,
        ),
        ("does it use real robots?", CellClaim(sentence=2, answer="no"), "no", None),
        ("dataset", CellClaim(sentence=2, answer="yes"), "not reported", "says nothing"),
    ],
)
def test_a_cell_stands_only_on_its_sentence(
    column: str, claim: CellClaim, answer: str, reason: str | None
) -> None:
    verdict = check_claim(column, claim, SENTENCES)
    assert verdict.answer == answer
    assert (verdict.reason is None) if reason is None else (reason in (verdict.reason or "")), verdict


def test_replies_are_read_by_column_and_anything_else_is_a_reason() -> None:
    columns = ["dataset", "Model size"]
    claims = parse_reply(
        '```json\n{"dataset": {"sentence": 2, "answer": "MuJoCo"}, "model size": 3}\n```', columns
    )
    assert isinstance(claims, dict) and claims == {"dataset": CellClaim(sentence=2, answer="MuJoCo")}
    assert "not valid JSON" in str(parse_reply("{'dataset': 1", columns))
    assert "not an object" in str(parse_reply("[1, 2]", columns))
    assert (
        check_claim("model size", None, SENTENCES).reason == "the model's reply has no entry for this column"
    )


def test_a_read_key_may_build_a_matrix_and_it_counts_as_an_llm_request() -> None:
    for method, path in (("POST", "/matrix"), ("POST", "/matrix/abc/columns"), ("DELETE", "/matrix/abc")):
        assert needed_scope(method, path, refresh=False) == "read"
    assert needed_scope("GET", "/matrix/abc", refresh=False) == "read"
    assert is_llm_route("POST", "/matrix") and is_llm_route("POST", "/matrix/abc/columns")
    assert not is_llm_route("GET", "/matrix/abc")


def test_a_matrix_left_running_by_a_restart_is_resumed_where_it_stopped(
    tmp_path: Path, embedder: OnnxMiniLMEmbedder, sample_papers: list[Paper], fake_llm: FakeLLM
) -> None:
    services = fake_llm_services(tmp_path, embedder, sample_papers[:3], fake_llm)
    store = services.matrix.store
    papers = [(p.id, p.title) for p in services.store.papers.page(0, 10)]
    store.create("older", None, COLUMNS[:1], papers[:1])
    store.cancel("older")
    # what a process killed after its first paper leaves behind
    store.create("left-over", None, COLUMNS[:1], papers)
    store.set_status("left-over", "running")
    made = MadeBy(Usage(llm_calls=1, prompt_tokens=1, completion_tokens=1), "llm", False, "m", "v")
    first = MatrixCell(answer="kept", quote="Kept.", reported=True)
    store.row_done("left-over", 0, {COLUMNS[0]: first}, made)
    fake_llm.reset()
    services.matrix.resume()  # what the container does at start-up
    with TestClient(create_app(services.settings, Container.of(services))) as client:
        body = finished(client, "left-over")
    assert body["status"] == "done" and body["papers_done"] == 3
    assert body["rows"][0]["cells"][COLUMNS[0]]["answer"] == "kept"  # not redone
    assert len(fake_llm.requests) == 2 and body["usage"]["llm_calls"] == 1 + 2 * 2  # 2 new, each probed
    store.prune(1)  # the newest finished matrices are kept, older ones go
    assert store.status_of("older") is None and store.status_of("left-over") == "done"


def test_a_whole_papers_abstract_is_in_reach_of_every_column(
    pdf_client: TestClient, fake_llm: FakeLLM
) -> None:
    """A whole paper's columns are filled from its abstract as well as its body: the authors'
    own summary names what was studied, where search within the paper finds methods text."""
    fake_llm.reset()
    pid = pdf_client.get("/papers").json()["papers"][0]["id"]
    abstract = split_sentences(pdf_client.get(f"/papers/{pid}").json()["abstract"])
    queued = start(pdf_client, paper_ids=[pid], columns=["organism or cell type studied"])
    assert finished(pdf_client, queued["matrix_id"])["status"] == "done"
    prompt = matrix_requests(fake_llm)[0]["messages"][-1]["content"]
    shown = [s for s in abstract if s in prompt]
    assert len(shown) >= 2, prompt
