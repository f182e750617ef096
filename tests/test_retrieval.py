"""Fusion, the per-paper cap, and hybrid search over the sample corpus."""

from __future__ import annotations

from service.container import Services
from service.corpus.paper import Paper
from service.retrieval.fusion import cap_per_group, reciprocal_rank_fusion
from service.retrieval.lexical_index import sentence_bm25


def test_rrf_rewards_items_ranked_well_by_both() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["d", "b", "c"]], k=60)
    ids = [i for i, _ in fused]
    assert ids[:2] == ["b", "c"]  # found by both beats first place in one list
    assert set(ids) == {"a", "b", "c", "d"}
    scores = dict(fused)
    assert abs(scores["b"] - 2 / 62) < 1e-12 and abs(scores["a"] - 1 / 61) < 1e-12


def test_cap_per_group_keeps_order_and_limit() -> None:
    ranked = [("p1:1", 5.0), ("p1:2", 4.0), ("p1:3", 3.0), ("p2:1", 2.0), ("p3:1", 1.0)]
    kept = cap_per_group(ranked, lambda i: i.split(":")[0], cap=2, limit=3)
    assert [i for i, _ in kept] == ["p1:1", "p1:2", "p2:1"]


def title_id(papers: list[Paper], prefix: str) -> str:
    return next(p.paper_id for p in papers if p.title.startswith(prefix))


def test_paraphrased_question_finds_its_paper(sample_services: Services, sample_papers: list[Paper]) -> None:
    hits = sample_services.retriever.search("generating new video games with an interactive video model", 5)
    assert hits[0].paper_id == title_id(sample_papers, "GameFactory")


def test_lexical_side_catches_rare_exact_terms(sample_services: Services, sample_papers: list[Paper]) -> None:
    hits = sample_services.lexical.search("ActionBench", 5)
    assert hits and hits[0][0].startswith(title_id(sample_papers, "Learning Disentangled"))


def test_filter_by_paper_ids_and_diversity_cap(sample_services: Services, sample_papers: list[Paper]) -> None:
    wanted = [title_id(sample_papers, "CARP"), title_id(sample_papers, "Policy-Guided")]
    hits = sample_services.retriever.search("diffusion policy", 10, paper_ids=wanted)
    assert hits and {h.paper_id for h in hits} <= set(wanted)
    broad = sample_services.retriever.search("diffusion", 20)
    per_paper: dict[str, int] = {}
    for h in broad:
        per_paper[h.paper_id] = per_paper.get(h.paper_id, 0) + 1
    assert max(per_paper.values()) <= sample_services.settings.max_chunks_per_paper
    assert len(broad) == 20


def test_a_large_lexical_index_refreshes_in_the_background(services: Services) -> None:
    import time

    first = Paper(title="Sparse Mixture of Experts", abstract="We route tokens to experts. It scales.")
    later = Paper(title="Contrastive Video Pretraining", abstract="We pretrain on videos. It transfers.")
    services.ingest.ingest([first])
    lexical = services.lexical
    lexical.background_threshold = 0  # treat any index as large
    assert lexical.search("experts", 5)  # first build is synchronous
    services.ingest.ingest([later])
    deadline = time.monotonic() + 10
    while not lexical.search("pretrain videos", 5) and time.monotonic() < deadline:
        time.sleep(0.05)
    hits = lexical.search("pretrain videos", 5)
    assert hits and hits[0][0].startswith(later.paper_id)
    services.ingest.delete(later.paper_id)
    # a stale lexical hit for a deleted chunk never reaches the caller
    assert all(p.paper_id != later.paper_id for p in services.retriever.search("pretrain videos", 5))


def test_sentence_bm25_ranks_the_sentence_with_the_rare_words_and_survives_empty_vocabularies() -> None:
    sentences = [
        "The editors increased HDR efficiency compared with Cas9.",
        "Notably, CXE resulted in the highest HDR efficiency among the four editors.",
        "Cells were cultured at 37 degrees.",
    ]
    scores = sentence_bm25("Which editor has the highest HDR efficiency?", sentences)
    assert scores.index(max(scores)) == 1 and scores[2] == 0.0
    # nothing searchable on either side: no scores, no error (bm25s cannot index an empty vocabulary)
    assert sentence_bm25("which of the", sentences) == [0.0, 0.0, 0.0]
    assert sentence_bm25("HDR efficiency", ["the of", "a"]) == [0.0, 0.0]
    assert sentence_bm25("HDR", []) == []
