"""Pure ASGI middleware: a check that may answer a request before the app sees it.

Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`) hides the client's
disconnect from the endpoint (`request.is_disconnected()` stays false), so an abandoned
request would run its LLM call to the end. These wrappers pass `receive` through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

Check = Callable[[Request], Awaitable[Response | None]]


class CheckMiddleware:
    """Runs `check(request)` (headers and scope only; the body is the app's) before the app;
    a response it returns answers the request instead."""

    def __init__(self, app: ASGIApp, check: Check) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = await self.check(Request(scope))
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)
