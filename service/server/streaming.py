"""Server-sent events for the chains' ("delta" | "final", data) event streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sse_starlette.sse import EventSourceResponse


def wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


def sse(events: Iterator[tuple[str, dict[str, Any]]]) -> EventSourceResponse:
    """`delta` events carry raw model text as it is written; the one `final` event carries
    the checked response (the answer may differ: unsupported sentences are removed)."""

    def encode() -> Iterator[dict[str, str]]:
        for event, data in events:
            yield {"event": event, "data": json.dumps(data, ensure_ascii=False)}

    return EventSourceResponse(encode(), ping=15)
