"""The full-text suite's grader: an open answer is mapped to the LitQA2 option it states."""

from __future__ import annotations

from typing import Any

from evals.fulltext_eval import grade, holds_key, with_options
from service.schemas import AskOut, UsageOut

ITEM: dict[str, Any] = {
    "id": "x",
    "question": "Which microcin homolog is present in all known E. coli phylogroups?",
    "ideal": "Microcin V",
    "distractors": ["Microcin H47", "Microcin M"],
    "key_passage": "The only microcin homolog identified in all phylogroups was microcin V; it was the most "
    "enriched in phylogroup A.",
}


def answer(text: str, abstained: bool = False) -> AskOut:
    return AskOut(
        answer=text,
        abstained=abstained,
        citations=[],
        dropped=[],
        cached=False,
        engine="llm",
        degraded=False,
        model="m",
        prompt_version="v",
        usage=UsageOut.zero(),
        timings_ms={},
    )


def test_right_wrong_and_unsure() -> None:
    assert grade(ITEM, answer("Microcin V is found in every phylogroup [1].")) == "right"
    assert grade(ITEM, answer("Microcin M is found in every phylogroup [1].")) == "wrong"
    assert grade(ITEM, answer("Microcins vary between phylogroups [1].")) == "wrong"  # states no option
    assert grade(ITEM, answer("The indexed papers do not answer this question.", abstained=True)) == "unsure"
    typo = {**ITEM, "ideal": "ciproflaxin", "distractors": ["gentamicin", "meropenem"]}
    assert grade(typo, answer("It evolved resistance to ciprofloxacin only [1].")) == "right"
    residues = {
        **ITEM,
        "question": "Deleting which residues from Apollo reduces its binding to DNA-PKcs?",
        "ideal": "residues 344\u2013360",
        "distractors": ["residues 360-380", "residues 320-343"],
    }
    assert grade(residues, answer("Deleting amino acids 344\u2013360 reduces the binding [1].")) == "right"
    assert grade(residues, answer("Deleting amino acids 360-380 reduces the binding [1].")) == "wrong"
    motif = {
        **ITEM,
        "question": "Which sequence does R.DraR1 cleave?",
        "ideal": "CCGCGG",
        "distractors": ["GGATCC"],
    }
    assert grade(motif, answer("It cleaves 5-CCGCGG-3 sites [1].")) == "right"
    assert grade(motif, answer("It cleaves 5-GGATCC-3 sites [1].")) == "wrong"
    lbp = {**ITEM, "ideal": "lipopolysaccharide-binding protein", "distractors": ["C-reactive protein"]}
    assert grade(lbp, answer("Plasma LBP levels were higher after chemotherapy [1].")) == "right"
    fold = {**ITEM, "ideal": "453-fold", "distractors": ["35-fold"]}
    assert grade(fold, answer("Up to 453-fold [1].")) == "right"
    assert grade(fold, answer("Up to 35-fold [1].")) == "wrong"
    hours = {
        **ITEM,
        "question": "After how long did the cultures grow?",
        "ideal": ">18 h",
        "distractors": ["6 h"],
    }
    assert grade(hours, answer("After 18 hours the cultures grew to a similar density [1].")) == "right"
    assert grade(hours, answer("After 6 hours the cultures grew [1].")) == "wrong"
    yes_no = {**ITEM, "ideal": "no", "distractors": ["yes"]}
    assert grade(yes_no, answer("Yes, the introns splice in order [1].")) == "wrong"


def test_options_are_listed_in_a_stable_order_and_key_passages_match_loosely() -> None:
    listed = with_options(ITEM)
    assert listed == with_options(ITEM) and "Microcin V" in listed and "insufficient information" in listed
    assert holds_key(ITEM, ["The only microcin homolog identified in all phylogroups was microcin V."])
    assert not holds_key(ITEM, ["Microcins are bacteriocins."])


def test_the_questions_own_words_do_not_pick_an_option_and_brackets_are_another_spelling() -> None:
    item = {
        **ITEM,
        "question": "What is the relationship between DNA methylation in introns and exons?",
        "ideal": "There are no significant differences",
        "distractors": ["Introns have more DNA methylation", "Exons have more DNA methylation"],
    }
    said = "The authors found no notably different DNA methylation in exonic versus intronic loci [1]."
    assert grade(item, answer(said)) == "right"
    assert grade(item, answer("Introns have more DNA methylation than exons [1].")) == "wrong"
    editors = {**ITEM, "ideal": "CXE (Cas9-XTEN-hExo1)", "distractors": ["EXC (hExo1-XTEN-Cas9)"]}
    assert grade(editors, answer("The CXE editor has the highest HDR efficiency [1].")) == "right"
    assert grade(editors, answer("EXC has the highest HDR efficiency [1].")) == "wrong"
