"""Does a supported answer answer what was asked? Checked after attribution.

Attribution proves each sentence is in the papers; it does not prove the sentence is the
answer. On whole papers the common wrong answer is a true sentence about something else:
a neighbouring result with no number when a number was asked for, or the wrong kind of
number. These rules catch what can be read from the question's form; an answer that
fails them becomes an abstention ("The indexed papers do not answer this question.").
- A quantity question ("how many", "what percentage", "approximately what", "by how much")
  needs a number in the answer; a percentage question needs a percentage.
- An either-or question about a direction ("increase or decrease", "higher or lower")
  needs one of the two in the answer.
- A number in the question is a condition ("on ImageNet at 256 resolution", "with 10
  steps"): the cited sentences must state it, or the answer is about another setting; and
  the answer's number must be the one the cited sentence gives for that condition ("4.17
  FID with 10 NFEs, 3.37 FID ... with 15 NFEs": 4.17 for ten). When the sentence gives one
  other number for it, `rebind_number` puts that number in the answer.
- A question that lists its options ("... Options: a; b; c.") wants one: an answer stating
  several of them hedges between them.
- An answer to "which X ...?" must name something: "the homologs vary between groups" does not.
- A name the question asks about (an acronym or coined name: "GF-Minecraft", "CARP",
  "A6000", "ImageNet") must occur in the cited papers (their text, titles, names): an
  answer about another model or dataset is a neighbouring fact, not the answer.
- What an answer adds to the question must be in its cited sentences (or be the cited
  paper's name), at least in part: a restated question with a new word no citation holds
  is a guess, however similar the whole sentence is to the evidence.
- An answer must add something to the question: "Which robot was it tested on?" answered
  "It was tested on humanoid robots" restates the question and names nothing.
- What the answer adds must come from the part of the cited sentence the question is
  about: "A. baumannii evolved resistance to X, Y and Z, but A. lwoffii only to Y" does not
  support "A. lwoffii evolved resistance to Z" (the clause holding Z holds fewer of the
  question's words than another clause does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from service.checks.acronyms import is_acronym, stands_for
from service.checks.markers import strip_markers
from service.core.config import GroundingSettings
from service.core.sentinels import OPTIONS_MARK
from service.evidence.numbers import numbers_in
from service.evidence.similarity import content_words, stem_words

DEFAULTS = GroundingSettings()  # the thresholds here: `PAPERLENS_GROUNDING__<NAME>`, passed in by callers
_QUANTITY = re.compile(
    r"\b(how (many|much|long|often|large|big|fast|far|old)|approximately (what|how)|"
    r"what (is the |was the )?(percentage|percent|proportion|fraction|number|ratio|fold|concentration|"
    r"rate|size|length|temperature|dose|amount|frequency|half-life|value|time)|by (how much|what factor)|"
    r"to what (extent|degree))\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(
    r"\b(what|which)\b[^?]{0,40}\b(percentage|percent)\b|\bhow many percent\b", re.IGNORECASE
)
_EITHER_OR = re.compile(
    r"\b(increase[sd]?|decrease[sd]?|higher|lower|more|less|up-?regulated|down-?regulated|"
    r"enhance[sd]?|reduce[sd]?|faster|slower|larger|smaller|positive(?:ly)?|negative(?:ly)?)\s+or\s+"
    r"(increase[sd]?|decrease[sd]?|higher|lower|more|less|up-?regulated|down-?regulated|enhance[sd]?|"
    r"reduce[sd]?|faster|slower|larger|smaller|positive(?:ly)?|negative(?:ly)?)\b",
    re.IGNORECASE,
)


# words any answer may add without saying anything ("the authors use ...", "[1]")
_FILLER = stem_words(
    "the a an this that these those it its they their them authors author paper papers work study "
    "method methods approach model models propose proposed use used using show shows shown present "
    "presented introduce introduced based also which what who whom how does do did can could would "
    "is are was were be been being has have had on in of to for by with as at from and or not yes no"
)

# "Which homolog ...?" answered "The homologs vary between groups" names no homolog
_WHICH = re.compile(r"\W*(which|what)\b", re.IGNORECASE)
_VAGUE = stem_words(
    "specific particular various varied vary varies different differ differs several certain some many "
    "multiple other others match matches matched between among type types kind kinds depend depends"
)

# "Which robot / benchmark / strain ...?" asks for a proper name: an answer that only
# describes one ("a pre-trained vision-language model is used to ...") names none
_NAMED_KINDS = stem_words(
    "model models robot robots benchmark benchmarks dataset datasets bacterium bacteria strain strains "
    "virus viruses species organism organisms"
)
_KIND = re.compile(
    r"\W*(?:which|what)\s+((?:[\w-]+\s+){0,3}?)([\w-]+)\s+(?:is|are|was|were|does|do|did|has|have|had|can)\b",
    re.I,
)
# a word shaped like a name, more loosely than `_NAME` below (which finds the names a
# question asks about): letters mixed with digits in lower case too ("bowtie2", "adr-1")
# and a capital after a lower-case letter ("rbfA")
_NAME_SHAPED = re.compile(
    r"[\w-]*(?:[A-Za-z][\w-]*\d|\d[\w-]*[A-Za-z]|[a-z][\w-]*[A-Z])[\w-]*|[A-Z][\w-]*[A-Z][\w-]*"
)
_INNER_CAPITAL = re.compile(r"(?<![.!?]\s)(?<=\s)([A-Z][a-z][\w-]*)")  # after a space, not a full stop

_NUMBERED_NAME = re.compile(r"\b[A-Za-z]+-\d[\w.]*")  # "TDP-43", "Phi-3": a name, not a condition


def _numbers(text: str) -> set[str]:
    """The numbers in `text` that are not part of a name ("TDP-43")."""
    return numbers_in(_NUMBERED_NAME.sub(" ", text))


_NAME = re.compile(
    r"(?<![\w-])([A-Za-z]*[A-Z][A-Za-z]*[-\d][\w*-]*|[A-Z][a-z]+[A-Z][\w*-]*|[A-Z]{3,}[\w*-]*)(?![\w-])"
)


# "HEK293T" is also written "HEK 293T", "HEK-293T" or just "293T": the digits-and-letter core
_CORE = re.compile(r"\d+[A-Za-z][\w]*$")


def _squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def new_names(question: str, text: str) -> list[str]:
    """Names in `text` ("G1", "Phi-3", "ActionBench") that `question` does not hold."""
    asked = question.lower()
    return [n for n in _NAME.findall(text) if n.lower() not in asked]


def asks_which(question: str) -> bool:
    return re.match(r"\W*which\b", question, re.IGNORECASE) is not None


def asks_for_name(question: str) -> bool:
    """ "Which ...?", or "What <robot / benchmark / strain ...>?": the answer is a name."""
    kind = _KIND.match(question)
    return asks_which(question) or (kind is not None and bool(stem_words(kind.group(2)) & _NAMED_KINDS))


_WHICH_HEAD = re.compile(
    r"\W*which\s+(?:(?:one\s+)?of\s+(?:the\s+following|these|the)\s+)?((?:[\w-]+\s+){1,3})", re.I
)


def which_words(question: str) -> set[str]:
    """The words naming what a "which ...?" question asks for ("Which metal ion coordinates"
    -> metal, ion, coordinates): up to three words after "which", stemmed."""
    m = _WHICH_HEAD.match(question)
    return content_words(m.group(1)) - _FILLER if m else set()


def added_words(question: str, answer: str) -> set[str]:
    """The stems `answer` adds to the question, filler aside."""
    return stem_words(strip_markers(answer)) - stem_words(question.split(OPTIONS_MARK, 1)[0]) - _FILLER


def asks_quantity(question: str) -> bool:
    return _QUANTITY.search(question.split(OPTIONS_MARK, 1)[0]) is not None


def _inflected(name: str, words: set[str], letters: int) -> bool:
    """A word of the text that is `name` with another ending, differing by at most `letters`
    letters ("terminus" / "terminal"): letters only and seven or more of them, so "GPT4" is
    never "GPT3" and a short name never matches by chance."""
    if not name.isalpha() or len(name) < 7:
        return False
    root = name[:-letters] if letters else name
    return any(w.startswith(root) and abs(len(w) - len(name)) <= letters for w in words)


_NAMED_WORD = re.compile(r"(?<![.!?:;]\s)(?<=\s)([A-Z][a-z]{2,}[\w-]*)")  # not where a sentence starts


def _title_case(text: str, share: float) -> bool:
    """Whether more than `share` of `text`'s longer words start with a capital ("Does Wound
    Culture Give ...")."""
    words = re.findall(r"[A-Za-z]{4,}", text)
    return bool(sum(w[0].isupper() for w in words) > share * len(words))


def missing_names(question: str, evidence: Sequence[str], tuning: GroundingSettings = DEFAULTS) -> list[str]:
    """Names in `question` that no text of `evidence` contains (case, spaces and hyphens aside)."""
    context = " ".join(evidence).lower()
    squashed = _squash(context)
    words = set(re.findall(r"[0-9a-z]+", context))
    compounds = {_squash(w) for w in re.findall(r"[0-9a-z][0-9a-z-]*", context)}

    def found(name: str) -> bool:
        # "AURORA-finetuned" is about AURORA: its head must be there, not the whole compound;
        # "GPT-5" is a version, its own name ("GPT-4" is another model)
        first, _, rest = name.partition("-")
        head = first if len(first) >= 3 and rest[:1].isalpha() else name
        if head.lower().rstrip("s") in context or _squash(head) in squashed:
            return True
        # "C-terminus" where the paper says "C-terminal"
        if _inflected(_squash(head), compounds, tuning.inflection_letters):
            return True
        # "LLM": "Large Language Models"
        if is_acronym(head) and stands_for(head, list(evidence), tuning.acronym_text_chars):
            return True
        core = _CORE.search(head)
        return (
            core is not None
            and core.start() > 0
            and len(core.group(0)) >= 3
            and core.group(0).lower() in words
        )

    names = _NAME.findall(question)
    # a plain capitalised word inside the question ("with a Llama backbone", "on Atari") names
    # a thing too: an answer from a paper that never mentions it is about something else
    # (not in a question written in Title Case, where capitals mark nothing)
    if not _title_case(question, tuning.title_case_share):
        names += [w for w in _NAMED_WORD.findall(question) if w not in names]
    return [n for n in names if not found(n)]


def unanswered(
    question: str,
    answer: str,
    cited: Sequence[str] = (),
    context: Sequence[str] = (),
    names: Sequence[str] = (),
    tuning: GroundingSettings = DEFAULTS,
) -> str | None:
    """Why `answer` does not answer `question`, or None when its form fits. `cited`: the
    cited sentences; `context`: the cited papers' evidence sentences, titles and names;
    `names`: the cited papers' titles and names alone."""
    stem = question.split(OPTIONS_MARK, 1)[0]
    picked = _options_stated(question, answer)
    if len(picked) > 1:
        return f"the question asks for one of its options and the answer states {len(picked)}: {picked}"
    if context:
        missing = missing_names(stem, [*cited, *context], tuning)
        if missing:
            return f"the question asks about {', '.join(missing)}, which the cited evidence does not mention"
    if cited:
        conditions = _numbers(stem) - numbers_in(" ".join(cited))
        if conditions:
            return f"the question's condition {sorted(conditions)} is not in the cited evidence"
        rivals = _rivals(stem, strip_markers(answer), cited)
        if rivals:
            return f"the cited sentence gives {sorted(rivals)} for the question's condition, not the answer"
    answer = strip_markers(answer)
    if _QUANTITY.search(stem):
        found = _conditions(answer) - _conditions(stem)  # the question's own numbers are no answer
        if not found:
            return "the question asks for a quantity and the answer states none"
        if _PERCENT.search(stem) and not any(n.endswith("%") for n in found):
            return "the question asks for a percentage and the answer states none"
    either = _EITHER_OR.search(stem)
    if either:
        wanted = stem_words(either.group(1)) | stem_words(either.group(2))
        if not wanted & stem_words(answer):
            return f"the question asks '{either.group(0)}' and the answer says neither"
        return None  # it chose one of the question's own words: that is the answer
    if re.match(r"\W*(yes|no)\b", answer, re.IGNORECASE):  # "Yes. <the question's statement>" answers
        return None
    added = added_words(stem, answer)
    if not added:
        return "the answer only restates the question"
    if _WHICH.match(stem) and not added - _VAGUE:
        return "the question asks which one and the answer names none"
    kind = _KIND.match(stem)
    if kind and stem_words(kind.group(2)) & _NAMED_KINDS and not _names_one(answer, cited):
        return f"the question asks which {kind.group(2)} and the answer names none"
    if cited and not added & stem_words(" ".join([*cited, *names])):
        # "... enriched for gluconeogenesis" cited to a sentence about flocculation genes
        return "nothing the answer adds to the question is in the cited sentences"
    if cited and not any(_binds(stem, answer, sentence) for sentence in cited):
        return (
            "what the answer adds belongs to another part of the cited sentence than the question's subject"
        )
    return None


def _names_one(answer: str, cited: Sequence[str]) -> bool:
    """Whether `answer` holds a proper name: a word shaped like one ("Phi-3", "G1",
    "ActionBench"), or one written with a capital inside a sentence of the answer or of
    its cited evidence ("Bifidobacterium", "Unitree"). A name the question holds counts:
    "Which benchmarks did ARNOLD and ... introduce?" is answered by "ARNOLD"."""
    capitalised = {w.lower() for text in (answer, *cited) for w in _INNER_CAPITAL.findall(text)}
    return any(
        _NAME_SHAPED.fullmatch(word) or (word[:1].isupper() and word.lower() in capitalised)
        for word in re.findall(r"[\w-]+", strip_markers(answer))
    )


def _options_stated(question: str, answer: str) -> list[str]:
    """The options listed after "Options:" (separated by ";") whose every content word the
    answer states: "upregulation of POLR2A mRNA and upregulation of 47S rRNA" states two."""
    if OPTIONS_MARK not in question:
        return []
    listed = [o.strip(" .") for o in question.split(OPTIONS_MARK, 1)[1].split(";")]
    said = stem_words(strip_markers(answer))
    return [o for o in listed if (words := stem_words(o) - _FILLER) and words <= said]


# "with ten network evaluations": a condition spelled out (from two: "one" is rarely a number)
_SPELLED = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_SPELLED_WORD = re.compile(rf"\b({'|'.join(_SPELLED)})\b", re.IGNORECASE)


def _conditions(text: str) -> set[str]:
    """The numbers of `text`, spelled ones included ("from two camera views"), names'
    numbers ("TDP-43") left out."""
    spelled = {str(_SPELLED.index(w.lower()) + 2) for w in _SPELLED_WORD.findall(text)}
    return _numbers(text) | spelled


_LIST_PIECE = re.compile(r"[,;]\s+|\s+and\s+")


def _rivals(question: str, answer: str, cited: Sequence[str]) -> set[str]:
    """Numbers a cited sentence binds to the question's condition when the answer's number
    is bound elsewhere: "4.17 FID with 10 NFEs, 3.37 FID ... with only 15 NFEs" makes 4.17,
    not 3.37, the answer for "with ten network evaluations". Empty when the answer's number
    shares a piece of the sentence with the condition, or the condition's pieces hold no
    other number (then the condition may set the scene for the whole sentence)."""
    conditions = _conditions(question)
    new = _numbers(answer) - conditions
    if not conditions or not new:
        return set()
    for sentence in cited:
        pieces = [_numbers(p) for p in _LIST_PIECE.split(sentence)]
        if not any(found & new for found in pieces):
            continue
        if any(found & conditions and found & new for found in pieces):
            return set()
        rivals = {n for found in pieces if found & conditions for n in found - conditions - new}
        if rivals:
            return rivals
    return set()


def rebind_number(question: str, answer: str, cited: Sequence[str]) -> str | None:
    """`answer` with its one number replaced by the one the cited sentence binds to the
    question's condition ("3.37" -> "4.17" for "with ten network evaluations", see
    `_rivals`), or None when there is nothing to rebind or no single number to rebind to."""
    stem = question.split(OPTIONS_MARK, 1)[0]
    rivals = _rivals(stem, strip_markers(answer), cited)
    new = _numbers(strip_markers(answer)) - _conditions(stem)
    if len(rivals) != 1 or len(new) != 1:
        return None
    old = re.compile(rf"(?<![\w.]){re.escape(next(iter(new)))}(?![\w]|\.\d)")
    if len(old.findall(answer)) != 1:
        return None
    return old.sub(next(iter(rivals)), answer)


# "What success rate does it reach, compared with behavior cloning?" asks for both sides
_COMPARED_WITH = re.compile(
    r"\b(?:compared (?:with|to)|in comparison (?:with|to)|versus|vs\.?|relative to)\s+(?P<other>[^?,;]+)",
    re.IGNORECASE,
)
_SIDES = re.compile(r"\s+(?:v\.?s\.?|versus|compared (?:with|to)|than|over|against)\s+|[,;]\s+|\(|\)")


def complete_comparison(question: str, answer: str, cited: Sequence[str]) -> str | None:
    """`answer` with the other side's number added when the question compares with X
    ("compared with X", "versus X"), the answer gives one number and names X without its number, and a
    cited sentence holds exactly one other number beside X ("70% success v.s. 50% for
    behavior cloning": "... compared with behavior cloning (50%) ..."). None otherwise."""
    stem = question.split(OPTIONS_MARK, 1)[0]
    asked = _COMPARED_WITH.search(stem)
    if asked is None:
        return None
    other = asked.group("other").strip()
    side = content_words(other)
    at = strip_markers(answer).lower().find(other.lower())
    given = _numbers(strip_markers(answer)) - _conditions(stem)
    if not side or at < 0 or len(given) != 1:
        return None
    found: set[str] = set()
    for sentence in cited:
        if not given <= _numbers(sentence):
            continue
        for piece in _SIDES.split(sentence):
            if side <= content_words(piece):
                found |= _numbers(piece) - given - _conditions(stem)
    if len(found) != 1:
        return None
    end = answer.lower().find(other.lower()) + len(other)
    return f"{answer[:end]} ({next(iter(found))}){answer[end:]}"


# where a sentence sets one statement against another: the two halves speak of different things
_CONTRAST = re.compile(
    r",?\s+(?:but|while|whereas|although|though|yet|in contrast to|unlike)\s+", re.IGNORECASE
)


def _binds(question: str, answer: str, sentence: str) -> bool:
    """Whether the half of a contrasting `sentence` ("X ..., but Y ...") that holds the
    answer's new words holds as many of the question's words as the other half (True when
    the sentence contrasts nothing, or holds none of the new words: other checks judge those)."""
    parts = [c for c in _CONTRAST.split(sentence) if c.strip()]
    if len(parts) < 2:
        return True
    asked = content_words(question)
    new = content_words(answer) - asked - _FILLER
    held = [(len(asked & words), bool(new & words)) for words in map(content_words, parts)]
    with_new = [count for count, has_new in held if has_new]
    return not with_new or max(with_new) >= max(count for count, _ in held)
