"""A cap on the size of every request body (PAPERLENS_MAX_REQUEST_BYTES).

A declared Content-Length over the cap is refused before anything is read; a body without
one (chunked) is counted as it streams in and cut off at the cap. Either way the answer is
a 413 in the service's error shape that says what to do. Whatever the route made of a body
that was cut off (FastAPI answers 400 to a body it could not read) is replaced by the 413.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.server.errors import error_response


class _Cut(Exception):
    """The body went past the cap while it streamed in."""


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _refusal(self) -> str:
        return (
            f"the request body is over the {self.limit:,}-byte limit (PAPERLENS_MAX_REQUEST_BYTES); "
            "send fewer or smaller files (or papers) per request"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await error_response(413, "too_large", self._refusal())(scope, receive, send)
            return
        received = 0
        cut = started = False

        async def counted() -> Message:
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    cut = True
                    raise _Cut
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if cut:  # the route's answer to a body it could not finish reading
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not cut:
                raise
        if cut and not started:
            await error_response(413, "too_large", self._refusal())(scope, receive, send)
