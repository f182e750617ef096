"""Acronyms against the words they stand for.

A user writes "LLM-made data" about a paper that only says "Large Language Models"; a
paper writes "PE" after defining "policy evaluation (PE)" once. Checks that look for the
question's names in the papers treat an acronym as present when consecutive words of the
text start with its letters ("vision-language model" spells VLM: a hyphen starts a word).
Only acronyms of three or more letters, and only within one sentence or title: spelled
from the initials of a whole paper's words, any three letters turn up by chance.
"""

from __future__ import annotations

import re

from service.core.config import GroundingSettings

_ACRONYM = re.compile(r"^[A-Z]{3,8}s?$")
_WORD = re.compile(r"[A-Za-z][a-z]*")  # "vision-language" is two words, "Large" one


def is_acronym(name: str) -> bool:
    """ "LLM", "LLMs", "VLM": three to eight capitals (a plural "s" aside)."""
    return _ACRONYM.match(name) is not None


def stands_for(
    acronym: str, texts: list[str], most_chars: int = GroundingSettings().acronym_text_chars
) -> bool:
    """Whether consecutive words of one short text (a sentence, a title: at most `most_chars`
    characters, not a paper) start with the letters of `acronym`, in order ("LLMs": "large
    language models")."""
    letters = acronym.rstrip("s").lower()
    if len(letters) < 3:
        return False
    for text in texts:
        if len(text) <= most_chars and letters in "".join(w[0] for w in _WORD.findall(text)).lower():
            return True
    return False
