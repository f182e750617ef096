"""The Chroma-backed paper store: persistence, idempotence, replacement, rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.vector_store.paper_store import PaperStore
from service.components.vector_store.records import Record
from service.container import Services, build_services
from service.core.errors import BadInput
from service.corpus.paper import Paper

from .conftest import make_settings

A = Paper(title="Sparse Mixture of Experts", abstract="We route tokens to experts. It scales.")
B = Paper(title="Contrastive Video Pretraining", abstract="We pretrain on video. It transfers.")


def snapshot(services: Services) -> tuple[object, ...]:
    chunks = services.store.chunks.collection.get(include=["documents", "metadatas"])
    papers = services.store.papers.records.collection.get(include=["documents", "metadatas"])

    def canon(rows: list[object]) -> list[str]:
        return sorted(json.dumps(r, sort_keys=True) for r in rows)

    return (
        sorted(chunks["ids"]),
        canon(chunks["metadatas"]),
        sorted(papers["ids"]),
        canon(papers["metadatas"]),
        canon(papers["documents"]),
    )


def test_data_survives_a_restart(tmp_path: Path, embedder: OnnxMiniLMEmbedder) -> None:
    settings = make_settings(tmp_path / "d")
    first = build_services(settings, embedder=embedder)
    first.ingest.ingest([A, B])
    del first
    again = build_services(settings, embedder=embedder)
    assert again.store.papers.count() == 2
    stored = again.store.papers.get(A.paper_id)
    assert stored is not None and stored.abstract == A.abstract
    assert again.retriever.search("routing tokens to experts", 1)[0].paper_id == A.paper_id


def test_reingest_is_unchanged_and_a_new_version_replaces(services: Services) -> None:
    first = services.ingest.ingest([A, B])
    assert sorted(first.added) == sorted([A.paper_id, B.paper_id])
    n_chunks = services.store.chunks.count()
    again = services.ingest.ingest([A, B])
    assert sorted(again.unchanged) == sorted([A.paper_id, B.paper_id]) and not again.added
    assert services.store.chunks.count() == n_chunks
    v2 = Paper(title=A.title, abstract="A rewritten abstract about expert routing. Shorter.")
    third = services.ingest.ingest([v2])
    assert third.replaced == [A.paper_id]
    chunks = services.store.chunks.of_paper(A.paper_id)
    assert [c.text for c in chunks] == [v2.abstract]
    assert services.store.chunks.count() == n_chunks  # old chunks gone, nothing duplicated


def test_same_id_twice_with_different_content_is_rejected(services: Services) -> None:
    clash = Paper(title=A.title, abstract="Different text.")
    with pytest.raises(BadInput, match="share the id"):
        services.ingest.ingest([A, clash])
    assert services.store.papers.count() == 0


@pytest.mark.parametrize(
    ("collection", "method"),
    [("chunks", "upsert"), ("papers", "upsert"), ("chunks", "delete"), ("meta", "upsert")],
)
def test_failed_write_leaves_the_store_exactly_as_it_was(
    services: Services, monkeypatch: pytest.MonkeyPatch, collection: str, method: str
) -> None:
    services.ingest.ingest([A, B])
    before = snapshot(services)
    v2 = Paper(title=A.title, abstract="New version of the expert paper. Different.")
    c = Paper(title="Third Paper", abstract="Something else entirely. Yes.")
    store = services.store
    target = {
        "chunks": store.chunks.collection,
        "papers": store.papers.records.collection,
        "meta": store.generation.records.collection,
    }[collection]  # the Chroma collection under each part of the store
    real = getattr(target, method)
    calls = {"n": 0}

    def fail_once(**kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(target, method, fail_once)
    with pytest.raises(RuntimeError, match="disk full"):
        services.ingest.ingest([v2, c])
    assert calls["n"] >= 1
    assert snapshot(services) == before
    assert services.retriever.search("routing tokens to experts", 1)[0].paper_id == A.paper_id


def test_store_refuses_a_different_embedder(services: Services) -> None:
    with pytest.raises(BadInput, match="embedder"):
        PaperStore(services.store._client, services.settings.collection_prefix, "other", 768)


@pytest.mark.chroma_server
def test_real_chroma_server_roundtrip(
    chroma_server: str, tmp_path: Path, embedder: OnnxMiniLMEmbedder
) -> None:
    settings = make_settings(tmp_path / "d", chroma_url=chroma_server, collection_prefix="srv")
    one = build_services(settings, embedder=embedder)
    one.ingest.ingest([A, B])
    # a second replica sharing the server sees the papers and the lexical index follows
    two = build_services(settings, embedder=embedder)
    assert two.store.papers.count() == 2
    assert two.retriever.search("video pretraining", 1)[0].paper_id == B.paper_id
    one.ingest.delete(B.paper_id)
    assert two.store.papers.get(B.paper_id) is None
    two.lexical.refresh_seconds = 0
    assert all(p.paper_id != B.paper_id for p in two.retriever.search("video pretraining", 5))
    assert not (tmp_path / "d" / "chroma").exists()  # nothing embedded was created


def test_names_kept_by_other_rules_are_computed_again(tmp_path: Path, embedder: OnnxMiniLMEmbedder) -> None:
    """A store written by an earlier version keeps the names its rules made: they are read
    only while the rules are the same, and a store that opens with others computes them
    again (once, written back), so a paper is never stuck with a stale or missing name."""
    named = Paper(
        title="Routing Tokens Sparsely",
        abstract="We introduce Sparse Token Routing (STR), a router for experts. It scales.",
    )
    settings = make_settings(tmp_path / "d")
    first = build_services(settings, embedder=embedder)
    first.ingest.ingest([named])
    (kept,) = first.store.papers.records.get([named.paper_id])
    assert "STR" in json.loads(str(kept.metadata["names"])) and kept.metadata["names_version"]
    for version in ({"names_version": "an-old-rule"}, {}):  # another version's, or none kept
        meta = {k: v for k, v in kept.metadata.items() if k != "names_version"}
        first.store.papers.records.delete([kept.id])  # chroma merges metadata: drop the key itself
        first.store.papers.records.put(
            [Record(kept.id, {**meta, "names": '["Bogus"]', **version}, kept.document)]
        )
        read = first.store.papers.get(named.paper_id)  # one paper read whole: computed on the spot
        assert read is not None and read.names == ["STR"]
        again = build_services(settings, embedder=embedder)  # the store opens: names written back
        (listed,) = again.store.papers.page(0, 10)  # a listing reads no texts
        assert listed.names == ["STR"]
        (record,) = again.store.papers.records.get([named.paper_id], with_documents=False)
        assert record.metadata["title"] == named.title and json.loads(str(record.metadata["names"])) == [
            "STR"
        ]
        # the catalogue /ask recognises papers by is built from such a listing
        assert again.ask.paper_names().named_in("How does STR route tokens?") == [named.paper_id]
