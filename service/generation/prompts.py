"""Prompt files (`prompts/<name>.md`) loaded as LangChain chat prompt templates.

A file has a free-text header, then `## system` and `## user` sections whose text is a
template with `{variables}`. The version is the name plus a hash of the file, so editing
a prompt changes the version recorded in responses and in cache keys by itself.
Sentinel phrases (`{cannot_answer}`, `{not_stated}`) are filled in from
`service.core.sentinels`, the same constants the checks and the test fake read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

from service.components.llm.client import Messages
from service.core.errors import ModelFileError
from service.core.sentinels import PROMPT_SENTINELS

_SECTION = re.compile(r"^## (system|user)\s*$", re.MULTILINE)
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    template: ChatPromptTemplate

    @property
    def system_head(self) -> str:
        """The system text up to its first variable: how a reader of the messages (the
        test fake) tells which prompt it was sent, whatever the wording."""
        first = self.template.messages[0]
        template = str(getattr(getattr(first, "prompt", None), "template", ""))
        return template.split("{", 1)[0].strip()

    def render(self, **values: str) -> Messages:
        return [
            {"role": _ROLES.get(m.type, m.type), "content": str(m.content)}
            for m in self.template.format_messages(**values)
        ]


@lru_cache(maxsize=32)
def load_prompt(directory: Path, name: str) -> Prompt:
    path = directory / f"{name}.md"
    if not path.is_file():
        raise ModelFileError(f"prompt file {path} is missing (PAPERLENS_PROMPTS_DIR={directory})")
    text = path.read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    sections = dict(zip(parts[1::2], (p.strip() for p in parts[2::2]), strict=True))
    if set(sections) != {"system", "user"}:
        raise ModelFileError(f"{path} needs exactly one '## system' and one '## user' section")
    template = ChatPromptTemplate.from_messages([("system", sections["system"]), ("human", sections["user"])])
    wanted = {k: v for k, v in PROMPT_SENTINELS.items() if k in template.input_variables}
    template = template.partial(**wanted)
    version = f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
    return Prompt(name, version, template)
