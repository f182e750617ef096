"""The longest run of words a generated text copies from its source."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:['\-.][a-z0-9]+)*")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def longest_copied_run(generated: str, source: str) -> tuple[int, str]:
    """(length in words, the run) of the longest word sequence of `generated` that also
    appears, word for word, in `source` (case and punctuation ignored)."""
    gen, src = words(generated), words(source)
    if not gen or not src:
        return 0, ""
    best, best_end = 0, 0
    prev = [0] * (len(src) + 1)
    for i in range(1, len(gen) + 1):
        cur = [0] * (len(src) + 1)
        gi = gen[i - 1]
        for j in range(1, len(src) + 1):
            if gi == src[j - 1]:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best, best_end = cur[j], i
        prev = cur
    return best, " ".join(gen[best_end - best : best_end])
