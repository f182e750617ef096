"""API-key checks for every route but the health probes (when a keys file is set).

No key, or one the file does not hold: 401. A `read` key on a route that changes the
store (ingest, delete, a summary refresh): 403. Both in the error shape. Keys are never
logged; the request log names the key's name only.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from service.core.api_keys import ApiKeys, Scope
from service.server.asgi import CheckMiddleware
from service.server.errors import error_response

PUBLIC = frozenset({"/healthz", "/readyz", "/", "/docs", "/openapi.json"})
PUBLIC_PREFIXES = ("/app/", "/static/")  # the page's and the API page's own files
READ_POSTS = frozenset({"/search", "/ask", "/compare", "/v1/chat/completions"})


def needed_scope(method: str, path: str, refresh: bool) -> Scope | None:
    """The scope a request needs; None for the public health probes."""
    if path in PUBLIC or path.startswith(PUBLIC_PREFIXES):
        return None
    if method in ("GET", "HEAD", "OPTIONS"):
        return "write" if refresh else "read"
    return "read" if method == "POST" and path in READ_POSTS else "write"


def install_auth(app: FastAPI, keys: ApiKeys) -> None:
    async def _auth(request: Request) -> Response | None:
        refresh = request.query_params.get("refresh", "").lower() in ("1", "true", "yes")
        scope = needed_scope(request.method, request.url.path, refresh)
        if scope is None:
            return None
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        record = keys.check(token) if token else None
        if record is None:
            response = error_response(
                401,
                "unauthorized",
                "send an API key as 'Authorization: Bearer <key>' (`paperlens keys add NAME` makes one)"
                if not token
                else "this API key is not valid (revoked, or never issued)",
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if scope == "write" and record.scope != "write":
            return error_response(
                403,
                "forbidden",
                f"key {record.name!r} has scope 'read'; "
                f"{request.method} {request.url.path} needs a 'write' key",
            )
        request.state.key_name = record.name  # kept in the scope: rate limits and the log read it
        return None

    app.add_middleware(CheckMiddleware, check=_auth)
