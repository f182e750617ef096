"""The longest run of words a generated text copies from its source."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_WORD = re.compile(r"[a-z0-9]+(?:['\-.][a-z0-9]+)*")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def longest_copied_run(generated: str, source: str) -> tuple[int, str]:
    """(length in words, the run) of the longest word sequence of `generated` that also
    appears, word for word, in `source` (case and punctuation ignored)."""
    gen, src = words(generated), words(source)
    if not gen or not src:
        return 0, ""
    # autojunk off: frequent words ("the", "of") must still match inside a copied run
    match = SequenceMatcher(None, gen, src, autojunk=False).find_longest_match(0, len(gen), 0, len(src))
    return match.size, " ".join(gen[match.a : match.a + match.size])
