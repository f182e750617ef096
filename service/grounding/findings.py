"""Null findings: a results sentence that reports no effect, difference or association.

A yes/no question about an effect ("Does X improve Y?", "Is A associated with B?") is
answered No by a study whose results say "no significant difference", "did not reduce"
or "was not associated", even when that sentence shares few of the question's words and
so is not the sentence `deciding_evidence` picks. A null result only decides the
question when it outweighs the evidence's significant findings: a mixed abstract
("reduced pain but did not shorten the stay") is left to the other rules. The patterns
were chosen on PubMedQA dev items 100-499 (never on the 60 the report scores): where
null findings outnumber significant ones, the gold answer is No about two times in three,
against about one in three overall.
"""

from __future__ import annotations

import re

_NULL = re.compile(
    r"\b(no (statistically )?significant|not (statistically )?significant(ly)?"
    r"|(did|does|do) not (significantly )?\w+"
    r"|no (differences?|association|correlation|relationship|effect|change|improvement|benefit|impact)"
    r"|not (associated|correlated|related|different|predictive)|(were|was) (similar|comparable))\b",
    re.IGNORECASE,
)
_SIGNIFICANT = re.compile(
    r"\b(significant(ly)?|(was|were) associated|correlated with|p\s*[<=]\s*0?\.0[0-4]\d*|p\s*<\s*0?\.05)",
    re.IGNORECASE,
)


def null_finding(sentence: str) -> bool:
    """Whether `sentence` reports no effect, difference or association."""
    return _NULL.search(sentence) is not None


def significant_finding(sentence: str) -> bool:
    """Whether `sentence` reports a significant effect, difference or association."""
    return not null_finding(sentence) and _SIGNIFICANT.search(sentence) is not None
