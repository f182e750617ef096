"""Summaries through HTTP, against the fake LLM: `?audience=general|expert` and
`?length=tldr|paragraph` validated and cached apart, every sentence resting on listed
sources (page and section for a PDF, whose body's results are shown to the model beside
its abstract), a sentence with an invented number dropped and reported, a TLDR one
sentence, a paragraph past 160 words trimmed at a sentence boundary and one under 90 kept
with a note; without an LLM, the paper's own sentences quoted with their sources."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.checks.summary_checks import count_words
from service.components.sentences import split_sentences
from service.container import Services

from .fake_llm import FakeLLM, prompt_of, reply

FIRST_PERSON = re.compile(r"\b(we|our|us|this (paper|work|study))\b", re.IGNORECASE)


def paper_id(client: TestClient, title_start: str) -> str:
    papers = client.get("/papers", params={"limit": 500}).json()["papers"]
    return str(next(p["id"] for p in papers if p["title"].startswith(title_start)))


def sentences_of(client: TestClient, pid: str) -> list[str]:
    paper = client.get(f"/papers/{pid}").json()
    return split_sentences(" ".join(p for p in (paper["abstract"], paper["text"]) if p))


def summary(client: TestClient, pid: str, **params: str) -> dict[str, Any]:
    r = client.get(f"/papers/{pid}/summary", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def plain(sentences: list[str]) -> list[str]:
    """Sentences the voice rule leaves as they are (no "we", "our", "this paper")."""
    return [s for s in sentences if not FIRST_PERSON.search(s)]


def in_short(sentence: str, words: int = 12) -> str:
    """What the fake writes of a sentence: a dozen of its words (no run past 15 copied)."""
    return f"In short: {' '.join(sentence.split()[:words]).rstrip('.,;:')}."


def assert_grounded(body: dict[str, Any], paper: list[str]) -> None:
    """Every sentence lists its sources, every source is an exact sentence of the paper."""
    assert body["summary"] == " ".join(s["text"] for s in body["sentences"])
    assert [s["n"] for s in body["sources"]] == list(range(1, len(body["sources"]) + 1))
    for s in body["sentences"]:
        assert s["sources"] and all(1 <= n <= len(body["sources"]) for n in s["sources"]), s
    for source in body["sources"]:
        assert source["quote"] in paper and source["paper_id"] == body["paper_id"]
    assert body["words"] == count_words(body["summary"])


def test_bad_options_are_refused_with_what_to_send(llm_client: TestClient) -> None:
    pid = paper_id(llm_client, "CARP")
    for params, name in (({"audience": "children"}, "audience"), ({"length": "essay"}, "length")):
        r = llm_client.get(f"/papers/{pid}/summary", params=params)
        assert r.status_code == 422, r.text
        message = r.json()["error"]["message"]
        assert name in message and ("'general' or 'expert'" in message or "'tldr' or 'paragraph'" in message)


def test_each_option_is_generated_and_cached_on_its_own(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    pid = paper_id(llm_client, "Streaming Diffusion Policy")
    options = [
        {"audience": "general", "length": "paragraph"},
        {"audience": "expert", "length": "paragraph"},
        {"audience": "general", "length": "tldr"},
        {"audience": "expert", "length": "tldr"},
    ]
    made = [summary(llm_client, pid, refresh="true", **o) for o in options]
    assert len(fake_llm.requests) == 4 and all(b["cached"] is False for b in made)
    for o, body in zip(options, made, strict=True):
        assert (body["audience"], body["length"]) == (o["audience"], o["length"])
    systems = [r["messages"][0]["content"] for r in fake_llm.requests]
    assert [prompt_of(s) for s in systems] == ["summary", "summary", "summary_tldr", "summary_tldr"]
    assert "outside the paper's field" in systems[0] and "in the paper's field" in systems[1]
    assert "outside" not in systems[1] and made[0]["prompt_version"] != made[2]["prompt_version"]
    again = [summary(llm_client, pid, **o) for o in options]
    assert len(fake_llm.requests) == 4  # every option served from its own cache entry
    assert [b["cached"] for b in again] == [True] * 4
    assert [b["summary"] for b in again] == [b["summary"] for b in made]
    assert [b["sources"] for b in again] == [b["sources"] for b in made]


def test_a_paragraph_rests_on_listed_sentences_of_the_paper(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    pid = paper_id(llm_client, "CARP")
    body = summary(llm_client, pid, refresh="true")
    assert body["engine"] == "llm" and not body["degraded"] and body["usage"]["llm_calls"] == 2
    assert_grounded(body, sentences_of(llm_client, pid))
    assert 90 <= body["words"] <= 160 and body["length_note"] is None
    # the model was shown the abstract whole, numbered: the headline number is in reach
    prompt = fake_llm.requests[0]["messages"][-1]["content"]
    assert "From the abstract:" in prompt and "10x faster inference" in prompt and "[1] " in prompt
    assert "everyday words" not in fake_llm.requests[0]["messages"][0]["content"]


def test_a_sentence_with_an_invented_number_is_dropped_and_reported(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    pid = paper_id(llm_client, "CARP")
    paper = sentences_of(llm_client, pid)
    first, second = plain(paper)[:2]
    invented = "CARP delivers 25x faster inference compared to state-of-the-art policies."
    fake_llm.reset(reply(f"{in_short(first)} {invented} {in_short(second)}"))
    body = summary(llm_client, pid, refresh="true")
    assert "25x" not in body["summary"] and body["engine"] == "llm"
    said = [s["text"] for s in body["sentences"]]
    assert said[0] == in_short(first) and in_short(second) in said  # (the main result may join them)
    dropped = [d for d in body["dropped"] if d["sentence"].rstrip(".") == invented.rstrip(".")]
    assert dropped and "25x" in dropped[0]["reason"], body["dropped"]
    assert_grounded(body, paper)


def test_a_tldr_is_one_sentence(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    pid = paper_id(llm_client, "CARP")
    body = summary(llm_client, pid, length="tldr", refresh="true")
    assert len(body["sentences"]) == 1 and len(split_sentences(body["summary"])) == 1
    assert fake_llm.requests[0]["max_tokens"] == 80
    paper = sentences_of(llm_client, pid)
    assert_grounded(body, paper)
    # a model that writes three: the first stays, the others are reported
    three = plain(paper)[:3]
    fake_llm.reset(reply(" ".join(in_short(s) for s in three)))
    body = summary(llm_client, pid, length="tldr", refresh="true")
    assert body["summary"] == in_short(three[0])
    assert [d["reason"] for d in body["dropped"]] == ["a tldr is 1 sentence"] * 2


def test_a_paragraph_past_160_words_is_trimmed_at_a_sentence_boundary(
    llm_client: TestClient, fake_llm: FakeLLM
) -> None:
    pid = paper_id(llm_client, "CARP")
    paper = sentences_of(llm_client, pid)
    # supported sentences of up to 14 words, about 300 in all (the fake stops at 260, mid-sentence)
    long = " ".join(in_short(" ".join(s.split()[start:])) for start in (0, 2, 4, 6, 8) for s in plain(paper))
    assert count_words(long) > 300
    fake_llm.reset(reply(long))
    body = summary(llm_client, pid, refresh="true")
    assert 146 < body["words"] <= 160 and body["length_note"] is None  # one more sentence would pass 160
    assert all(s["text"] in long for s in body["sentences"])  # whole sentences only
    assert any(d["reason"] == "past the 160 words a paragraph may have" for d in body["dropped"])
    assert_grounded(body, paper)


def test_a_short_paragraph_is_kept_and_says_so(llm_client: TestClient, fake_llm: FakeLLM) -> None:
    pid = paper_id(llm_client, "CARP")
    paper = sentences_of(llm_client, pid)
    # (the main result's restatement, asked for next, comes back unreadable and adds nothing)
    fake_llm.reset(reply(" ".join(in_short(s) for s in plain(paper)[:2])), reply("no JSON here"))
    body = summary(llm_client, pid, refresh="true")
    assert len(body["sentences"]) == 2 and body["words"] < 90 and body["engine"] == "llm"
    assert body["length_note"].startswith(f"{body['words']} words, under the 90 a paragraph should have")


def test_without_an_llm_the_summary_quotes_the_paper_with_its_sources(sample_client: TestClient) -> None:
    pid = paper_id(sample_client, "CARP")
    body = summary(sample_client, pid, refresh="true")
    assert body["engine"] == "extractive" and len(body["sentences"]) == 3
    assert [s["sources"] for s in body["sentences"]] == [[1], [2], [3]]
    assert [s["quote"] for s in body["sources"]] == [s["text"] for s in body["sentences"]]
    tldr = summary(sample_client, pid, length="tldr", refresh="true")
    assert len(tldr["sentences"]) == 1 and tldr["sources"][0]["quote"] == tldr["summary"]


def test_a_pdf_summary_shows_its_results_and_cites_pages_and_sections(
    pdf_client: TestClient, fake_llm: FakeLLM
) -> None:
    fake_llm.reset()
    pid = pdf_client.get("/papers").json()["papers"][0]["id"]
    body = summary(pdf_client, pid, refresh="true")
    assert body["engine"] == "llm"
    assert_grounded(body, sentences_of(pdf_client, pid))
    assert all(s["page"] and s["section"] for s in body["sources"]), body["sources"]
    # the model saw the abstract and, beside it, the body's results and a limitation
    written = [r for r in fake_llm.requests if prompt_of(r["messages"][0]["content"]) == "summary"]
    prompt = written[-1]["messages"][-1]["content"]
    assert "From the abstract:" in prompt and "The main result, from the body of the paper" in prompt
    assert "limitation, or what it makes possible, from the body" in prompt
    assert "Creative Commons" not in prompt and "Correspondence" not in prompt


def test_a_paragraph_without_its_main_results_number_gets_it_restated_from_the_paper(
    llm_client: TestClient, fake_llm: FakeLLM, llm_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's paragraph states no number of the paper's result sentences: one short call
    has it choose the main result among them and restate it; checked, it goes in before the
    last sentence with its source, and the call is counted. Switched off, nothing is added."""
    pid = paper_id(llm_client, "CARP")
    paper = sentences_of(llm_client, pid)
    words = [in_short(s, 8) for s in plain(paper) if not re.search(r"\d", s)][:3]
    fake_llm.reset(reply(" ".join(words)))
    body = summary(llm_client, pid, refresh="true")
    tasks = [prompt_of(r["messages"][0]["content"]) for r in fake_llm.requests]
    assert tasks == ["summary", "summary_result"] and body["usage"]["llm_calls"] == 4  # each + its probe
    said = [s["text"] for s in body["sentences"]]
    assert said[:2] == words[:2] and said[-1] == words[2] and len(said) == 4
    restated = body["sentences"][2]
    assert re.search(r"\d", restated["text"]) and restated["text"] in paper
    quotes = [body["sources"][n - 1]["quote"] for n in restated["sources"]]
    assert restated["text"] in quotes
    assert_grounded(body, paper)

    monkeypatch.setattr(llm_services.settings.summary, "result_sentence", False)
    fake_llm.reset(reply(" ".join(words)))
    body = summary(llm_client, pid, refresh="true")
    assert [s["text"] for s in body["sentences"]] == words and len(fake_llm.requests) == 1


def test_trimmed_for_length_the_main_results_restatement_goes_last() -> None:
    from service.checks.summary_checks import Said, fit_length
    from service.core.config import SummarySettings

    long = " ".join(["word"] * 55) + "."
    sentences = [Said(f"Sentence {n}: {long}", []) for n in range(3)]
    sentences.insert(2, Said("The method reaches 91.5% accuracy against 80.2% for the baseline.", [], True))
    kept, cut, _ = fit_length(sentences, "paragraph", 4, SummarySettings())
    assert [s.text[:10] for s in kept] == ["Sentence 0", "Sentence 1", "The method"]
    assert [d.sentence[:10] for d in cut] == ["Sentence 2"]
