"""Every error leaves as `{"error": {"code", "message"}}` with a 4xx where the caller
can fix it. Unexpected failures are logged and answered with a plain 500 message,
never a stack trace."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.core.errors import PaperlensError
from service.schemas import ErrorOut

log = logging.getLogger(__name__)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "Bad input (the message says what to change), or a Host this instance does not serve",
        401: "No API key, or one that is not valid (when keys are on)",
        403: "The API key's scope does not cover this route",
        404: "No such paper, job or route",
        405: "Method not allowed (the Allow header lists the allowed ones)",
        413: "Too large: a file, a batch or a request over its limit",
        415: "Unsupported file format",
        422: "A field is missing or out of range",
        429: "Rate limited: retry after the Retry-After header's seconds",
        500: "Internal error (a bug; the server log has details)",
        503: "Not ready yet, shutting down, or the model is busy (Retry-After)",
    }.items()
}
"""Declared on every route, so the OpenAPI spec lists every status the service can answer."""


_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}


def error_payload(status: int, code: str, message: str) -> dict[str, Any]:
    """`{"error": {code, message, type, param}}`: paperlens's shape, which is also OpenAI's,
    so OpenAI clients of /v1 read paperlens errors as their own."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"code": code, "message": message, "type": kind, "param": None}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_payload(status, code, message), status_code=status)


def error_body(exc: Exception) -> str:
    """The error shape as JSON text, for an error that can no longer change the status
    (it happened inside a stream whose 200 header was sent)."""
    if isinstance(exc, PaperlensError):
        return json.dumps(error_payload(exc.status, exc.code, exc.message))
    log.exception("unhandled error in a stream", exc_info=exc)
    return json.dumps(error_payload(500, "internal", "internal error; the server log has details"))


def describe_request_errors(errors: list[Any]) -> tuple[str, str]:
    """(code, message) for FastAPI's validation errors, in words a caller can act on."""
    parts: list[str] = []
    code = "invalid_request"
    for e in errors:
        if e.get("type") == "json_invalid":
            ctx = e.get("ctx", {}).get("error", "")
            return "invalid_json", f"the request body is not valid JSON ({ctx})".replace(" ()", "")
        loc = [str(x) for x in e.get("loc", ()) if x != "body"]
        where = ""
        for item in loc:
            where += f"[{item}]" if item.isdigit() else (f".{item}" if where else item)
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where or 'body'}: {msg}")
    return code, "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PaperlensError)
    async def _paperlens(_: Request, exc: PaperlensError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message)
        response.headers.update(getattr(exc, "headers", None) or {})  # e.g. Retry-After on a 503
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = describe_request_errors(list(exc.errors()))
        return error_response(400 if code == "invalid_json" else 422, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # a 405 says which methods are allowed
        return response

    @app.exception_handler(RecursionError)
    async def _nested(_: Request, exc: RecursionError) -> JSONResponse:
        return error_response(400, "invalid_json", "the request body is nested too deeply; flatten it")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal", "internal error; the server log has details")
