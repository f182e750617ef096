"""The answering layer's shared pieces, tested directly: the result cache, the one
generation step, the prompt sentinels, and the grounding helpers they rely on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from service.answering.answer_cache import MemoryBackend, ResultCache, cache_key
from service.answering.results import Summary
from service.checks.attribution import check_text
from service.checks.question_fit import complete_comparison, rebind_number, unanswered
from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.llm.llm_handle import LLMHandle, client_for
from service.core.config import Settings
from service.core.sentinels import CANNOT_ANSWER, NOT_REPORTED
from service.corpus.paper import paper_body
from service.evidence.cues import cue_hits
from service.evidence.select import Evidence, EvidenceSet
from service.evidence.similarity import containment, support
from service.generation.accounting import Timings, Usage
from service.generation.extractive import extractive_answer, extractive_summary
from service.generation.generate import Generator
from service.generation.prompts import load_prompt

from .fake_llm import FakeLLM, reply, status

PROMPTS = Settings.model_fields["prompts_dir"].default


def summary_out(text: str = "A plain summary.", degraded: bool = False) -> Summary:
    return Summary(
        paper_id="p",
        title="T",
        summary=text,
        cached=False,
        engine="llm",
        degraded=degraded,
        model="m",
        prompt_version="v",
        usage=Usage(llm_calls=1, prompt_tokens=10, completion_tokens=5),
        timings_ms={"llm": 1.0, "total": 1.0},
    )


# --- the result cache ----------------------------------------------------------------------
def test_cache_hit_is_marked_costs_nothing_and_replays_to_a_stream() -> None:
    cache = ResultCache(MemoryBackend(8), Summary)
    produced: list[int] = []

    def produce() -> Summary:
        produced.append(1)
        return summary_out()

    first = cache.run("k", produce, None)
    deltas: list[str] = []
    second = cache.run("k", produce, deltas.append)
    assert len(produced) == 1 and not first.cached
    assert second.cached and second.summary == first.summary
    assert second.usage == Usage.zero() and "cache" in second.timings_ms
    assert deltas == [first.summary]


def test_cache_keeps_no_degraded_result_and_refresh_skips_the_lookup() -> None:
    cache = ResultCache(MemoryBackend(8), Summary)
    cache.run("bad", lambda: summary_out(degraded=True), None)
    assert cache.get("bad") is None
    cache.run("k", lambda: summary_out("old"), None)
    fresh = cache.run("k", lambda: summary_out("new"), None, refresh=True)
    assert fresh.summary == "new" and not fresh.cached
    hit = cache.get("k")
    assert hit is not None and hit.summary == "new"


def test_memory_backend_is_bounded_and_size_zero_keeps_nothing() -> None:
    small = MemoryBackend(2)
    for key in "abc":
        small.put(key, key, "")
    assert small.get("a") is None and small.get("c") == "c"
    off = MemoryBackend(0)
    off.put("a", "a", "")
    assert off.get("a") is None


def test_cache_keys_change_with_every_part() -> None:
    base = cache_key("ask", "q", [], 8, "gen", "prompt", "model")
    assert base == cache_key("ask", "q", [], 8, "gen", "prompt", "model")
    assert base != cache_key("ask", "q", [], 8, "gen2", "prompt", "model")
    assert base != cache_key("summary", "q", [], 8, "gen", "prompt", "model")


# --- the generation step -----------------------------------------------------------------
def test_without_an_llm_the_fallback_answers_flagged_only_when_one_was_wanted() -> None:
    off = Generator(LLMHandle(None, "extractive", "off"))
    got = off.generate([], 10, Timings(), fallback=lambda: "quoted")
    assert (got.text, got.engine, got.degraded) == ("quoted", "extractive", False)
    broken = Generator(LLMHandle(None, "extractive", "unavailable: no weights"))
    assert broken.generate([], 10, Timings(), fallback=lambda: "q").degraded


def test_generation_streams_counts_usage_and_falls_back_when_retries_run_out(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, llm_timeout_s=1.0, llm_retry_total_s=1.0, llm_max_attempts=2)
    generator = Generator(LLMHandle(client_for(settings, fake_llm.base_url, "fake"), "fake", "remote"))
    fake_llm.reset(reply("Two words"))
    deltas: list[str] = []
    timings = Timings()
    got = generator.generate(
        [{"role": "user", "content": "hi"}], 10, timings, fallback=lambda: "x", on_delta=deltas.append
    )
    assert (got.text, got.engine, got.degraded) == ("Two words", "llm", False)
    assert "".join(deltas) == "Two words" and got.usage.llm_calls == 1 and got.usage.completion_tokens == 2
    assert "llm" in timings.ms
    fake_llm.reset(status(500), status(500), status(500))
    failed = generator.generate([{"role": "user", "content": "hi"}], 10, Timings(), fallback=lambda: "quote")
    assert (failed.text, failed.engine, failed.degraded) == ("quote", "extractive", True)


# --- prompt sentinels ------------------------------------------------------------------------
def test_sentinels_are_rendered_into_the_prompts_and_read_by_the_checker(
    embedder: OnnxMiniLMEmbedder,
) -> None:
    ask = load_prompt(PROMPTS, "ask").render(evidence="[1] x", question="q")
    assert CANNOT_ANSWER in ask[0]["content"] and "{" not in ask[0]["content"]
    matrix = load_prompt(PROMPTS, "matrix").render(
        answer_words="8", columns='"a"', title="T", sentences="[1] x"
    )
    assert f'the answer "{NOT_REPORTED}"' in matrix[0]["content"]
    evidence = EvidenceSet(
        [Evidence(1, "p", "T", "c", "The model is fast.", 1.0)], embedder.embed(["The model is fast."]), 1.0
    )
    assert check_text(CANNOT_ANSWER, evidence, embedder).model_abstained


# --- grounding helpers ----------------------------------------------------------------------
def test_support_is_the_cosine_or_a_near_copy() -> None:
    assert containment("robots learn from videos", "Robots can learn skills from human videos.") == 1.0
    assert support(0.2, "robots learn from videos", "Robots can learn skills from human videos.") == 1.0
    assert support(0.4, "robots learn from videos", "A protein folding benchmark.") == 0.4


def test_cues_and_extractive_engine() -> None:
    assert cue_hits("We propose a new method that outperforms baselines.", "approach") == 1
    items = [
        Evidence(1, "p", "T", "c", "Best sentence.", 0.9),
        Evidence(2, "p", "T", "c", "Close second.", 0.85),
        Evidence(3, "p", "T", "c", "Far behind.", 0.3),
    ]
    no_vectors = np.zeros((3, 1), dtype=np.float32)
    assert extractive_answer(EvidenceSet(items, no_vectors, 0.9)) == "Best sentence. [1] Close second. [2]"
    body = "Robots struggle with clutter. We propose GraspNet. It outperforms baselines by far. Fin."
    assert extractive_summary(body) == (
        "Robots struggle with clutter. We propose GraspNet. It outperforms baselines by far."
    )


def test_a_papers_body_holds_its_abstract_once() -> None:
    abstract = "We study X.   It works."
    assert paper_body(abstract, "Title\nWe study X. It works.\nIntroduction ...") == (
        "Title\nWe study X. It works.\nIntroduction ..."
    )
    assert paper_body(abstract, "Other text.") == f"{abstract}\n\nOther text."
    assert paper_body(None, "Only text.") == "Only text."


def test_question_fit_needs_the_kind_of_answer_the_question_asks_for() -> None:
    # a spelled count answers "how many"; "2D" and "6DoF" are kinds of things, not conditions
    q = "From how many camera views does the policy predict its 2D tracks to recover 6DoF trajectories?"
    cited = ["At test time, it predicts motion tracks from two camera views, recovering 6DoF trajectories."]
    assert unanswered(q, "It predicts them from two camera views [1].", cited) is None
    assert "quantity" in (unanswered(q, "It predicts them from camera views [1].", cited) or "")
    assert unanswered("How much faster is CARP?", "CARP is 10x faster [1].") is None
    assert "quantity" in (unanswered("How many genes were edited?", "Many genes were edited [1].") or "")
    assert "percentage" in (unanswered("Approximately what percentage die?", "About 10 of 40 die [1].") or "")
    assert unanswered("Approximately what percentage die?", "About 10% die [1].") is None
    assert "neither" in (unanswered("Does X increase or decrease Y?", "X changes Y [1].") or "")
    assert unanswered("Does X increase or decrease Y?", "X decreased Y [1].") is None
    assert unanswered("Which protein binds DNA?", "RexA binds DNA [1].") is None
    # listed options are not part of the question's form
    assert unanswered("Which drug? Options: how many; 10%", "Ciprofloxacin [1].") is None
    # a name the papers write with another ending is there; a different version is not
    fused = [
        "Two proteins were fused to the C-terminal of Cas9 by XTEN linker, forming the editors E1B and E4."
    ]
    q = "Which editors were made by fusing proteins to Cas9's C-terminus?"
    assert unanswered(q, "E1B and E4 [1].", fused, fused) is None
    assert "GPT-5" in (
        unanswered("Which model beats GPT-5?", "Llama [1].", ["GPT-4 is beaten."], ["GPT-4."]) or ""
    )


def test_question_fit_refuses_an_answer_that_only_restates_the_question() -> None:
    q = "Which real humanoid robot was the agile whole-body skills method tested on?"
    assert "restates" in (
        unanswered(q, "The agile whole-body skills method was tested on humanoid robots [1].") or ""
    )
    assert unanswered(q, "It was tested on the Unitree G1 humanoid [1].") is None
    # a yes/no verdict over the question's own statement is an answer
    assert unanswered("Does UVA decode video?", "Yes. UVA decodes video [1].") is None
    # "TDP-43" is a name; its number is not a setting the cited sentence must repeat
    assert (
        unanswered(
            "Does TDP-43 type confer a distinct pattern of atrophy?",
            "Yes. The TDP-43 subtypes showed distinct patterns of atrophy [1].",
            ["The subtypes showed distinct patterns of atrophy."],
        )
        is None
    )


def test_question_fit_reads_the_half_of_a_contrast_the_question_is_about() -> None:
    q = "Acinetobacter lwoffii has been evolved in the lab to be resistant to which antibiotics?"
    cited = [
        "A. baumannii readily evolved resistance to meropenem, ciprofloxacin, and gentamicin,"
        " but A. lwoffii only evolved resistance to ciprofloxacin."
    ]
    wrong = "Acinetobacter lwoffii has been evolved in the lab to be resistant to gentamicin [1]."
    assert "another part" in (unanswered(q, wrong, cited) or "")
    right = "Acinetobacter lwoffii has been evolved in the lab to be resistant to ciprofloxacin [1]."
    assert unanswered(q, right, cited) is None
    # a sentence that contrasts nothing is read whole: ";" and ", and" join, they do not oppose
    listing = ["Data quality has two properties; action divergence and transition diversity shape it."]
    assert (
        unanswered(
            "What two properties shape data quality?",
            "Action divergence and transition diversity [1].",
            listing,
        )
        is None
    )


def test_question_fit_needs_the_questions_names_and_conditions_in_the_evidence() -> None:
    q = "What FID does rectified flow reach on ImageNet at 256 resolution?"
    cited = ["DDO reduces FID scores to 1.30/0.97 on CIFAR-10/ImageNet-64."]
    assert "256" in (unanswered(q, "Rectified flow reaches 1.30 [1].", cited, cited) or "")
    assert (
        unanswered(q, "It reaches 2.1 [1].", ["Rectified flow reaches 2.1 FID on ImageNet 256."], cited)
        is None
    )
    q = "How long did it take to collect the GF-Minecraft dataset?"
    other = ["It takes about 3 minutes on one A6000 GPU to generate 50k images."]
    assert "GF-Minecraft" in (unanswered(q, "About 3 minutes [1].", other, other) or "")
    # a compound name is about its head: "AURORA-finetuned" needs AURORA
    q = "Did human raters prefer the AURORA-finetuned model?"
    assert unanswered(q, "Yes [1].", ["Raters preferred it."], ["We curate the AURORA Dataset."]) is None
    # a cell line goes by several spellings ("HEK293T", "HEK 293T", "293T"); another line is another name
    q = "Which residues of Apollo bind DNA-PKcs in HEK293T cells?"
    said = "Deleting residues 344-360 reduced binding to DNA-PKcs [1]."
    for paper in (["DNA-PKcs pull-down in 293T cells."], ["DNA-PKcs pull-down in HEK 293T cells."]):
        assert unanswered(q, said, [said], paper) is None
    assert "HEK293T" in (unanswered(q, said, [said], ["DNA-PKcs pull-down in HeLa cells."]) or "")
    # an acronym is there when one sentence or title spells it out; a paper's worth of initials is not
    q = "Along which properties does the survey on LLM-made training data compare generators?"
    said = "It compares them by quality, diversity and complexity [1]."
    spelled = ["Synthetic data generation with Large Language Models is a promising paradigm."]
    assert unanswered(q, said, [said], spelled) is None
    body = ["Data generation with language models. " * 40 + "Let Lots Move."]
    assert "LLM-made" in (unanswered(q, said, [said], body) or "")


DEIS_SENTENCE = (
    "We achieve the state-of-art sampling performance when the number of score function evaluation"
    " (NFE) is limited, e.g., 4.17 FID with 10 NFEs, 3.37 FID, and 9.74 IS with only 15 NFEs on CIFAR10."
)


def test_the_answers_number_must_be_the_one_bound_to_the_questions_condition() -> None:
    q = "What image quality score does the fast sampler get on CIFAR10 with ten network evaluations?"
    wrong = "The fast sampler reaches an FID of 3.37 on CIFAR10 with only 10 network evaluations [1]."
    assert "['4.17']" in (unanswered(q, wrong, [DEIS_SENTENCE]) or "")
    assert rebind_number(q, wrong, [DEIS_SENTENCE]) == wrong.replace("3.37", "4.17")
    right = "The fast sampler reaches an FID of 4.17 with 10 network evaluations [1]."
    assert unanswered(q, right, [DEIS_SENTENCE]) is None and rebind_number(q, right, [DEIS_SENTENCE]) is None
    # a condition that sets the scene for the whole sentence binds every number in it
    scene = ["On ImageNet at 256 resolution, the model reaches an FID of 1.3 and an IS of 300."]
    q = "What FID does the model reach on ImageNet at 256 resolution?"
    assert unanswered(q, "It reaches an FID of 1.3 [1].", scene) is None
    assert rebind_number(q, "It reaches an FID of 1.3 [1].", scene) is None


def test_question_fit_needs_what_the_answer_adds_in_the_citations() -> None:
    q = "The brewing strain has deleted genes enriched for what functions?"
    cited = ["Flocculation genes vary between brewing strains and ASP3 has been lost in many isolates."]
    guess = "The brewing strain has deleted genes enriched for gluconeogenesis [1]."
    assert "nothing the answer adds" in (unanswered(q, guess, cited) or "")
    assert unanswered(q, "The deleted genes are enriched for flocculation [1].", cited) is None
    # the cited paper's own name is part of what a citation holds
    which = 'The paper "Seer: predictive inverse dynamics" forecasts visual states [1].'
    assert (
        unanswered("Which paper forecasts visual states?", which, ["It forecasts visual states."]) is not None
    )
    assert (
        unanswered(
            "Which paper forecasts visual states?", which, ["It forecasts visual states."], names=["Seer"]
        )
        is None
    )


def test_question_fit_needs_a_which_question_to_name_one() -> None:
    q = "Which microcin homolog is present in all known E. coli phylogroups?"
    vague = "The specific microcin homolog matches varied between phylogroups [1]."
    assert "names none" in (unanswered(q, vague) or "")
    assert unanswered(q, "Microcin V is present in all phylogroups [1].") is None


def test_question_fit_needs_a_which_model_or_strain_question_to_give_a_name() -> None:
    q = "Which pre-trained vision-language model does the procedure planner prompt for its text embeddings?"
    cited = [
        "A text embedding is generated by prompting a pre-trained vision-language model to focus on actions."
    ]
    described = "The pre-trained vision-language model is used to focus on human actions for the planner [1]."
    assert "asks which model and the answer names none" in (unanswered(q, described, cited) or "")
    named = "The planner prompts CLIP for its text embeddings, focusing on human actions [1]."
    assert unanswered(q, named, [cited[0].replace("a pre-trained", "CLIP, a pre-trained")]) is None
    # a species written with a capital in the evidence is a name, even where it opens the answer
    strain = "Which bacterium increased after the treatment?"
    seen = ["The treatment was associated with an increase in Bifidobacterium longum."]
    assert unanswered(strain, "Bifidobacterium longum increased after the treatment [1].", seen) is None
    # a "which" question about something that is not a named kind is left to the other checks
    assert unanswered("Which step of the method removes noise?", "Denoising removes the noise [1].") is None


def test_question_fit_wants_one_of_the_listed_options() -> None:
    q = (
        "Which change follows? Options: upregulation of MYC mRNA; upregulation of POLR2A mRNA;"
        " upregulation of 47S rRNA."
    )
    both = "The changes include upregulation of POLR2A mRNA and upregulation of 47S rRNA [1]."
    assert "states 2" in (unanswered(q, both) or "")
    assert unanswered(q, "The change is upregulation of POLR2A mRNA [1].") is None


def test_an_answer_to_a_comparison_gives_the_other_sides_number() -> None:
    q = "What pick-and-place success rate does the controller reach, compared with behavior cloning?"
    cited = ["It outperforms baselines (e.g., 70% success v.s. 50% for behavior cloning on pick-place)."]
    said = "The controller reaches a 70% success rate compared with behavior cloning on pick-place [1]."
    assert complete_comparison(q, said, cited) == (
        "The controller reaches a 70% success rate compared with behavior cloning (50%) on pick-place [1]."
    )
    assert complete_comparison(q, "It reaches a 70% success rate [1].", cited) is None  # names no other side
    both = "It reaches 70%, compared with behavior cloning at 50% [1]."
    assert complete_comparison(q, both, cited) is None  # already has both
    two = ["It reaches 70%, and behavior cloning 50% or 40% in two tasks."]
    assert complete_comparison(q, said, two) is None  # which of two numbers: not guessed
