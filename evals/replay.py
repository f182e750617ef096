"""Record and replay LLM replies, for evaluations that change only what happens around a call.

An ablation that switches off a check after the LLM call asks the model the same prompts
as the run with every check on: replaying their replies from a file makes each variant
cost minutes, not a full run, and gives every variant the very same model outputs (the
embedded model runs at temperature 0, so a recorded reply is the reply). A prompt not seen
before (a variant that changes the evidence, or a verifier judging a different answer) goes
to the model and is recorded.

Only for evals: it wraps one `LLMClient` instance, never the service's code path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from service.components.llm.client import Completion, LLMClient, StreamState


class Replay:
    """Replies of `client` stored in `path` (JSON lines), keyed by the request."""

    def __init__(self, client: LLMClient, path: Path) -> None:
        self.client, self.path = client, path
        self.replies: dict[str, dict[str, Any]] = {}
        self.hits = self.misses = 0
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.replies[row["key"]] = row
        self._complete, self._stream = client.complete, client.stream
        client.complete = self.complete  # type: ignore[method-assign]
        client.stream = self.stream  # type: ignore[method-assign]

    @staticmethod
    def key(kind: str, messages: Any, max_tokens: int, extra: dict[str, Any]) -> str:
        body = json.dumps([kind, messages, max_tokens, extra], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def _save(self, row: dict[str, Any]) -> None:
        self.replies[row["key"]] = row
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")

    def complete(self, messages: Any, max_tokens: int, floor_s: float = 0.0, **extra: Any) -> Completion:
        key = self.key("complete", messages, max_tokens, extra)
        if key in self.replies:
            self.hits += 1
            return Completion(**self.replies[key]["completion"])
        self.misses += 1
        done = self._complete(messages, max_tokens, floor_s, **extra)
        self._save({"key": key, "completion": asdict(done)})
        return done

    def stream(self, messages: Any, max_tokens: int, state: StreamState) -> Iterator[str]:
        key = self.key("stream", messages, max_tokens, {})
        if key in self.replies:
            self.hits += 1
            row = self.replies[key]["state"]
            state.text, state.finish_reason = row["text"], row["finish_reason"]
            state.prompt_tokens, state.completion_tokens = row["prompt_tokens"], row["completion_tokens"]
            if state.text:
                yield state.text
            return
        self.misses += 1
        yield from self._stream(messages, max_tokens, state)
        self._save({"key": key, "state": asdict(state)})
