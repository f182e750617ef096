"""The original file of an uploaded paper: kept under DATA_DIR/files, served by
GET /papers/{id}/file with its content type, listed as `has_file`, a 404 that says why a
paper has none (a file of many papers, JSON, over the size limit), replaced with its
paper, deleted with it, never left behind by a failed ingest, and swept at start-up when
a crash left it."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.kept_files import file_name
from service.container import Container, Services, build_services
from service.corpus.paper import Paper
from service.ingest.source_files import plan_files
from service.server.app import create_app
from service.server.auth import needed_scope

from .conftest import make_settings

FULLTEXT = Path(__file__).resolve().parents[1] / "evals" / "data" / "fulltext" / "pdfs"
PDF = FULLTEXT / "10.1128_msphere.00109-24.pdf"

NOTE = b"""# LumaNet: Counting Fireflies in Summer Videos

LumaNet is a tiny recurrent network that counts fireflies in summer night videos.
It counts 120 frames per second on a phone and misses 3 percent of the flashes.
"""
NOTE_V2 = NOTE.replace(b"3 percent", b"2 percent")
SAMPLE = (Path(__file__).resolve().parents[1] / "data" / "samples" / "trending-papers.txt").read_text()
LISTING = SAMPLE[: SAMPLE.index("\n\nOn-Policy Policy Gradient Reinforcement")].encode()  # its first 3 papers


def kept_files(services: Services) -> list[str]:
    folder = services.settings.data_dir / "files"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def upload(client: TestClient, name: str, data: bytes, wait: bool = True) -> Any:
    r = client.post(f"/papers/upload?wait={str(wait).lower()}", files=[("files", (name, data))])
    assert r.status_code in (201, 202), r.text
    return r.json()


def one_paper(client: TestClient) -> dict[str, Any]:
    papers = client.get("/papers").json()["papers"]
    assert len(papers) == 1, papers
    return dict(papers[0])


def no_file_message(client: TestClient, paper_id: str) -> str:
    r = client.get(f"/papers/{paper_id}/file")
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "no_file"
    return str(r.json()["error"]["message"])


@pytest.fixture
def small_limit(tmp_path: Path, embedder: OnnxMiniLMEmbedder) -> Iterator[tuple[TestClient, Services]]:
    services = build_services(make_settings(tmp_path / "data", keep_file_max_bytes=100), embedder=embedder)
    with TestClient(create_app(services.settings, Container.of(services))) as c:
        yield c, services


def test_an_uploaded_pdf_is_kept_served_as_a_pdf_and_listed(client: TestClient, services: Services) -> None:
    data = PDF.read_bytes()
    added = upload(client, PDF.name, data)["added"]
    assert len(added) == 1
    pid = added[0]
    listed = one_paper(client)
    assert listed["has_file"] is True and listed["file_type"] == "application/pdf"
    detail = client.get(f"/papers/{pid}").json()
    assert (detail["file_name"], detail["file_bytes"], detail["no_file_reason"]) == (
        PDF.name,
        len(data),
        None,
    )
    r = client.get(f"/papers/{pid}/file")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content == data
    assert len(kept_files(services)) == 1  # under DATA_DIR/files


def test_a_text_paper_is_served_as_text_and_an_ingest_job_keeps_it_too(
    client: TestClient, services: Services
) -> None:
    accepted = upload(client, "lumanet.md", NOTE, wait=False)  # the job path (202), as big files go
    deadline = time.monotonic() + 60
    while (job := client.get(accepted["status_url"]).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "done", job
    pid = job["files"][0]["paper_id"]
    r = client.get(f"/papers/{pid}/file")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/markdown; charset=utf-8"
    assert r.content == NOTE
    assert one_paper(client)["file_type"] == "text/markdown; charset=utf-8"


def test_papers_without_a_file_say_why(client: TestClient) -> None:
    ids = upload(client, "trending-papers.txt", LISTING)["added"]
    assert len(ids) == 3
    message = no_file_message(client, ids[0])
    assert "trending-papers.txt, a file of 3 papers" in message and "sample corpus" in message
    detail = client.get(f"/papers/{ids[0]}").json()
    assert detail["has_file"] is False and detail["no_file_reason"] in message

    r = client.post(
        "/papers", json={"papers": [{"title": "Only JSON", "abstract": "Sent as a record. Here."}]}
    )
    assert "JSON record (POST /papers), not from a file" in no_file_message(client, r.json()["added"][0])

    r = client.get("/papers/no-such-paper/file")
    assert r.status_code == 404 and "GET /papers lists the ids" in r.json()["error"]["message"]


def test_a_file_over_the_size_limit_is_not_kept_but_its_paper_is_indexed(
    small_limit: tuple[TestClient, Services],
) -> None:
    client, services = small_limit
    pid = upload(client, "lumanet.md", NOTE)["added"][0]
    assert one_paper(client)["has_file"] is False
    assert client.get("/search", params={"q": "fireflies"}).json()["results"][0]["paper_id"] == pid
    message = no_file_message(client, pid)
    assert f"({len(NOTE):,} bytes) was over the size limit for kept files (100 bytes" in message
    assert "PAPERLENS_KEEP_FILE_MAX_BYTES" in message
    assert kept_files(services) == []


def test_keeping_files_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "lumanet.md"
    path.write_bytes(NOTE)
    paper = Paper(title="LumaNet", abstract="Counts fireflies.")
    plan = plan_files("lumanet.md", path, [paper], 0)[paper.paper_id]
    assert plan.source is None and plan.reason and "PAPERLENS_KEEP_FILE_MAX_BYTES=0" in plan.reason
    kept = plan_files("lumanet.md", path, [paper], len(NOTE))[paper.paper_id]  # at the limit: kept
    assert kept.source == path and kept.size == len(NOTE)


def test_a_replaced_paper_replaces_its_file_and_a_deleted_one_takes_it_along(
    client: TestClient, services: Services
) -> None:
    pid = upload(client, "lumanet.md", NOTE)["added"][0]
    first = kept_files(services)
    assert upload(client, "lumanet-v2.md", NOTE_V2)["replaced"] == [pid]
    second = kept_files(services)
    assert len(second) == 1 and second != first  # the old version's file is gone
    r = client.get(f"/papers/{pid}/file")
    assert r.content == NOTE_V2 and client.get(f"/papers/{pid}").json()["file_name"] == "lumanet-v2.md"

    assert upload(client, "again.md", NOTE_V2)["unchanged"] == [pid]  # the same paper: its file stays
    assert kept_files(services) == second

    assert client.delete(f"/papers/{pid}").status_code == 204
    assert kept_files(services) == []
    r = client.get(f"/papers/{pid}/file")
    assert r.status_code == 404 and "no paper with id" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("collection", "method"),
    [("chunks", "upsert"), ("papers", "upsert"), ("meta", "upsert"), ("chunks", "delete")],
)
def test_a_failed_ingest_leaves_no_file_and_the_old_one_in_place(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collection: str, method: str
) -> None:
    v1, v2 = tmp_path / "v1.md", tmp_path / "v2.md"
    v1.write_bytes(NOTE)
    v2.write_bytes(NOTE_V2)
    paper = Paper(title="LumaNet", text=NOTE.decode())
    limit = services.settings.keep_file_max_bytes
    services.ingest.ingest([paper], files=plan_files("v1.md", v1, [paper], limit))
    before = kept_files(services)
    assert before == [file_name(paper.paper_id, paper.content_hash, ".md")]

    new = Paper(title="LumaNet", text=NOTE_V2.decode())
    other = Paper(title="GlowNet", text="GlowNet finds lens glow. It is fast.")
    other_file = tmp_path / "glownet.md"
    other_file.write_text(other.text or "")
    store = services.store
    target = {
        "chunks": store.chunks.collection,
        "papers": store.papers.records.collection,
        "meta": store.generation.records.collection,
    }[collection]
    real = getattr(target, method)
    calls = {"n": 0}

    def fail_once(**kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(target, method, fail_once)
    plans = {**plan_files("v2.md", v2, [new], limit), **plan_files("glownet.md", other_file, [other], limit)}
    with pytest.raises(RuntimeError, match="disk full"):
        services.ingest.ingest([new, other], files=plans)
    assert calls["n"] >= 1
    assert kept_files(services) == before  # neither new file stayed; the old one did
    stored = store.papers.get(paper.paper_id)
    assert stored is not None and stored.file is not None and stored.file.name == before[0]
    assert store.papers.get(other.paper_id) is None


def test_an_upload_that_fails_keeps_no_file(client: TestClient, services: Services) -> None:
    r = client.post(
        "/papers/upload?wait=true",
        files=[("files", ("lumanet.md", NOTE)), ("files", ("broken.pdf", b"%PDF-1.7 not really a pdf"))],
    )
    assert r.status_code == 400 and "broken.pdf" in r.json()["error"]["message"]
    assert client.get("/papers").json()["total"] == 0
    assert kept_files(services) == []


def test_files_a_crash_left_are_swept_at_start_up(client: TestClient, services: Services) -> None:
    pid = upload(client, "lumanet.md", NOTE)["added"][0]
    kept = kept_files(services)
    folder = services.settings.data_dir / "files"
    (folder / "0123-abc.pdf").write_bytes(b"%PDF-1.7 left by a crash")  # written, its record never was
    (folder / f"{kept[0]}.part").write_bytes(NOTE[:10])  # a copy cut short
    (folder / "4567-def.pdf").write_bytes(b"%PDF-1.7 being written")  # another replica's, in flight
    hours_ago = time.time() - 2 * 3600
    for name in ("0123-abc.pdf", f"{kept[0]}.part", kept[0]):
        os.utime(folder / name, (hours_ago, hours_ago))
    services.ingest.repair()
    assert kept_files(services) == sorted([*kept, "4567-def.pdf"])
    assert client.get(f"/papers/{pid}/file").content == NOTE


def test_a_file_missing_from_disk_is_a_404_that_says_so(client: TestClient, services: Services) -> None:
    pid = upload(client, "lumanet.md", NOTE)["added"][0]
    for path in (services.settings.data_dir / "files").iterdir():
        path.unlink()
    r = client.get(f"/papers/{pid}/file")
    assert r.status_code == 404 and r.json()["error"]["code"] == "file_missing"
    assert "lumanet.md is not in this server's DATA_DIR/files" in r.json()["error"]["message"]


def test_the_file_is_read_with_a_read_key_like_other_paper_reads() -> None:
    assert needed_scope("GET", "/papers/2403.01234/file", refresh=False) == "read"
    assert needed_scope("GET", "/papers/2403.01234", refresh=False) == "read"


PDFJS = Path(__file__).resolve().parents[1] / "service" / "server" / "static" / "vendor" / "pdfjs"


def test_the_vendored_pdfjs_is_the_registry_build_its_manifest_names(client: TestClient) -> None:
    """The page's PDF viewer runs pdf.js from this server (no CDN): the files are those of the
    npm tarball the manifest names, byte for byte, and nothing else lies beside them."""
    manifest = json.loads((PDFJS / "manifest.json").read_text())
    assert manifest["package"] == "pdfjs-dist" and manifest["license"] == "Apache-2.0"
    assert sorted(p.name for p in PDFJS.iterdir()) == sorted([*manifest["files"], "manifest.json"])
    for name, entry in manifest["files"].items():
        data = (PDFJS / name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["bytes"]), name
    assert f'"{manifest["version"]}"' in (PDFJS / "pdf.min.mjs").read_text()
    assert "Apache License" in (PDFJS / "LICENSE").read_text()
    for name in ("pdf.min.mjs", "pdf.worker.min.mjs"):  # module scripts need a JavaScript type (nosniff)
        r = client.get(f"/app/vendor/pdfjs/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
        assert "script-src 'self'" in r.headers["content-security-policy"]
