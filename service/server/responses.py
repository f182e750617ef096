"""The services' domain results as the HTTP response models the routes declare.

A result's fields are the response model's own (`answering/results.py`), so each mapping
reads them by attribute; the JSON is the response model's, in its field order, whether it
goes out as a body, as the SSE `final` event, or from the CLI.
"""

from __future__ import annotations

from service.answering.results import Answer, Comparison, Matrix, Summary
from service.ingest.jobs import IngestJob
from service.schemas import AskOut, CompareOut, JobOut, MatrixOut, SummaryOut


def ask_out(answer: Answer) -> AskOut:
    return AskOut.model_validate(answer, from_attributes=True)


def summary_out(summary: Summary) -> SummaryOut:
    return SummaryOut.model_validate(summary, from_attributes=True)


def compare_out(comparison: Comparison) -> CompareOut:
    return CompareOut.model_validate(comparison, from_attributes=True)


def matrix_out(matrix: Matrix) -> MatrixOut:
    return MatrixOut.model_validate(matrix, from_attributes=True)


def job_out(job: IngestJob) -> JobOut:
    return JobOut.model_validate(job, from_attributes=True)
