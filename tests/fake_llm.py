"""A deterministic fake OpenAI-compatible chat server for unit tests.

It runs on loopback, so tests exercise the real client path (openai SDK, tenacity,
SSE streaming). Behaviour: a script of actions consumed one per request (HTTP errors
with headers, delays longer than the client's timeout, fixed replies), then a default
rule-based reply that depends only on the prompt.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from service.core.config import Settings
from service.core.sentinels import CANNOT_ANSWER, NOT_REPORTED
from service.generation.probe import PROBE_MARK
from service.generation.prompts import load_prompt

PROMPTS = Settings.model_fields["prompts_dir"].default

_EVIDENCE = re.compile(r"^\[(\d+)\] ()(.*)$", re.MULTILINE)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Action:
    kind: str  # "status", "sleep", "reply", "cut", "malformed"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    text: str = ""


def status(code: int, **headers: str) -> Action:
    return Action("status", status=code, headers={k.replace("_", "-"): v for k, v in headers.items()})


def sleep(seconds: float) -> Action:
    return Action("sleep", seconds=seconds)


def reply(text: str) -> Action:
    return Action("reply", text=text)


def cut() -> Action:
    """A stream that stops after three pieces, without finish_reason or [DONE]."""
    return Action("cut")


def malformed() -> Action:
    """A body (or SSE data) that is not JSON."""
    return Action("malformed")


def prompt_of(system: str) -> str:
    """Which prompt file a request was rendered from: matched on the prompt's own system
    text (`Prompt.system_head`), so rewording a prompt cannot silently change the fake."""
    names = (
        "ask",
        "summary",
        "summary_tldr",
        "summary_result",
        "matrix",
        "compare_summary",
        "verify_choice",
        "verify",
        "library",
        "library_criterion",
        "each_question",
        "each_papers",
    )
    for name in names:
        if system.startswith(load_prompt(PROMPTS, name).system_head):
            return name
    return ""


def default_reply(messages: list[dict[str, str]]) -> str:
    system, user = messages[0]["content"], messages[-1]["content"]
    task = prompt_of(system)
    if task == "matrix":
        return matrix_reply(user)
    if task == "compare_summary":  # two papers' facts of the first aspect, weighed in one sentence
        facts = re.findall(r"^\[(\d+)\] [^:\n]+: (.*)$", user, re.MULTILINE)
        if len(facts) < 2:
            return CANNOT_ANSWER
        (a, first), (b, second) = facts[:2]
        return f"{first.rstrip('.')}, while {second[0].lower()}{second[1:].rstrip('.')} [{a}][{b}]."
    if task == "ask":
        question = user.rsplit("Question:", 1)[-1] if "Question:" in user else user
        words = set(_WORD.findall(question.lower()))
        lines = _EVIDENCE.findall(user)
        if not lines:
            return CANNOT_ANSWER
        n, _, text = max(lines, key=lambda ln: (len(words & set(_WORD.findall(ln[2].lower()))), -int(ln[0])))
        return f"{text} [{n}]"
    if task == "verify":  # yes when a third of the answer's words are in the evidence
        evidence, _, rest = user.partition("\nQuestion: ")
        answer = rest.split("Proposed answer: ", 1)[-1].split("\n", 1)[0]
        said = set(_WORD.findall(answer.lower()))
        return "yes" if len(said & set(_WORD.findall(evidence.lower()))) >= len(said) / 3 else "no"
    if task == "verify_choice":  # the sentence sharing most of the question's words; 0 below two
        evidence, _, question = user.partition("\nQuestion: ")
        asked = set(_WORD.findall(question.split("\n", 1)[0].lower()))
        options = re.findall(r"^(\d+)\. (.*)$", evidence, re.M)
        shared = [(len(asked & set(_WORD.findall(text.lower()))), -int(n)) for n, text in options]
        count, first = max(shared, default=(0, 0))  # ties: the first, as the ask reply picks
        return str(-first) if count >= 2 else "0"
    if task == "each_papers":  # the numbered papers sharing two longer words with the question
        papers, _, question = user.partition("\nQuestion: ")
        asked = {w for w in _WORD.findall(question.lower()) if len(w) > 4}
        lines = re.findall(r"^(\d+)\. (.*)$", papers, re.MULTILINE)
        picked = [int(n) for n, shown in lines if len(asked & set(_WORD.findall(shown.lower()))) >= 2]
        return json.dumps({"papers": picked})
    if task == "each_question":  # the question about several papers, its "each" dropped
        return user.split(": ", 1)[-1].replace(" each", "")
    if task == "library_criterion":
        return f"Does this paper match this: {user.split(': ', 1)[-1].rstrip('?')}?"
    if task == "library":  # yes when the paper's sentences hold two of the question's longer words
        question, _, paper = user.partition("\nPaper: ")
        asked = {w for w in _WORD.findall(question.lower()) if len(w) > 4} - {"question", "papers", "which"}
        return "yes" if len(asked & set(_WORD.findall(paper.lower()))) >= 2 else "no"
    if task == "summary_result":  # the first shown result sentence, restated as it is
        lines = _EVIDENCE.findall(user)
        return json.dumps({"sentence": int(lines[0][0]), "restated": lines[0][2]} if lines else {})
    if task in ("summary", "summary_tldr"):  # 12 words of each numbered sentence (a TLDR: the first)
        lines = _EVIDENCE.findall(user)[: 1 if task == "summary_tldr" else 7]
        return " ".join(f"In short: {' '.join(text.split()[:12]).rstrip('.,;:')}." for _, _, text in lines)
    return "OK"


_VAGUE = {"does", "what", "which", "there", "that", "this", "with", "from", "paper", "used"}


def matrix_reply(user: str) -> str:
    """A matrix row: per column, the shown sentence sharing most of the column's longer words
    (compared on their first five letters), answered with six of its words from the first
    shared one; no such sentence: sentence 0, not reported."""
    columns = re.findall(r'"((?:[^"\\]|\\.)*)"', user.split("\n", 1)[0])
    sentences = _EVIDENCE.findall(user)
    row: dict[str, dict[str, Any]] = {}
    for column in columns:
        asked = {w[:5] for w in _WORD.findall(column.lower()) if len(w) > 3 and w not in _VAGUE}
        best = (0, 0, "")
        for n, _, text in sentences:
            shared = len(asked & {w[:5] for w in _WORD.findall(text.lower())})
            if shared > best[0]:
                best = (shared, int(n), text)
        if not best[0]:
            row[column] = {"sentence": 0, "answer": NOT_REPORTED}
            continue
        words = best[2].split()
        start = next((i for i, w in enumerate(words) if w.lower().strip(".,;:()")[:5] in asked), 0)
        row[column] = {"sentence": best[1], "answer": " ".join(words[start : start + 6]).strip(".,;:")}
    return json.dumps(row)


class FakeLLM:
    def __init__(self) -> None:
        self.script: list[Action] = []
        self.requests: list[dict[str, Any]] = []
        self.probes: list[dict[str, Any]] = []  # known-answer probes, answered with their code
        self.delay_s = 0.0  # every call takes at least this long (a slow model, for load tests)
        # a model that obeys instructions: given the messages, the reply it is told to give, if any
        self.obey: Callable[[list[dict[str, str]]], str | None] | None = None
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._handle)
        self.base_url = ""
        self._server: uvicorn.Server | None = None

    def reset(self, *actions: Action) -> None:
        self.script = list(actions)
        self.requests.clear()
        self.probes.clear()

    async def _handle(self, request: Request) -> Any:
        body = await request.json()
        # a known-answer probe (generation/probe.py) is answered as an honest model would, with
        # its code, and kept apart: scripts and `requests` are about the calls that answer
        probing = PROBE_MARK in body["messages"][-1]["content"]
        (self.probes if probing else self.requests).append(body)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        text = default_reply(body["messages"])
        if probing:
            text = body["messages"][-1]["content"].rsplit(" ", 1)[-1]
        if self.obey is not None and (told := self.obey(body["messages"])) is not None:
            text = told
        kind = ""
        if self.script and not probing:
            action = self.script.pop(0)
            kind = action.kind
            if action.kind == "malformed" and not body.get("stream"):
                return Response("{this is not json", media_type="application/json")
            if action.kind == "status":
                return JSONResponse({"error": {"message": "scripted"}}, action.status, headers=action.headers)
            if action.kind == "sleep":
                await asyncio.sleep(action.seconds)
            if action.kind == "reply":
                text = action.text
        finish = "stop"
        limit = body.get("max_tokens")
        if limit is not None and len(text.split()) > limit:  # a word is a token here
            text, finish = " ".join(text.split()[:limit]), "length"
        prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        }
        if body.get("stream"):
            return StreamingResponse(self._stream(text, usage, kind, finish), media_type="text/event-stream")
        choice: dict[str, Any] = {
            "index": 0,
            "finish_reason": finish,
            "message": {"role": "assistant", "content": text},
        }
        if body.get("logprobs"):  # a sure model: its first word at 0.9, the other word at 0.1
            first = (text.split() or [""])[0]
            other = {"yes": "no", "no": "yes"}.get(first.lower(), "the")
            top = [
                {"token": first, "logprob": math.log(0.9), "bytes": None},
                {"token": other, "logprob": math.log(0.1), "bytes": None},
            ]
            choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
        return {
            "id": "fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [choice],
            "usage": usage,
        }

    async def _stream(
        self, text: str, usage: dict[str, int], kind: str = "", finish: str = "stop"
    ) -> AsyncIterator[str]:
        def chunk(
            delta: dict[str, str] | None, use: dict[str, int] | None = None, finish: str | None = None
        ) -> str:
            payload = {
                "id": "fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "fake",
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
                "usage": use,
            }
            return f"data: {json.dumps(payload)}\n\n"

        pieces = re.findall(r"\S+\s*", text)
        if kind == "malformed":
            yield "data: {this is not json\n\n"
            return
        for i, piece in enumerate(pieces):
            if kind == "cut" and i == 3:  # the server goes away: no finish_reason, no [DONE]
                return
            yield chunk({"content": piece})
        yield chunk({}, finish=finish)
        yield chunk(None, usage)
        yield "data: [DONE]\n\n"

    def start(self, port: int) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="error")
        )
        threading.Thread(target=self._server.run, daemon=True).start()
        while not self._server.started:
            time.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


def iter_sse(raw: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse an SSE body into (event, json data) pairs."""
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            yield event, json.loads("\n".join(data))
