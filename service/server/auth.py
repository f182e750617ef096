"""API-key checks for every route but the health probes and the pages (when a keys file is set).

No key, or one the file does not hold: 401. A `read` key on a route that changes the
store (ingest, delete, a summary refresh): 403. A keys file that cannot be read or parsed:
503 saying what is wrong with it (never 500, never open). All in the error shape. Keys are
never logged; the request log names the key's name only.

401s are counted per client address (`AUTH_FAILURE_LIMIT_PER_MIN`): over the limit, every
request from that address gets 429 before any key is looked at, so a valid key cannot be
told from a wrong one at speed. A key sent to a public route (e.g. /readyz, for its
details) is checked and counted the same way.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from pydantic import TypeAdapter, ValidationError

from service.core.api_keys import ApiKeys, KeyRecord, KeysFileError, Scope
from service.core.config import Settings
from service.server.asgi import CheckMiddleware
from service.server.errors import error_response
from service.server.guards import make_buckets, rate_limited, take_token, token_wait

PROBES = frozenset({"/healthz", "/readyz"})
PAGES = frozenset({"/"})
PAGE_PREFIXES = ("/app/", "/static/")  # the page's and the API page's own files
DOCS = frozenset({"/docs", "/openapi.json"})  # public unless PAPERLENS_PUBLIC_DOCS=false
READ_POSTS = frozenset({"/search", "/ask", "/compare", "/v1/chat/completions"})

_BOOL = TypeAdapter(bool)  # what FastAPI itself uses for a `bool` query parameter


def query_flag(values: list[str]) -> bool:
    """Whether a boolean query parameter is on, read exactly as the route reads it (pydantic's
    lax bool: 1/on/t/true/y/yes in any case). A spelling the route refuses (422) is off here;
    with the parameter repeated, any true value counts."""
    for value in values:
        try:
            if _BOOL.validate_python(value):
                return True
        except ValidationError:
            continue
    return False


def needed_scope(method: str, path: str, refresh: bool, public_docs: bool = True) -> Scope | None:
    """The scope a request needs; None for the health probes, the pages and (by default) the docs."""
    if path in PROBES or path in PAGES or path.startswith(PAGE_PREFIXES):
        return None
    if path in DOCS and public_docs:
        return None
    if method in ("GET", "HEAD", "OPTIONS"):
        return "write" if refresh else "read"
    if path == "/matrix" or path.startswith("/matrix/"):  # a matrix job reads the store, never writes it
        return "read"
    return "read" if method == "POST" and path in READ_POSTS else "write"


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def install_auth(app: FastAPI, keys: ApiKeys, settings: Settings) -> None:
    failures = make_buckets(
        settings, "auth-failures", settings.auth_failure_limit_per_min / 60, settings.auth_failure_burst
    )
    limit = settings.auth_failure_limit_per_min

    async def over_limit(client: str) -> float:
        return await token_wait(failures, client) if limit > 0 else 0.0

    async def failed(client: str) -> None:
        if limit > 0:
            await take_token(failures, client)

    async def _auth(request: Request) -> Response | None:
        refresh = query_flag(request.query_params.getlist("refresh"))
        scope = needed_scope(request.method, request.url.path, refresh, settings.public_docs)
        client = request.client.host if request.client else "unknown"
        token = bearer_token(request)
        if scope is None:  # public; a key sent along (e.g. to /readyz) is checked and counted
            if token and not await over_limit(client):
                try:
                    known = keys.check(token)
                except KeysFileError:  # no key can be checked: /readyz says so
                    return None
                if known is None:
                    await failed(client)
                else:
                    request.state.key_name = known.name
            return None
        wait = await over_limit(client)
        if wait > 0:
            return rate_limited(
                wait,
                "too many requests without a valid API key from this address "
                f"(PAPERLENS_AUTH_FAILURE_LIMIT_PER_MIN={limit:g})",
            )
        record: KeyRecord | None
        try:
            record = keys.check(token)
        except KeysFileError as err:
            return error_response(err.status, err.code, err.message)
        if record is None:
            await failed(client)
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
