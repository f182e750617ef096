"""Numbers, copy runs and post-hoc attribution, on hand-made evidence."""

from __future__ import annotations

from service.checks.attribution import check_text
from service.checks.copying import longest_copied_run
from service.checks.markers import shift_markers
from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.evidence.numbers import numbers_in, unsupported_numbers
from service.evidence.select import Evidence, EvidenceSet

EVIDENCE = [
    "CARP delivers 10x faster inference compared to state-of-the-art policies.",
    "ARNOLD is comprised of 8 language-conditioned tasks in realistic 3D scenes.",
    "TACO achieves a 40% performance boost on nine visual control tasks.",
]


def evidence_set(embedder: OnnxMiniLMEmbedder) -> EvidenceSet:
    items = [Evidence(i + 1, f"p{i}", f"Paper {i}", f"p{i}::h::0", t, 1.0) for i, t in enumerate(EVIDENCE)]
    return EvidenceSet(items, embedder.embed(EVIDENCE), 1.0)


def test_numbers_are_canonical() -> None:
    assert numbers_in("1,000 runs, 2.50 s, 10x, 93.5%, v2, 3-fold, 40 percent") == {
        "1000",
        "2.5",
        "10x",
        "93.5%",
        "3x",
        "40%",
    }
    # a kind of thing is no quantity: "2D tracks", "a 2.5D approach", "6DoF poses" (but "10d" is ten days)
    assert numbers_in("2D tracks, a 2.5D approach, 6DoF poses, 3-D scenes in 10d") == {"10"}
    assert unsupported_numbers("about 12 tasks", ["has 8 tasks"]) == {"12"}
    assert unsupported_numbers("10 times faster", ["10x faster"]) == set()
    assert unsupported_numbers("a 10% speed-up", ["10x faster"]) == {"10%"}


def test_longest_copied_run() -> None:
    source = "The quick brown fox jumps over the lazy dog near the river bank today."
    assert longest_copied_run("a quick brown fox jumps high", source) == (4, "quick brown fox jumps")
    assert longest_copied_run("nothing shared", source)[0] == 0


def test_supported_sentence_keeps_its_citation(embedder: OnnxMiniLMEmbedder) -> None:
    out = check_text(
        "CARP runs inference 10x faster than prior policies [1].", evidence_set(embedder), embedder
    )
    assert out.text == "CARP runs inference 10x faster than prior policies [1]."
    assert [e.paper_id for e in out.cited] == ["p0"]


def test_wrong_or_dangling_markers_are_fixed(embedder: OnnxMiniLMEmbedder) -> None:
    ev = evidence_set(embedder)
    out = check_text("ARNOLD has 8 language-conditioned tasks [1][7].", ev, embedder)
    assert out.text == "ARNOLD has 8 language-conditioned tasks [1]."  # re-cited, renumbered
    assert [e.paper_id for e in out.cited] == ["p1"]


def test_unsupported_sentence_and_invented_number_are_dropped(embedder: OnnxMiniLMEmbedder) -> None:
    ev = evidence_set(embedder)
    text = (
        "TACO boosts performance by 40% [3]. TACO was trained with a learning rate of 0.001 [3]. "
        "The weather in Paris is mild in spring."
    )
    out = check_text(text, ev, embedder)
    assert out.text == "TACO boosts performance by 40% [1]."
    reasons = [d.reason for d in out.dropped]
    assert any("number" in r and "0.001" in r for r in reasons)
    assert any("no evidence supports it" in r for r in reasons)


def test_markers_are_renumbered_in_order_of_use(embedder: OnnxMiniLMEmbedder) -> None:
    text = "[3] TACO gives a 40% boost. CARP is 10x faster [1]."
    out = check_text(text, evidence_set(embedder), embedder)
    assert out.text == "TACO gives a 40% boost [1]. CARP is 10x faster [2]."
    assert [e.paper_id for e in out.cited] == ["p2", "p0"]


def test_model_abstention_and_empty_result(embedder: OnnxMiniLMEmbedder) -> None:
    ev = evidence_set(embedder)
    assert check_text("NOT IN SOURCES", ev, embedder).model_abstained
    assert check_text("Bananas are yellow [2].", ev, embedder).empty


def test_a_claim_naming_a_paper_must_rest_on_that_paper(embedder: OnnxMiniLMEmbedder) -> None:
    texts = [
        "The proposed DEIS method can generate high-fidelity samples in as few as 10 steps.",
        "BESO generates goal-specified behavior in just 3 denoising steps.",
    ]
    items = [Evidence(i + 1, f"p{i}", f"Paper {i}", f"p{i}::h::0", t, 1.0) for i, t in enumerate(texts)]
    ev = EvidenceSet(items, embedder.embed(texts), 1.0)
    swapped = check_text("DEIS needs 3 denoising steps [2].", ev, embedder)
    assert swapped.empty  # 3 belongs to BESO, not to DEIS
    both = check_text("DEIS needs 10 steps, while BESO needs 3 denoising steps [1][2].", ev, embedder)
    assert both.text == "DEIS needs 10 steps, while BESO needs 3 denoising steps [1][2]."
    mixed = check_text("DEIS needs 3 steps, while BESO needs 10 steps [1][2].", ev, embedder)
    assert mixed.empty and "clause" in mixed.dropped[0].reason


def test_what_papers_share_needs_two_papers_behind_it(embedder: OnnxMiniLMEmbedder) -> None:
    texts = [
        "We propose DEIS, a fast sampler that generates high-fidelity samples with diffusion models.",
        "BESO is a diffusion policy that learns goal-conditioned behavior with diffusion models.",
        "ODICE projects the backward gradient onto the normal plane of the forward gradient.",
    ]
    items = [Evidence(i + 1, f"p{i}", f"Paper {i}", f"p{i}::h::0", t, 1.0) for i, t in enumerate(texts)]
    ev = EvidenceSet(items, embedder.embed(texts), 1.0)
    one = check_text(
        "Both papers share the goal of projecting the backward gradient onto the normal plane [3].",
        ev,
        embedder,
    )
    assert one.empty and "in common" in one.dropped[0].reason
    # the same claim as one paper's own statement stands
    assert not check_text(
        "ODICE projects the backward gradient onto the normal plane [3].", ev, embedder
    ).empty
    two = check_text("Both papers use diffusion models [1][2].", ev, embedder)
    assert two.text == "Both papers use diffusion models [1][2].", two.dropped


def test_a_part_joined_after_others_has_every_cited_number_raised() -> None:
    assert shift_markers("A [1]. B [1][2]. C [1, 2]. D [2; 3].", 3) == "A [4]. B [4][5]. C [4, 5]. D [5; 6]."
    assert shift_markers("10x faster at 3 steps [1].", 2) == "10x faster at 3 steps [3]."
