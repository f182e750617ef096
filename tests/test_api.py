"""The fixed HTTP contract, through FastAPI's test client."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from .test_parsers import make_pdf

PAPER = {
    "title": "Retrieval-Augmented Generation for Chemistry",
    "abstract": "We retrieve reaction records to ground a language model. Yields improve.",
    "year": 2024,
    "url": "https://example.org/rag-chem",
    "authors": ["Ada Lovelace", "Alan Turing"],
}


def test_post_list_get_delete_roundtrip(client: TestClient) -> None:
    r = client.post("/papers", json={"papers": [PAPER]})
    assert r.status_code == 201
    body = r.json()
    assert body["unchanged"] == [] and body["replaced"] == [] and len(body["added"]) == 1
    pid = body["added"][0]

    again = client.post("/papers", json={"papers": [PAPER]}).json()
    assert again == {"added": [], "unchanged": [pid], "replaced": []}
    changed = client.post("/papers", json={"papers": [{**PAPER, "abstract": "New. Text."}]})
    assert changed.json()["replaced"] == [pid]

    listing = client.get("/papers", params={"offset": 0, "limit": 50}).json()
    assert listing["total"] == 1
    assert listing["papers"] == [
        {
            "id": pid,
            "title": PAPER["title"],
            "year": 2024,
            "url": PAPER["url"],
            "n_chunks": 1,
            "has_file": False,  # JSON ingest keeps no original file
            "file_type": None,
        }
    ]
    one = client.get(f"/papers/{pid}").json()
    assert one["abstract"] == "New. Text." and one["authors"] == PAPER["authors"]

    assert client.delete(f"/papers/{pid}").status_code == 204
    assert client.get(f"/papers/{pid}").status_code == 404
    assert client.get("/papers").json()["total"] == 0
    assert client.get("/search", params={"q": "reaction records"}).json() == {"results": []}


def test_upload_several_formats(client: TestClient) -> None:
    files = [
        (
            "files",
            ("a.md", b"# Markdown Paper\n\nIt studies markdown parsing. Well.", "text/markdown"),
        ),
        ("files", ("b.jsonl", json.dumps(PAPER).encode(), "application/json")),
        (
            "files",
            (
                "c.pdf",
                make_pdf(["PDF Paper Title\n\nPDFs contain text. Really."]),
                "application/pdf",
            ),
        ),
    ]
    r = client.post("/papers/upload", files=files)
    assert r.status_code == 201, r.text
    assert len(r.json()["added"]) == 3
    titles = sorted(str(p["title"]) for p in client.get("/papers").json()["papers"])
    assert titles == sorted(["Markdown Paper", str(PAPER["title"]), "PDF Paper Title"])


def test_pagination(client: TestClient) -> None:
    papers = [{"title": f"Paper number {i}", "abstract": f"Abstract {i}. Done."} for i in range(7)]
    client.post("/papers", json={"papers": papers})
    page1 = client.get("/papers", params={"limit": 3}).json()
    page3 = client.get("/papers", params={"offset": 6, "limit": 3}).json()
    assert page1["total"] == 7 and len(page1["papers"]) == 3 and len(page3["papers"]) == 1
    seen = {
        p["id"]
        for off in (0, 3, 6)
        for p in client.get("/papers", params={"offset": off, "limit": 3}).json()["papers"]
    }
    assert len(seen) == 7


def test_search_contract(sample_client: TestClient) -> None:
    r = sample_client.get("/search", params={"q": "autoregressive robot policy, coarse to fine", "k": 3})
    assert r.status_code == 200
    results = r.json()["results"]
    assert len(results) == 3
    assert set(results[0]) == {"paper_id", "title", "chunk_id", "text", "score", "page", "section"}
    assert results[0]["page"] is None and results[0]["section"] is None  # abstracts have no pages
    assert results[0]["title"].startswith("CARP")
    assert results[0]["score"] >= results[1]["score"] >= results[2]["score"]
    pid = results[1]["paper_id"]
    only = sample_client.get("/search", params={"q": "policy", "k": 5, "paper_ids": pid}).json()
    assert {h["paper_id"] for h in only["results"]} == {pid}


def test_health_and_ready(sample_client: TestClient) -> None:
    assert sample_client.get("/healthz").json() == {"status": "ok"}
    ready = sample_client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["papers"] == 60
    assert sample_client.get("/openapi.json").json()["info"]["title"] == "paperlens"
