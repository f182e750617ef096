"""The model's reply to a matrix prompt: the JSON schema it is held to, and the checks on
every cell it fills.

The reply is one JSON object with a key per column, each `{"sentence": n, "answer": "..."}`:
the number of the shown sentence that states the answer (0: none does) and a short
phrase taken from it. The schema goes to the server as `response_format` (llama.cpp turns
it into a grammar, so even a 1.5B model writes valid JSON with a sentence number it was
shown; a remote server follows it as well). Code then decides every cell: sentence 0, a
"not reported" phrase, a sentence that does not exist, a number the sentence lacks, or
words the sentence does not hold make the cell "not reported" with the reason; else the
answer stands and its quote is the chosen sentence. Nothing the model writes reaches a
cell without its sentence behind it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from service.core.config import MatrixSettings
from service.core.sentinels import NOT_REPORTED
from service.evidence.numbers import unsupported_numbers
from service.evidence.similarity import content_words, stem, stem_words

_NOTHING = re.compile(
    r"^\W*(not (reported|stated|mentioned|specified|given|available|applicable)|n/?a|none|unknown|"
    r"no (information|answer|data)|unclear|0)\W*$",
    re.IGNORECASE,
)
_YES_NO = re.compile(r"^\s*(yes|no)\b[\s,.;:!-]*", re.IGNORECASE)
_YES_NO_QUESTION = re.compile(
    r"^\s*(does|do|did|is|are|was|were|can|could|has|have|had|will|would|should)\b", re.IGNORECASE
)
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.IGNORECASE)


class CellClaim(BaseModel):
    """One column of the reply, as the model wrote it."""

    sentence: int
    answer: str


@dataclass(frozen=True)
class Verdict:
    """A cell after the checks: `sentence` (1-based) is the quote when `answer` stands;
    `reason` says why it does not."""

    answer: str
    sentence: int = 0
    reason: str | None = None

    @property
    def reported(self) -> bool:
        return self.reason is None


def reply_schema(columns: Sequence[str], n_sentences: int, answer_chars: int) -> dict[str, Any]:
    """The JSON schema of a reply: every column, in order, with a sentence number that was
    shown (or 0) and a short answer."""
    cell = {
        "type": "object",
        "properties": {
            "sentence": {"type": "integer", "enum": list(range(n_sentences + 1))},
            "answer": {"type": "string", "maxLength": answer_chars},
        },
        "required": ["sentence", "answer"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {c: cell for c in columns},
        "required": list(columns),
        "additionalProperties": False,
    }


def response_format(columns: Sequence[str], n_sentences: int, answer_chars: int) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "matrix_row", "schema": reply_schema(columns, n_sentences, answer_chars)},
    }


def parse_reply(text: str, columns: Sequence[str]) -> dict[str, CellClaim] | str:
    """The reply's claims by column, or why the reply cannot be read (a string). A column
    the reply leaves out, or writes in the wrong shape, is missing from the claims."""
    try:
        data = json.loads(_FENCE.sub("", text.strip()))
    except ValueError as err:
        return f"the model's reply is not valid JSON ({err.__class__.__name__}: {str(err)[:80]})"
    if not isinstance(data, dict):
        return "the model's reply is JSON but not an object with a key per column"
    by_folded = {" ".join(str(k).lower().split()): v for k, v in data.items()}
    claims: dict[str, CellClaim] = {}
    for column in columns:
        raw = data.get(column, by_folded.get(" ".join(column.lower().split())))
        try:
            claims[column] = CellClaim.model_validate(raw)
        except ValidationError:
            continue
    return claims


def _words_missing(answer: str, sentence: str) -> tuple[list[str], int]:
    """The answer's content words the sentence does not hold (as written), and how many
    content words the answer has. Numbers are checked apart (`unsupported_numbers`);
    hyphenated words count by their parts ("state of the art" = "state-of-the-art")."""
    plain = answer.replace("-", " ")
    words = [w for w in content_words(plain) if not any(ch.isdigit() for ch in w)]
    held = stem_words(sentence) | stem_words(sentence.replace("-", " "))
    missing = {w for w in words if w not in held}
    shown = [w for w in re.findall(r"[A-Za-z][\w']*", plain) if stem(w.lower()) in missing]
    return list(dict.fromkeys(shown)) or sorted(missing), len(words)


def check_claim(
    column: str,
    claim: CellClaim | None,
    sentences: Sequence[str],
    min_share: float = MatrixSettings().min_words_in_sentence,
) -> Verdict:
    """A cell from what the model claimed for `column` over the numbered `sentences`.
    `min_share` (`MATRIX__MIN_WORDS_IN_SENTENCE`): share of the answer's content words
    (stemmed, stop words left out) its sentence must hold: a condensed phrase may add a word
    of its own ("success rate up to 10% better" from "... with up to a 10% improvement"), an
    answer made up elsewhere may not."""
    if claim is None:
        return Verdict(NOT_REPORTED, reason="the model's reply has no entry for this column")
    answer = " ".join(claim.answer.split()).strip(" .;,")
    if claim.sentence == 0 or not answer or _NOTHING.match(answer):
        return Verdict(NOT_REPORTED, reason="none of the paper's sentences shown states it")
    if not 1 <= claim.sentence <= len(sentences):
        return Verdict(
            NOT_REPORTED, reason=f"the model chose sentence {claim.sentence}, which it was not shown"
        )
    quote = sentences[claim.sentence - 1]
    numbers = unsupported_numbers(answer, [quote])
    if numbers:
        listed = ", ".join(sorted(numbers))
        return Verdict(
            NOT_REPORTED, reason=f"the answer's number(s) {listed} are not in sentence {claim.sentence}"
        )
    rest = answer
    verdict = _YES_NO.match(answer) if _YES_NO_QUESTION.match(column) else None
    if verdict:
        rest = answer[verdict.end() :]
    missing, total = _words_missing(rest, quote)
    if total == 0 and verdict is None and not re.search(r"\d", answer):
        return Verdict(
            NOT_REPORTED, reason=f"the answer {answer!r} says nothing sentence {claim.sentence} states"
        )
    if total and (total - len(missing)) / total < min_share:
        said = ", ".join(missing)
        return Verdict(
            NOT_REPORTED, reason=f"the answer's words ({said}) are not in sentence {claim.sentence}: a guess"
        )
    if verdict:
        answer = verdict.group(1).lower() + (f", {rest.strip()}" if rest.strip() else "")
    return Verdict(answer, claim.sentence)
