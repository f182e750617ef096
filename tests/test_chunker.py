"""Sentence splitting and token-bounded chunking."""

from __future__ import annotations

import pytest

from service.components.chunker import chunk_text
from service.components.sentences import complete_sentences, sentence_spans, split_sentences
from service.components.tokens import count_tokens
from service.core.config import Settings
from service.corpus.paper import Paper


def test_sentences_respect_abbreviations_numbers_and_initials() -> None:
    text = (
        "We follow Smith et al. and use e.g. BERT. Accuracy rose to 93.5% on GLUE. "
        "Fig. 2 shows results by J. Doe! Does it scale? Yes."
    )
    assert split_sentences(text) == [
        "We follow Smith et al. and use e.g. BERT.",
        "Accuracy rose to 93.5% on GLUE.",
        "Fig. 2 shows results by J. Doe!",
        "Does it scale?",
        "Yes.",
    ]


@pytest.mark.parametrize(
    ("cut", "kept"),
    [
        ("CARP is fast [1]. It uses e.g. coarse", "CARP is fast [1]."),
        ("CARP is fast. [1] UVA predicts", "CARP is fast. [1]"),
        ("CARP is fast (10x). UVA (unified video", "CARP is fast (10x)."),
        ("Does it scale? Yes, up to 3.", "Does it scale? Yes, up to 3."),
        ("The authors focus on planning and", ""),
    ],
)
def test_a_cut_reply_keeps_only_its_finished_sentences(cut: str, kept: str) -> None:
    assert complete_sentences(cut) == kept


def test_sentence_offsets_slice_the_text_and_paragraphs_split() -> None:
    text = "First para ends here\n\nSecond para. Two sentences."
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "First para ends here",
        "Second para.",
        "Two sentences.",
    ]


def test_chunks_are_bounded_contiguous_and_keep_sentence_spans() -> None:
    sentence = "Diffusion policies model multimodal action distributions well. "
    text = (sentence * 60).strip()
    chunks = chunk_text("p1", text, max_tokens=100, overlap=1)
    assert len(chunks) > 3
    for i, c in enumerate(chunks):
        assert c.position == i
        assert c.text == text[c.char_start : c.char_end]
        assert c.n_tokens <= 100
        assert all(c.text[a:b].endswith(".") for a, b in c.sentences)
    # one sentence of overlap: each chunk starts with the last sentence of the previous
    first_last = chunks[0].sentences[-1]
    assert chunks[1].char_start == chunks[0].char_start + first_last[0]


def test_a_sentence_longer_than_the_budget_is_cut_at_words() -> None:
    text = " ".join(f"word{i}" for i in range(400)) + "."
    chunks = chunk_text("p", text, max_tokens=50, overlap=0)
    assert len(chunks) > 5
    assert all(c.n_tokens <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks) == text


def test_sample_abstracts_are_one_or_two_chunks_at_the_default_size(sample_papers: list[Paper]) -> None:
    size = Settings.model_fields["chunk_tokens"].default
    counts = [len(chunk_text(p.paper_id, p.body, size)) for p in sample_papers]
    assert all(1 <= n <= 2 for n in counts)
    assert len(chunk_text("x", sample_papers[0].body, 400)) == 1


def test_tiktoken_runs_offline_from_the_bundled_file() -> None:
    assert count_tokens("hello world") == 2
