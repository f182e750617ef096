"""What a request must pass before any route runs: an allowed Host header, CORS, and the
per-client rate limits.

Host: a loopback instance accepts loopback names only, so a page on another site cannot
reach it by DNS rebinding. Rate limits: a token bucket per API key name (per client
address when keys are off), and a second, smaller one for the routes that call the LLM.
Over a limit: 429 with `Retry-After` in the error shape. (401s are limited per address in
`auth.py`, with the same buckets, before any key is checked.) With PAPERLENS_QUEUE_URL the
buckets live in Redis, shared by every replica (`components/shared_state.py`); otherwise in
this process's memory.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from service.components.shared_state import RedisBuckets, shared_client
from service.core.config import Settings
from service.server.asgi import CheckMiddleware
from service.server.errors import error_response

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
LLM_ROUTES = ("/ask", "/compare", "/v1/chat/completions")
_UNLIMITED = frozenset({"/healthz", "/readyz", "/metrics"})


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(settings: Settings) -> list[str]:
    if settings.allowed_hosts is not None:
        return settings.allowed_hosts
    return list(LOOPBACK_NAMES) if is_loopback(settings.host) else ["*"]


def host_name(header: str) -> str:
    """The Host header without its port (`[::1]:8000` -> `[::1]`)."""
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def is_llm_route(method: str, path: str) -> bool:
    if method == "GET" and path.startswith("/papers/") and path.endswith("/summary"):
        return True
    if method == "POST" and (
        path == "/matrix" or (path.startswith("/matrix/") and path.endswith("/columns"))
    ):
        return True
    return method == "POST" and path in LLM_ROUTES


@dataclass
class TokenBuckets:
    """One bucket per client: `rate` tokens a second, holding at most `burst`."""

    rate: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # client -> (tokens, at)

    def wait(self, client: str) -> float:
        """The seconds until `client` has a token (0: it has one now); takes none."""
        now = time.monotonic()
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, client: str) -> float:
        """0 when a token was taken; otherwise the seconds until one is free."""
        now = time.monotonic()
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > 10_000:  # forget the idlest clients
                for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[:5_000]:
                    del self._buckets[key]
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate


class Buckets(Protocol):
    def wait(self, client: str) -> float: ...

    def take(self, client: str) -> float: ...


def make_buckets(settings: Settings, name: str, rate: float, burst: int) -> Buckets:
    """Buckets in Redis, shared by every replica, when QUEUE_URL is set; else in memory."""
    if settings.queue_url:
        return RedisBuckets(shared_client(settings.queue_url), settings.collection_prefix, name, rate, burst)
    return TokenBuckets(rate, burst)


async def take_token(buckets: Buckets, client: str) -> float:
    """`buckets.take(client)`; a Redis round trip runs off the event loop."""
    if isinstance(buckets, TokenBuckets):
        return buckets.take(client)
    return await run_in_threadpool(buckets.take, client)


async def token_wait(buckets: Buckets, client: str) -> float:
    if isinstance(buckets, TokenBuckets):
        return buckets.wait(client)
    return await run_in_threadpool(buckets.wait, client)


def rate_limited(wait: float, why: str) -> Response:
    """429 in the error shape, with `Retry-After` (whole seconds, at least 1)."""
    seconds = max(1, math.ceil(wait))
    response = error_response(429, "rate_limited", f"{why}; retry in {seconds} s")
    response.headers["Retry-After"] = str(seconds)
    return response


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    """Install before the auth middleware, so this runs inside it and knows the key's name."""
    general = make_buckets(settings, "requests", settings.rate_limit_per_s, settings.rate_limit_burst)
    llm = make_buckets(settings, "llm", settings.llm_rate_limit_per_min / 60, settings.llm_rate_limit_burst)

    async def _limits(request: Request) -> Response | None:
        path = request.url.path
        if path not in _UNLIMITED:
            client = getattr(request.state, "key_name", None) or (
                request.client.host if request.client else "unknown"
            )
            checks = [(general, settings.rate_limit_per_s, "PAPERLENS_RATE_LIMIT_PER_S")]
            if is_llm_route(request.method, path):
                checks.append((llm, settings.llm_rate_limit_per_min, "PAPERLENS_LLM_RATE_LIMIT_PER_MIN"))
            for buckets, limit, name in checks:
                wait = await take_token(buckets, client) if limit > 0 else 0.0
                if wait > 0:
                    return rate_limited(wait, f"too many requests from this client ({name}={limit:g})")
        return None

    app.add_middleware(CheckMiddleware, check=_limits)


def install_host_check(app: FastAPI, settings: Settings) -> None:
    names = {h.lower() for h in allowed_hosts(settings)}
    if "*" in names:
        return

    async def _host(request: Request) -> Response | None:
        name = host_name(request.headers.get("host", "")).lower()
        if name not in names:
            return error_response(
                400,
                "host_not_allowed",
                f"Host {name or '(none)'!r} is not served here; allowed: {', '.join(sorted(names))} "
                "(set PAPERLENS_ALLOWED_HOSTS to serve other names)",
            )
        return None

    app.add_middleware(CheckMiddleware, check=_host)


def install_cors(app: FastAPI, settings: Settings) -> None:
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
