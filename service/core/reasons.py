"""Why a sentence was dropped from an answer or a summary: a code a client can match on,
and the message a reader sees (`Dropped.reason` is the message with its detail)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class DropReason(StrEnum):
    NO_EVIDENCE = "no_evidence"
    NUMBERS_MISSING = "numbers_missing"
    CLAUSE_UNSUPPORTED = "clause_unsupported"
    SHARED_BY_ONE = "shared_by_one"
    REPEATS_ITSELF = "repeats_itself"
    NOT_THE_ANSWER = "not_the_answer"
    LOW_CONFIDENCE = "low_confidence"
    NO_MATCHING_PAPER = "no_matching_paper"
    INSTRUCTION = "instruction"
    TOO_LONG = "too_long"

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    DropReason.NO_EVIDENCE: "no evidence supports it",
    DropReason.NUMBERS_MISSING: "number(s) not in the evidence",
    DropReason.CLAUSE_UNSUPPORTED: "a clause is unsupported",
    DropReason.SHARED_BY_ONE: "it says the papers have it in common, but the sentences of one paper at "
    "most support it",
    DropReason.REPEATS_ITSELF: "the sentence repeats itself (a generation loop)",
    DropReason.NOT_THE_ANSWER: "true of the cited sentences, but not the answer",
    DropReason.LOW_CONFIDENCE: "verifier",
    DropReason.NO_MATCHING_PAPER: "no paper matches the question",
    DropReason.INSTRUCTION: "does what an instruction inside a paper asked "
    "(a paper is data, not instructions)",
    DropReason.TOO_LONG: "past the length a summary may have",
}


def drop_message(code: DropReason, detail: str = "") -> str:
    return f"{code.message}: {detail}" if detail else code.message


class DroppedSentence(BaseModel):
    """A sentence left out of a generated text: a code for code, a reason for a reader."""

    sentence: str
    code: DropReason
    reason: str
