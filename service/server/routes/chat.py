"""OpenAI-compatible API: GET /v1/models and POST /v1/chat/completions (plain or streamed).

Streaming follows the OpenAI chunk format (`data: {...}` lines, then `data: [DONE]`):
a first chunk with the role at once, then the checked answer (the model's raw draft is
never streamed here: a chat client cannot take back text the checks later remove), then
a last chunk with `finish_reason: "stop"` that also carries `citations` and `question`,
and a usage chunk when `stream_options.include_usage` asks for one.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from service.core.errors import PaperlensError
from service.schemas import ChatCompletionIn, ChatCompletionOut, ModelListOut
from service.server.deps import ServicesDep, on_busy
from service.server.errors import error_body
from service.server.openai_chat import MODEL_ID, ChatService, completion_id, usage_of
from service.server.responses import ask_out
from service.server.streaming import until_gone

router = APIRouter(prefix="/v1", tags=["openai-compatible"], dependencies=[Depends(on_busy)])


@router.get("/models", response_model=ModelListOut, summary="The models this server answers as")
def models() -> ModelListOut:
    return ChatService.models()


@router.post(
    "/chat/completions",
    response_model=ChatCompletionOut,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or chunks with stream=true"}
    },
    summary="A grounded chat answer with citations (OpenAI format)",
)
async def chat_completions(body: ChatCompletionIn, request: Request, services: ServicesDep) -> Any:
    chat = ChatService(services.ask)
    query = await run_in_threadpool(chat.check, body)  # bad input: a plain 4xx, never a stream
    if not body.stream:
        return await until_gone(request, lambda on_delta: chat.complete(query, on_delta))
    services.generator.check_capacity()  # a full queue: a 503 now, not inside a 200 stream
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    return EventSourceResponse(_chunks(chat, query, include_usage), ping=15)


def _chunk(cid: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, str]:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return {"data": json.dumps(payload, ensure_ascii=False)}


async def _chunks(chat: ChatService, query: Any, include_usage: bool) -> AsyncIterator[dict[str, str]]:
    cid = completion_id()
    yield _chunk(cid, {"role": "assistant", "content": ""})
    try:
        out = ask_out(await run_in_threadpool(chat.ask.answer, query))
    except PaperlensError as err:  # the 200 head is sent: the error goes in the stream
        yield {"data": error_body(err)}
        yield {"data": "[DONE]"}
        return
    message = chat.message(out)
    for piece in re.findall(r"\S+\s*", message.content):
        yield _chunk(cid, {"content": piece})
    data = message.model_dump(include={"citations", "question", "abstained", "degraded"})
    yield _chunk(cid, {**data}, finish="stop", **data)
    if include_usage:
        usage = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": MODEL_ID}
        yield {"data": json.dumps({**usage, "choices": [], "usage": usage_of(out).model_dump()})}
    yield {"data": "[DONE]"}
