"""The evaluation report writer: headline table first, JSON beside it, PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

from evals.report import write_report


def test_report_has_headline_table_json_and_plots(tmp_path: Path) -> None:
    results = {
        "retrieval": {"recall@5": 1.0, "mrr@10": 0.9875},
        "qa": {
            "summary": {
                "n_questions": 3,
                "answer_accuracy": 0.9,
                "false_abstention_rate": 0.0,
                "completion_tokens_mean": 26.4,
                "abstention_accuracy": 1.0,
                "citation_precision": 0.94,
                "llm_calls_per_question": 0.9,
                "max_llm_calls": 1,
                "prompt_tokens_mean": 428.2,
                "prompt_tokens_max": 590,
                "latency_p50_s": 7.1,
                "latency_p90_s": 9.7,
                "accuracy_by_type": {"single": 0.96, "multi": 0.67, "unanswerable": 1.0},
            },
            "latencies": [12.0, 7.1, 9.7],
            "cached": {"p50_ms": 11.5, "p90_ms": 14.0, "hit_rate": 1.0},
        },
        "speed": {
            "ingest": {"with_embedding_chunks_per_s": 19.3},
            "search": [
                {"chunks": 1000, "search_p50_ms": 4.3, "search_p99_ms": 7.4},
                {"chunks": 10000, "search_p50_ms": 5.9, "search_p99_ms": 9.3},
            ],
        },
        "llm_model": "test-model",
        "suite_runs": {"qa": {"seconds": 90.0, "peak_rss_mib": 2048.4}},
    }
    naive = dict(results["qa"]["summary"])  # type: ignore[index]
    naive.update(
        answer_accuracy=0.6,
        citation_precision=0.0,
        prompt_tokens_mean=856.4,
        latency_p50_s=14.2,
        abstention_accuracy=0.5,
        false_abstention_rate=0.1,
        llm_calls_per_question=1.0,
        completion_tokens_mean=60.0,
    )
    results["qa"]["naive_rag"] = {"summary": naive}  # type: ignore[index]
    same = dict(naive, n_questions=1, answer_accuracy=1.0, prompt_tokens_mean=400.0)
    pqa = dict(naive, n_questions=1, answer_accuracy=0.0, prompt_tokens_mean=5000.0)
    results["qa"]["paperqa2"] = {  # type: ignore[index]
        "summary": pqa,
        "paperlens_same_questions": same,
        "questions_asked": 2,
    }
    path = write_report(results, tmp_path, "run-quick", "quick")
    text = path.read_text()
    assert text.startswith("# paperlens evaluation (quick)\n\n| figure | value |")
    assert "| QA answer accuracy | 0.900 |" in text
    assert "| retrieval recall@5 | 1.000 |" in text
    assert "| answer accuracy | 0.900 | 0.600 | +0.300 |" in text
    assert "| prompt tokens per answer | 428.2 | 856.4 | 0.50x | 400.0 | 5000.0 | 0.08x |" in text
    assert "| answer accuracy | 0.900 | 0.600 | +0.300 | 1.000 | 0.000 | +1.000 |" in text
    assert "| citation precision | 0.940 | 0.000 | +0.940 | 0.000 | not scored | n/a |" in text
    assert "PaperQA2 answered 1 of 2 questions" in text
    assert "| peak RSS while answering (QA suite), MiB | 2048 |" in text
    assert "| qa | 1.5 | 2048 |" in text
    assert "| /ask | 12.00 s | 7.10 / 9.70 s | 11.5 ms (hit rate 1.00) |" in text
    assert "/search p50 ms at 10,000 chunks" in text and "cores" in text and "test-model" in text
    saved = json.loads((tmp_path / "run-quick.json").read_text())
    assert saved["qa"]["summary"]["answer_accuracy"] == 0.9 and saved["machine"]["cores"] >= 1
    for png in ("run-quick-qa-by-type.png", "run-quick-qa-latency.png", "run-quick-search-latency.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
        assert f"]({png})" in text


def test_report_has_the_whole_paper_table_beside_naive_rag_and_paperqa2_published(tmp_path: Path) -> None:
    summary = {
        "papers": 18,
        "questions": 18,
        "pages": 314,
        "chunks": 2200,
        "ingest_seconds": 80.0,
        "paper_recall_at_5": 0.944,
        "key_passage_recall_at_5": 0.5,
        "key_passage_in_evidence": 0.61,
        "citations_with_page": 1.0,
        "ask_p50_s": 9.0,
        "open": {"precision": 0.8, "accuracy": 0.444, "answered": 0.556},
        "choice": {"precision": 0.75, "accuracy": 0.5, "answered": 0.667},
    }
    naive = {"open": {"precision": 0.3, "accuracy": 0.3, "answered": 1.0}}
    test = {**summary, "questions": 34, "open": {"precision": 0.9, "accuracy": 0.6, "answered": 0.667}}
    results = {
        "fulltext": {
            "summary": summary,
            "test": test,
            "naive_rag": {"summary": naive},
            "naive_rag_test": {"summary": {"open": {"precision": 0.5, "accuracy": 0.5, "answered": 1.0}}},
            "distractors": {
                "distractor_papers": 500,
                "questions": 34,
                "paper_recall_at_5": 0.971,
                "key_passage_in_evidence": 0.824,
            },
        }
    }
    text = write_report(results, tmp_path, "ft", "quick").read_text()
    assert "## Whole papers: 18 full-text PDFs, LitQA2-form questions" in text
    assert "| test (34 q) | precision | 0.900 | 0.750 | 0.500 | 0.852 |" in text
    assert "| LitQA2 dev (18 q) | precision | 0.800 | 0.750 | 0.300 | 0.852 |" in text
    assert "| LitQA2 dev (18 q) | accuracy | 0.444 | 0.500 | 0.300 | 0.660 |" in text
    assert "- test: paper recall@5 0.944" in text and "3.9 pages/s" in text and "27.5 chunks/s" in text
    assert "whole papers (own test): precision / accuracy | 0.900 / 0.600" in text
    assert "with 500 PubMedQA abstracts added to the store as distractors" in text
    assert "paper recall@5 0.971; key passage among the evidence 0.824" in text


def test_report_quotes_the_user_test_split_and_speed_against_the_previous_full_report(tmp_path: Path) -> None:
    split = {
        "n_questions": 2,
        "accuracy": 0.5,
        "false_abstention_rate": 0.04,
        "wrong_answer_rate": 0.25,
        "unanswerable_declined": 1.0,
        "multi_cites_every_paper": 0.8,
        "which_names_paper": 1.0,
        "yesno_right": 0.75,
        "invented_numbers": 0,
        "latency_p50_s": 4.6,
    }
    before = {"compare": {"summary": {"latency_p50_s": 43.5, "latency_p50_s_3_papers": 45.0}}}
    (tmp_path / "20260101-000000-full.json").write_text(json.dumps(before))
    results = {
        "user": {"dev": {**split, "accuracy": 0.9}, "test": split},
        "compare": {
            "summary": {
                "latency_p50_s": 9.0,
                "latency_p50_s_3_papers": 11.0,
                "llm_calls_per_request": 1.0,
                "cells_filled": 0.9,
                "quotes_exact": 1.0,
            }
        },
    }
    text = write_report(results, tmp_path, "20260102-000000-full", "full").read_text()
    assert "user-worded questions (test): false abstention / wrong answers | 0.040 / 0.250" in text
    assert "| accuracy (all questions) | 0.500 | 0.900 |" in text  # test first, then dev
    assert "| /compare p50 s (3 papers) | 11.000 | 45.000 | 20260101-000000-full |" in text
