"""What LLM calls cost: one type for the services that count it and the response model
that reports it (`schemas.UsageOut` is this, with the API's name)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel


class Usage(BaseModel):
    """LLM calls and tokens one result cost (zero for a cache hit)."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int

    @classmethod
    def zero(cls) -> Self:
        return cls(llm_calls=0, prompt_tokens=0, completion_tokens=0)

    def add(self, other: Usage) -> None:
        self.llm_calls += other.llm_calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
