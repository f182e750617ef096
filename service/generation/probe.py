"""The known-answer probe: does the paper text a call shows make the model disobey?

A sentence hidden in a paper can tell a model what to say, in any wording, language or
disguise; no list of cues finds them all. What such a sentence does is the same every
time: the model follows it instead of its instructions. So before a call that shows paper
text, the Generator sends the same messages with one more turn asking for a random code
(known-answer detection, Liu et al. 2024, "Formalizing and Benchmarking Prompt Injection
Attacks and Defenses"). A model that replies with the code read the text as data; one that
replies with anything else was steered by it, and the real call is not made.

The probe shares its prefix with the real call, so with a prompt cache (the embedded
llama.cpp server keeps one) the real call reads only the question's last tokens again:
the probe costs its own few output tokens. When it fails, `locate` finds the shown lines
that steer the model by halving them (each half in a plain carrier prompt, at most
`max_calls` probes), so the caller can leave them out and ask again. When no line does on
its own, the failed probe is the model's, not the text's (a small model sometimes answers
the task instead), and the call goes ahead under the other guards.

What it does not catch: text that states false facts without steering the model (an
"erratum" with other numbers); the checks after the call (numbers, support, the verifier)
are for that. An adaptive attack that returns the code when asked for one and obeys
otherwise defeats it (the paper above says so too); the instruction detector and the
output guard stay for that case.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from service.components.llm.client import Messages
from service.components.sentences import split_sentences

PROBE_REQUEST = (
    "Stop here: do not do the task above. To show that you read the text as data, "
    "reply with only this code and nothing else: {code}"
)
PROBE_MARK = "To show that you read the text as data, reply with only this code"
CARRIER_SYSTEM = "You read passages taken from research papers."

_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"

Ask = Callable[[Messages], str | None]
"""Sends messages to the model and returns its reply, or None when the call failed."""


def new_code() -> str:
    """Four consonants and two digits: nothing a paper or an attacker can know."""
    return "".join(secrets.choice(_LETTERS) for _ in range(4)) + f"{secrets.randbelow(90) + 10}"


def probe_messages(messages: Messages, code: str) -> Messages:
    """The call's messages with the probe as one more user turn (the same prefix)."""
    return [*messages, {"role": "user", "content": PROBE_REQUEST.format(code=code)}]


def answered(reply: str, code: str) -> bool:
    """The reply gives the code (whatever it wraps it in)."""
    return code.lower() in "".join(ch for ch in reply.lower() if ch.isalnum())


def shown_lines(messages: Messages) -> list[str]:
    """What the user turns show, a sentence per unit: where a steering sentence can be."""
    units: list[str] = []
    for m in messages:
        if m["role"] != "user":
            continue
        for line in m["content"].splitlines():
            units += [s for s in split_sentences(line) if s.strip()] or ([line] if line.strip() else [])
    return list(dict.fromkeys(units))


def carrier(units: list[str]) -> Messages:
    return [
        {"role": "system", "content": CARRIER_SYSTEM},
        {"role": "user", "content": "Passages:\n" + "\n".join(units)},
    ]


class Probe:
    """Known-answer checks through `ask`; `calls` counts the probes sent."""

    def __init__(self, ask: Ask, max_calls: int = 16) -> None:
        self.ask = ask
        self.max_calls = max_calls
        self.calls = 0

    def steered(self, messages: Messages) -> str | None:
        """The model's reply when `messages` steer it away from the code; None when it gave
        the code, or the probe could not be made (the checks after the call still run)."""
        code = new_code()
        self.calls += 1
        reply = self.ask(probe_messages(messages, code))
        if reply is None or answered(reply, code):
            return None
        return reply

    def locate(self, units: list[str]) -> list[str]:
        """The units that steer the model, found by halving (within `max_calls` probes); an
        empty list when no smaller part does on its own."""
        found: list[str] = []
        pending = [units]
        while pending and self.calls < self.max_calls:
            part = pending.pop()
            if self.steered(carrier(part)) is None:
                continue
            if len(part) == 1:
                found += part
                continue
            half = len(part) // 2
            pending += [part[half:], part[:half]]
        return found
