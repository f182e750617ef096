"""Phrases shared by the prompt files and the code that reads the model's replies.

The prompts say them (`{cannot_answer}` in `prompts/ask.md` is rendered from here), the
checks recognise them, and the fake LLM in the tests answers with them. Rewording one
here changes all three together; a prompt file cannot drift from the code that parses it.
"""

from __future__ import annotations

CANNOT_ANSWER = "NOT IN SOURCES"
"""What the ask prompt tells the model to reply when no evidence sentence answers."""

NOT_STATED = "not stated"
"""What the compare prompt tells the model to write for an aspect the paper does not state;
also the text of a compare cell that nothing supports."""

NOT_REPORTED = "not reported"
"""What a literature-matrix cell says when the paper's sentences do not state the column's
answer (the matrix prompt tells the model to write it, and the checks write it for a guess)."""

ABSTAIN_TEXT = "The indexed papers do not answer this question."
"""The answer /ask gives when it abstains."""

PROMPT_SENTINELS: dict[str, str] = {
    "cannot_answer": CANNOT_ANSWER,
    "not_stated": NOT_STATED,
    "not_reported": NOT_REPORTED,
}
"""Rendered into every prompt template that names them."""

NOT_SAID_PREFIX = "The papers do not say"
"""How a yes/no answer opens when the evidence neither confirms nor denies (an abstention)."""

OPTIONS_MARK = " Options:"
"""Where a multiple-choice question lists its options, separated by ";" ("Which ion ...?
Options: sodium; calcium; insufficient information to answer."): the question proper is what
comes before it, and the answer should state one option."""
