"""Question forms through POST /ask with the fake LLM: yes/no answers led by the model's
word, questions about several papers, third-person answers; and reading the question."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.checks.ask_rules import recite_to_added_words, split_verdict
from service.checks.attribution import CheckedText, check_text
from service.checks.question_fit import missing_names, which_words
from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.core.sentinels import NOT_SAID_PREFIX
from service.corpus.names import paper_names
from service.evidence.select import Evidence, EvidenceSet
from service.question.question_plan import Form, PaperNames, plan_question

from .fake_llm import FakeLLM, prompt_of, reply

INSR_Q = (
    "Does the neural spatial representation approach to PDEs need training data produced by existing solvers?"
)


@dataclass
class NamedPaper:
    id: str
    names: list[str]


def one_sentence(embedder: OnnxMiniLMEmbedder, text: str) -> EvidenceSet:
    return EvidenceSet([Evidence(1, "p", "A Paper", "p::h::0", text, 1.0)], embedder.embed([text]), 1.0)


def ask_with(
    llm_client: TestClient,
    fake_llm: FakeLLM,
    model_reply: str,
    question: str,
    paper_ids: list[str] | None = None,
) -> dict[str, Any]:
    """POST /ask (within `paper_ids`, if given) with the fake LLM set to reply `model_reply`;
    the response body."""
    fake_llm.reset(reply(model_reply))
    request: dict[str, Any] = {"question": question}
    if paper_ids is not None:
        request["paper_ids"] = paper_ids
    body: dict[str, Any] = llm_client.post("/ask", json=request).json()
    return body


@contextmanager
def paper_added(llm_client: TestClient, paper: dict[str, str]) -> Iterator[None]:
    """`paper` in the store (through POST /papers) for the block; deleted after it."""
    added = llm_client.post("/papers", json={"papers": [paper]})
    assert added.status_code == 201, added.text
    try:
        yield
    finally:
        llm_client.delete(f"/papers/{paper['id']}")


# --- reading the question -------------------------------------------------------------


def test_a_paper_is_known_by_the_name_its_abstract_gives() -> None:
    abstract = (
        "We propose models conditioned on forecasted visual states, named Predictive Inverse Dynamics"
        " Models (PIDM). We use Transformers, naming the model Seer. Our approach, dubbed GenSim, is new."
    )
    assert paper_names("Predictive Inverse Dynamics Models", abstract) == ["GenSim", "PIDM", "Seer"]
    # a name in lower case, defined by the appositive after it; "a novel ..." names nothing
    presented = "We present rectified flow, a surprisingly simple approach. We propose a novel loss, a fix."
    assert paper_names("Flow Straight and Fast: Learning with Rectified Flow", presented) == [
        "Flow Straight and Fast",
        "rectified flow",
    ]


def test_question_forms_and_named_papers() -> None:
    papers = [
        ("a", "CARP: Visuomotor Policy Learning", "We introduce CARP."),
        ("b", "Proximal sampling", "Our method, Proximal Robust Sampling (PROPS)."),
        ("c", "Another", None),
    ]
    names = PaperNames([NamedPaper(pid, paper_names(title, abstract)) for pid, title, abstract in papers])
    assert names.owner == {"CARP": "a", "PROPS": "b"}
    assert plan_question("Does PROPS reduce sampling error?", names).form is Form.YES_NO
    assert plan_question("Is CARP faster or slower than diffusion policies?", names).form is Form.OPEN
    assert plan_question("Which language model was prompted?", names).form is Form.OPEN
    both = plan_question("How do CARP and PROPS differ?", names)
    assert both.named == ["a", "b"] and both.multi
    assert not plan_question("How fast is CARP?", names).multi
    assert plan_question("How do CARP and the streaming policy each speed up?", names).multi
    assert plan_question("what do props do?", names).named == []  # acronyms match by case
    # PubMedQA-style titles: the question after the colon, or no wh-word at all
    assert plan_question("Nasal fractures: is closed reduction satisfying?").form is Form.YES_NO
    assert plan_question("The nurse cystoscopist: a feasible option?").form is Form.YES_NO
    assert plan_question("How far is video generation from a world model?").form is Form.OPEN


# --- through HTTP ---------------------------------------------------------------------


def test_yes_no_without_support_says_the_papers_do_not_say(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    body = ask_with(
        llm_client,
        fake_llm,
        "Yes, CARP uses a learning rate of 0.0003 [1].",
        "Does CARP use a learning rate of 0.0003?",
    )
    assert body["abstained"] and body["answer"].startswith(NOT_SAID_PREFIX)


def test_a_question_about_two_papers_is_answered_for_each_from_its_own_evidence(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    fake_llm.reset()  # the fake answers with the shown sentence closest to the question
    question = "In how few steps do DEIS and BESO each generate samples?"
    body = llm_client.post("/ask", json={"question": question}).json()
    asks = [r for r in fake_llm.requests if prompt_of(str(r["messages"][0]["content"])) == "ask"]
    assert len(asks) == 2  # one call per named paper, each shown that paper's sentences only
    shown = [str(r["messages"][-1]["content"]) for r in asks]
    assert "Fast Sampling of Diffusion Models" in shown[0] and "Goal-Conditioned" not in shown[0]
    assert "Goal-Conditioned Imitation Learning" in shown[1] and "Fast Sampling" not in shown[1]
    assert all("only." in text.rsplit("Question:", 1)[-1] for text in shown)  # says which paper
    assert not body["abstained"], (body["answer"], body["dropped"])
    lines = body["answer"].split("\n")
    assert len(lines) == 2 and lines[0].startswith("- DEIS:") and lines[1].startswith("- BESO:")
    by_n = {c["n"]: c for c in body["citations"]}
    for line, title in zip(lines, ("Fast Sampling", "Goal-Conditioned"), strict=True):
        cited = [by_n[int(n)] for n in re.findall(r"\[(\d+)\]", line)]
        assert cited and all(c["title"].startswith(title) for c in cited), line
    # one call rewrites the question as one about a single paper; each part: its answer and its check
    tasks = [prompt_of(str(r["messages"][0]["content"])) for r in fake_llm.requests]
    assert tasks == ["each_question", "ask", "verify", "ask", "verify"]
    assert body["usage"]["llm_calls"] >= len(fake_llm.requests)


def test_papers_a_question_describes_instead_of_naming_are_chosen_by_the_model_and_answered_each(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    fake_llm.reset()
    question = (
        "How do the exponential integrator paper and the goal-conditioned imitation paper each sample fast?"
    )
    body = llm_client.post("/ask", json={"question": question}).json()
    tasks = [prompt_of(str(r["messages"][0]["content"])) for r in fake_llm.requests]
    assert tasks[:2] == ["each_papers", "each_question"] and tasks.count("ask") == 2, tasks
    pick = fake_llm.requests[0]
    assert pick["response_format"]["type"] == "json_schema"  # a closed choice among numbered papers
    assert not body["abstained"], (body["answer"], body["dropped"])
    titles = {c["title"].split(" ")[0] for c in body["citations"]}
    assert titles == {"Fast", "Goal-Conditioned"} and len(body["answer"].split("\n")) == 2
    # a question about one paper's differences is not split: the model picks fewer than two
    fake_llm.reset()
    one = llm_client.post("/ask", json={"question": "How does the exponential integrator paper differ?"})
    tasks = [prompt_of(str(r["messages"][0]["content"])) for r in fake_llm.requests]
    assert tasks[0] == "each_papers" and tasks.count("ask") == 1 and "\n- " not in one.json()["answer"]


def test_each_of_the_selected_papers_gets_its_own_cited_line(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    papers = llm_client.get("/papers", params={"limit": 500}).json()["papers"]
    chosen = [p["id"] for p in papers if p["title"].startswith(("CARP", "Fast Sampling", "Goal-Conditioned"))]
    assert len(chosen) == 3
    fake_llm.reset()
    body = llm_client.post(
        "/ask", json={"question": "How does each of these papers speed up sampling?", "paper_ids": chosen}
    ).json()
    assert not body["abstained"], body
    assert len(body["answer"].split("\n")) == 3
    assert {c["paper_id"] for c in body["citations"]} <= set(chosen)


def test_answers_speak_of_the_authors_in_the_third_person(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    body = ask_with(
        llm_client,
        fake_llm,
        "We introduce CARP, which delivers 10x faster inference than state-of-the-art policies [1].",
        "How much faster is CARP's inference?",
    )
    assert body["answer"].startswith("The authors introduce CARP"), body["answer"]
    assert " we " not in f" {body['answer'].lower()} "


@pytest.mark.parametrize(
    ("model_reply", "question", "name"),
    [
        (
            "It takes about 3 minutes on one A6000 GPU to generate 50k images from CIFAR10 [1].",
            "How long did it take to collect the GF-Minecraft dataset?",
            "GF-Minecraft",
        ),
        # a plain capitalised word is a name too: D-PoT's accuracy is reported with GPT-4V, not Llama
        (
            "D-PoT surpassed the GPT-4V baseline by +12.7% (34.66% to 47.36%) in accuracy [1].",
            "What accuracy does D-PoT reach with a Llama backbone?",
            "Llama",
        ),
    ],
)
def test_a_name_the_evidence_lacks_is_not_answered_by_a_neighbouring_fact(
    llm_client: TestClient, fake_llm: FakeLLM, model_reply: str, question: str, name: str
) -> None:
    body = ask_with(llm_client, fake_llm, model_reply, question)
    assert body["abstained"]
    assert any(name in d["reason"] for d in body["dropped"])


def test_capitals_that_mark_no_name_are_not_looked_for() -> None:
    # in a question written in Title Case the capitals mark no names
    assert missing_names("Do Wound Cultures Give Information About Blood?", ["wound cultures, blood"]) == []
    # nor does the capital that opens a sentence or follows a colon
    assert missing_names("Literacy after surgery: Can the right hemisphere read?", ["hemisphere"]) == []


def test_the_models_verdict_word_is_read_only_when_it_opens_the_answer() -> None:
    assert split_verdict("No, the approach does not need data [1].") == (
        "No",
        "The approach does not need data [1].",
    )
    assert split_verdict("yes. It does [2].") == ("Yes", "It does [2].")
    assert split_verdict("the approach needs data [1].") == (None, "the approach needs data [1].")
    assert split_verdict("Nobody knows [1].") == (None, "Nobody knows [1].")


def test_a_number_from_beside_the_questions_condition_is_rebound(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    # DEIS: "4.17 FID with 10 NFEs, 3.37 FID, and 9.74 IS with only 15 NFEs on CIFAR10"
    q = "What FID does the fast diffusion sampler DEIS reach on CIFAR10 with ten network evaluations?"
    body = ask_with(llm_client, fake_llm, "DEIS reaches an FID of 3.37 on CIFAR10 with only 10 NFEs [1].", q)
    assert not body["abstained"], (body["answer"], body["dropped"])
    assert "4.17" in body["answer"] and "3.37" not in body["answer"], body["answer"]
    assert any("4.17 FID with 10 NFEs" in c["quote"] for c in body["citations"])


def test_a_claim_naming_a_paper_only_by_an_acronym_it_owns_is_checked_not_renamed(
    embedder: OnnxMiniLMEmbedder,
) -> None:
    texts = [
        "We evaluate the method on MuJoCo locomotion tasks.",
        "The sampler reduces sampling error by collecting data with an adaptive behavior policy.",
    ]
    ev = EvidenceSet(
        [
            Evidence(1, "a", "Alpha Locomotion", "a::h::0", texts[0], 1.0),
            Evidence(2, "b", "Beta Sampling", "b::h::0", texts[1], 1.0),
        ],
        embedder.embed(texts),
        1.0,
    )
    claim = (
        "On MuJoCo, the sampler reduces sampling error by collecting data with an adaptive behavior policy"
    )
    claim += " [2]."
    out = check_text(claim, ev, embedder)  # "MuJoCo" is Alpha's by use, not by name: no renaming
    assert "Beta Sampling" not in out.text and "Alpha Locomotion" not in out.text


def test_an_answer_rests_on_the_sentence_that_holds_what_it_adds() -> None:
    question = "Which metal ion coordinates binding of cyclic tetra-adenylate to Csx23?"
    restating = "The Csx23 protein has a C-terminal domain that binds cyclic tetra-adenylate (cA4)."
    holding = "The cA4 molecule, and a coordinating sodium ion, sit at the centre of the Csx23 CTD."
    other_paper = "A coordinating sodium ion binds cyclic tetra-adenylate in Csm6."
    items = [
        Evidence(1, "p", "P", "p::h::0", restating, 0.8),
        Evidence(2, "q", "Q", "q::h::0", other_paper, 0.7),
        Evidence(3, "p", "P", "p::h::1", holding, 0.6),
    ]
    evidence = EvidenceSet(items, np.zeros((3, 384), dtype=np.float32), 0.8)
    answer = "The sodium ion coordinates binding of cyclic tetra-adenylate to Csx23 [1]."
    moved = recite_to_added_words(question, CheckedText(answer, [items[0]]), evidence, 0.4)
    assert [e.text for e in moved.cited] == [holding] and moved.text == answer  # same paper, not Csm6's
    # what it adds is already in its citation, or nowhere in the paper: left as it is
    assert recite_to_added_words(question, CheckedText(answer, [items[2]]), evidence, 0.4).cited == [items[2]]
    magnesium = "The magnesium ion coordinates binding of cyclic tetra-adenylate to Csx23 [1]."
    kept = recite_to_added_words(question, CheckedText(magnesium, [items[0]]), evidence, 0.4)
    assert kept.cited == [items[0]]
    assert which_words(question) == {"metal", "ion", "coordin"}
    assert which_words("Which of the following DNA editors is best?") == {"dna", "editor"}


def test_the_prompt_names_a_paper_by_its_short_name(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    """A title that opens with a name ("ODICE: ...") is shown to the model as that name: the
    sentences say what the paper is about, and a which-paper answer still names it."""
    q = "Which paper projects the backward gradient onto the normal plane of the forward gradient?"
    body = ask_with(
        llm_client, fake_llm, "ODICE projects the backward gradient onto the normal plane [1].", q
    )
    prompt = fake_llm.requests[0]["messages"][-1]["content"]
    assert "Paper: ODICE\n" in prompt, prompt
    assert not body["abstained"] and "ODICE" in body["answer"]
    assert body["citations"][0]["title"].startswith("ODICE:")  # citations keep the whole title


def test_a_title_that_opens_with_a_phrase_is_shown_whole(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    """ "Flow Straight and Fast: Learning to ..." opens with a phrase, not a name: the model
    sees the whole title, so it cannot cite the paper by a fragment of it."""
    ask_with(
        llm_client,
        fake_llm,
        "Rectified flow learns ODEs that follow straight paths [1].",
        "How does rectified flow transport one distribution to another?",
    )
    prompt = fake_llm.requests[0]["messages"][-1]["content"]
    assert "Paper: Flow Straight and Fast: Learning to Generate and Transfer Data" in prompt, prompt


def test_a_no_the_evidence_does_not_gainsay_is_answered(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    q = (
        "Does generating synthetic experience with policy-guided diffusion require truncating rollouts "
        "the way world models do?"
    )
    body = ask_with(
        llm_client,
        fake_llm,
        "No. Generating synthetic experience with policy-guided diffusion does not require truncating "
        "rollouts the way world models do [1].",
        q,
    )
    assert not body["abstained"] and body["answer"].startswith("No. "), body
    assert not any("says otherwise" in d["reason"] for d in body["dropped"]), body["dropped"]


def test_a_number_from_another_paper_is_not_given_for_the_method_asked_about(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    # "rectified flow" is the name its abstract presents: the FID of another paper is no answer
    body = ask_with(
        llm_client,
        fake_llm,
        "The FID score of rectified flow on ImageNet at 256 resolution is 1.30/0.97 [1].",
        "What FID does rectified flow reach on ImageNet at 256 resolution?",
    )
    assert body["abstained"], body["answer"]
    assert all("Rectified Flow" in c["title"] for c in body["citations"])


STATIN = {
    "id": "statin-stroke",
    "title": "Statin pretreatment and outcome after ischaemic stroke",
    "abstract": (
        "Statins may protect the brain during ischaemia. We asked whether patients taking statins "
        "before an ischaemic stroke recover better. Records of 180 patients on statins and 360 "
        "referent patients admitted with a first stroke were reviewed. Early discharge to home did "
        "not differ significantly between patients on statins and referent patients (odds ratio 1.41, "
        "95% CI 0.91 to 2.17). Mortality at 28 days was similar in the two groups. Patients on statins "
        "were older and more often had diabetes."
    ),
}
STATIN_Q = "Does pretreatment with statins improve clinical outcome after stroke?"
