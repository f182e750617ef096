"""The OpenAI-compatible chat completion, on the same grounded chain as /ask.

`messages` carries the conversation (stateless); its last user message is the question,
rewritten into a standalone one from the earlier turns (`followup`). The reply's text
keeps the [n] markers and ends with a "Sources:" list (title, page, section, quote), so
citations survive in any chat client; the message also carries them as data
(`citations`, plus `question`, `abstained`, `degraded`).
"""

from __future__ import annotations

import time
import uuid

from pydantic import ValidationError

from service.answering.ask_service import AskService
from service.core.errors import BadInput, NotFound
from service.evidence.injection import data_title
from service.generation.generate import OnDelta
from service.retrieval.request_check import CheckedQuery
from service.schemas import (
    MAX_HISTORY_TURNS,
    MAX_TEXT_CHARS,
    AskIn,
    AskOut,
    ChatChoiceOut,
    ChatCompletionIn,
    ChatCompletionOut,
    ChatMessageOut,
    ChatTurn,
    ChatUsageOut,
    CitationOut,
    ModelListOut,
    ModelOut,
)
from service.server.responses import ask_out

MODEL_ID = "paperlens"
STARTED = int(time.time())


def source_line(c: CitationOut) -> str:
    where = "".join(
        part for part in (f", p. {c.page}" if c.page else "", f", {c.section}" if c.section else "")
    )
    # the reply is text another model may read: a title's hidden instruction stays out of it
    return f'[{c.n}] {data_title(c.title)}{where}: "{c.quote}"'


def reply_text(out: AskOut) -> str:
    if out.abstained or not out.citations:
        return out.answer
    return out.answer + "\n\nSources:\n" + "\n".join(source_line(c) for c in out.citations)


class ChatService:
    def __init__(self, ask: AskService) -> None:
        self.ask = ask

    @staticmethod
    def models() -> ModelListOut:
        return ModelListOut(data=[ModelOut(id=MODEL_ID, created=STARTED)])

    def check(self, body: ChatCompletionIn) -> CheckedQuery:
        """The standalone question to answer, or a 4xx that says what to fix."""
        if body.model != MODEL_ID:
            raise NotFound(
                f"the model {body.model!r} does not exist; GET /v1/models lists {MODEL_ID!r}",
                code="model_not_found",
            )
        turns = [m for m in body.messages if m.role in ("user", "assistant")]
        if not turns or turns[-1].role != "user":
            raise BadInput("the last message must be the user's question (role 'user')")
        # earlier answers keep their "Sources:" lines: their titles say what the talk is about
        history = [
            ChatTurn(role="user" if t.role == "user" else "assistant", content=t.text()[:MAX_TEXT_CHARS])
            for t in turns[:-1]
        ][-MAX_HISTORY_TURNS:]
        try:
            request = AskIn(question=turns[-1].text(), paper_ids=body.paper_ids, history=history)
        except ValidationError as err:
            raise BadInput(f"messages: {err.errors()[0]['msg']}") from err
        return self.ask.check(request)

    def message(self, out: AskOut) -> ChatMessageOut:
        return ChatMessageOut(
            content=reply_text(out),
            question=out.question,
            citations=out.citations,
            abstained=out.abstained,
            degraded=out.degraded,
        )

    def complete(self, query: CheckedQuery, on_delta: OnDelta | None = None) -> ChatCompletionOut:
        out = ask_out(self.ask.answer(query, on_delta))
        return ChatCompletionOut(
            id=completion_id(),
            created=int(time.time()),
            model=MODEL_ID,
            choices=[ChatChoiceOut(message=self.message(out))],
            usage=usage_of(out),
        )


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def usage_of(out: AskOut) -> ChatUsageOut:
    u = out.usage
    return ChatUsageOut(
        prompt_tokens=u.prompt_tokens,
        completion_tokens=u.completion_tokens,
        total_tokens=u.prompt_tokens + u.completion_tokens,
    )
