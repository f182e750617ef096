"""Bad input gets a 4xx with a message that says what to fix, and loses nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.container import Container, Services
from service.server.app import create_app

from .conftest import make_settings
from .test_parsers import make_pdf

GOOD = {"title": "Good Paper", "abstract": "A fine abstract. Really."}


def assert_error(r: object, status: int, fragment: str) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    err = r.json()["error"]  # type: ignore[attr-defined]
    assert set(err) == {"code", "message", "type", "param"}  # paperlens and OpenAI clients read it
    assert fragment in err["message"], err["message"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"papers": [{"abstract": "no title here"}]}, 422, "papers[0].title: Field required"),
        ({"papers": [GOOD, {"title": "Empty", "abstract": "  "}]}, 422, "papers[1]: "),
        ({"papers": [{"title": "x", "abstract": "y", "year": "soon"}]}, 422, "papers[0].year"),
        ({"papers": []}, 422, "at least 1 item"),  # the schema says minItems 1
        ({"nope": 1}, 422, "papers: Field required"),
        (  # located paragraphs that are not the text's (found by the schema fuzz test: a 500)
            {"papers": [{"title": "x", "text": "Real text.", "blocks": [{"text": "Other.", "page": 1}]}]},
            422,
            "block 0 is not in 'text'",
        ),
    ],
)
def test_post_papers_validation(client: TestClient, body: object, status: int, fragment: str) -> None:
    assert_error(client.post("/papers", json=body), status, fragment)
    assert client.get("/papers").json()["total"] == 0  # nothing half-ingested


def test_invalid_json_body(client: TestClient) -> None:
    r = client.post("/papers", content=b'{"papers": [', headers={"content-type": "application/json"})
    assert_error(r, 400, "not valid JSON")


def test_too_many_papers(tmp_path: object, services: Services) -> None:
    services.settings.max_papers_per_request = 2
    with TestClient(create_app(services.settings, Container.of(services))) as c:
        assert_error(c.post("/papers", json={"papers": [GOOD] * 3}), 413, "at most 2")


@pytest.mark.parametrize(
    ("name", "data", "status", "fragment"),
    [
        ("x.docx", b"PK\x03\x04", 415, "unknown format"),
        ("x.txt", "Titel\n\nK\xe4se".encode("latin-1"), 400, "not UTF-8"),
        ("x.pdf", b"%PDF-1.4 broken", 400, "not a readable PDF"),
        ("x.json", b"[{]", 400, "invalid JSON"),
        ("x.md", b"", 400, "empty"),
    ],
)
def test_upload_errors(client: TestClient, name: str, data: bytes, status: int, fragment: str) -> None:
    assert_error(client.post("/papers/upload", files=[("files", (name, data))]), status, fragment)


def test_pdf_without_text_upload(client: TestClient) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 20, 20)
    r = client.post("/papers/upload", files=[("files", ("scan.pdf", bytes(pdf.output())))])
    assert_error(r, 400, "no extractable text")


def test_upload_over_size_limit(services: Services) -> None:
    services.settings.max_upload_bytes = 1000
    with TestClient(create_app(services.settings, Container.of(services))) as c:
        r = c.post("/papers/upload", files=[("files", ("big.txt", b"T\n\n" + b"x. " * 1000))])
        assert_error(r, 413, "1,000-byte upload limit")


def test_failed_upload_leaves_store_as_it_was(client: TestClient) -> None:
    client.post("/papers", json={"papers": [GOOD]})
    files = [
        ("files", ("ok.pdf", make_pdf(["Fresh Paper\n\nIt would be added. Yes."]))),
        ("files", ("bad.json", b'{"abstract": "no title"}')),
    ]
    assert_error(client.post("/papers/upload", files=files), 400, "bad.json[0].title")
    listing = client.get("/papers").json()
    assert [p["title"] for p in listing["papers"]] == ["Good Paper"]


def test_unknown_ids(client: TestClient) -> None:
    assert_error(client.get("/papers/nope"), 404, "no paper with id 'nope'")
    assert_error(client.delete("/papers/nope"), 404, "no paper with id 'nope'")
    assert_error(
        client.get("/search", params={"q": "x", "paper_ids": "nope,other"}),
        404,
        "unknown paper ids: nope, other",
    )


@pytest.mark.parametrize("k", [0, 51, -3])
def test_k_out_of_range(client: TestClient, k: int) -> None:
    assert_error(client.get("/search", params={"q": "policy", "k": k}), 400, "out of range: use 1 to 50")


def test_search_needs_a_query(client: TestClient) -> None:
    assert_error(client.get("/search", params={"q": "  "}), 400, "q is empty")
    assert_error(client.get("/search", params={"q": "x" * 1001}), 400, "the limit is 1000")
    assert_error(client.get("/search", params={"q": "x", "k": "many"}), 422, "k: ")


def test_not_ready_is_503_with_reason(tmp_path: object) -> None:
    import pathlib

    settings = make_settings(pathlib.Path(str(tmp_path)) / "d")
    container = Container(settings)  # never loaded
    app = create_app(settings, container)
    container.load_in_background = lambda: None  # type: ignore[method-assign]
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        assert_error(c.get("/readyz"), 503, "loading")
        assert_error(c.get("/papers"), 503, "not ready")


def test_startup_failure_is_reported_by_readyz(tmp_path: object, services: Services) -> None:
    import pathlib

    bad = make_settings(pathlib.Path(str(tmp_path)) / "d2", chroma_url="ftp://nowhere")
    container = Container(bad)
    container.load()
    with TestClient(create_app(bad, container)) as c:
        assert_error(c.get("/readyz"), 503, "PAPERLENS_CHROMA_URL")
