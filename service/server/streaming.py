"""Server-sent events for the answering services.

A service call takes an `on_delta` callback; `sse(run)` runs it in a worker thread and
turns what it reports into events: `delta` events carry raw model text as it is written,
then one `final` event carries the checked response (the answer may differ: unsupported
sentences are removed). When the client goes away, the next delta stops the generation.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import queue
import threading
from collections.abc import Callable, Generator
from typing import TypeVar

from fastapi import Request, Response
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from service.generation.generate import OnDelta
from service.server.errors import error_body


class ClientGone(Exception):
    """Raised inside the generation when nobody reads the stream any more."""


def wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


def events(run: Callable[[OnDelta], BaseModel]) -> Generator[dict[str, str], None, None]:
    """Run `run(on_delta)` in a thread; yield its deltas, then its result as `final`
    (or an `error` event if it failed after the stream had started)."""
    channel: queue.Queue[tuple[str, str]] = queue.Queue()
    gone = threading.Event()

    def on_delta(text: str) -> None:
        if gone.is_set():
            raise ClientGone
        channel.put(("delta", json.dumps({"text": text}, ensure_ascii=False)))

    def work() -> None:
        try:
            channel.put(("final", run(on_delta).model_dump_json()))
        except ClientGone:
            channel.put(("closed", ""))
        except Exception as err:  # reported in the stream: the 200 header is already sent
            channel.put(("error", error_body(err)))

    context = contextvars.copy_context()  # the request's settings (e.g. X-On-Busy) go along
    threading.Thread(target=context.run, args=(work,), name="paperlens-sse", daemon=True).start()
    try:
        while True:
            kind, data = channel.get()
            if kind == "closed":
                return
            yield {"event": kind, "data": data}
            if kind != "delta":
                return
    finally:
        gone.set()


def sse(run: Callable[[OnDelta], BaseModel]) -> EventSourceResponse:
    return EventSourceResponse(events(run), ping=15)


T = TypeVar("T")


async def until_gone(request: Request, run: Callable[[OnDelta], T], poll_s: float = 0.25) -> T | Response:
    """`run(on_delta)` in a worker thread, for a plain (not streamed) response. When the
    client disconnects first, the next model token stops the generation (ClientGone): the
    LLM slot frees at once and nothing half-made is cached."""
    gone = threading.Event()

    def on_delta(_: str) -> None:
        if gone.is_set():
            raise ClientGone

    task = asyncio.ensure_future(run_in_threadpool(run, on_delta))
    while not task.done():
        await asyncio.wait({task}, timeout=poll_s)
        if not task.done() and await request.is_disconnected():
            gone.set()
            break
    try:
        return await task
    except ClientGone:
        return Response(status_code=499)  # nobody reads it: the client closed the connection
