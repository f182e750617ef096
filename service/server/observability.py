"""Request ids, one log line per request (text or JSON), and Prometheus metrics.

Every response carries `X-Request-ID` (the caller's, when it sent a sane one). The access
log names the route template, status, time and the API key's *name* (never the key).
`GET /metrics` serves the standard Prometheus text format from the official client:
request counters and latency histograms recorded here, and gauges read at scrape time
from the services (LLM queue, tokens, degraded answers, ingest jobs, store size).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.container import Container
from service.core.redact import redact
from service.server.errors import error_response

access_log = logging.getLogger("paperlens.access")
request_id: ContextVar[str] = ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class RedactingFormatter(logging.Formatter):
    """Plain text lines with URL passwords and secret query values masked (`core/redact.py`):
    an error that quotes a setting's URL does not put its password in the log."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any extras
    (URL passwords and secret query values masked, as in the text lines)."""

    EXTRAS = ("method", "route", "path", "status", "ms", "key")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        out.update({k: getattr(record, k) for k in self.EXTRAS if hasattr(record, k)})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(out, ensure_ascii=False))


def configure_logging(fmt: str) -> None:
    """Root logging for `paperlens serve`: text lines, or JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else RedactingFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


class ServiceCollector(Collector):
    """Figures read from the services when Prometheus scrapes (nothing when not ready)."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def collect(self) -> Iterable[Metric]:
        ready, _ = self.container.status
        yield GaugeMetricFamily("paperlens_ready", "1 when the store and models are loaded", value=int(ready))
        if not ready:
            return
        s = self.container.services
        gate, stats = s.generator.gate, s.generator.stats
        yield GaugeMetricFamily(
            "paperlens_llm_queue_waiting", "LLM calls waiting for a slot", value=gate.waiting
        )
        yield GaugeMetricFamily("paperlens_llm_running", "LLM calls running", value=gate.running)
        wait = CounterMetricFamily("paperlens_llm_queue_wait_seconds", "Seconds LLM calls waited for a slot")
        wait.add_metric([], gate.wait_total_s)
        yield wait
        yield CounterMetricFamily("paperlens_llm_queue_waits", "LLM calls that got a slot", value=gate.waits)
        yield CounterMetricFamily(
            "paperlens_llm_refused",
            "LLM calls refused with 503 (queue full or wait too long)",
            value=gate.refused,
        )
        yield CounterMetricFamily("paperlens_llm_calls", "LLM calls completed", value=stats.calls)
        yield CounterMetricFamily("paperlens_llm_failed", "LLM calls that failed", value=stats.failed)
        tokens = CounterMetricFamily("paperlens_llm_tokens", "LLM tokens", labels=["kind"])
        tokens.add_metric(["prompt"], stats.prompt_tokens)
        tokens.add_metric(["completion"], stats.completion_tokens)
        yield tokens
        yield CounterMetricFamily(
            "paperlens_degraded_answers",
            "Answers from the extractive fallback when an LLM was wanted",
            value=stats.degraded,
        )
        yield CounterMetricFamily(
            "paperlens_injections_withheld",
            "LLM replies withheld for doing what an instruction inside a paper asked",
            value=stats.injections,
        )
        yield CounterMetricFamily(
            "paperlens_paper_text_steered",
            "Calls not made because the paper text shown steered the model (the known-answer probe)",
            value=stats.steered,
        )
        yield CounterMetricFamily(
            "paperlens_injection_probes",
            "Known-answer probes sent before calls showing paper text",
            value=stats.probes,
        )
        jobs = GaugeMetricFamily("paperlens_ingest_jobs", "Ingest jobs by status", labels=["status"])
        for status, n in sorted(s.jobs.store.counts().items()):
            jobs.add_metric([status], n)
        yield jobs
        yield GaugeMetricFamily("paperlens_store_papers", "Papers in the store", value=s.store.papers.count())
        yield GaugeMetricFamily("paperlens_store_chunks", "Chunks in the store", value=s.store.chunks.count())


def install_observability(app: FastAPI, container: Container) -> CollectorRegistry:
    """Request ids, access log and metrics; returns the app's own registry (one per app,
    so several apps in one process, as in the tests, keep separate counts)."""
    registry = CollectorRegistry()
    requests = Counter(
        "paperlens_requests", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "paperlens_request_seconds",
        "HTTP request latency (to the response head; streams run on)",
        ["route"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        registry=registry,
    )
    registry.register(ServiceCollector(container))

    def record(scope: Scope, status: int, elapsed: float) -> None:
        request = Request(scope)
        route = getattr(scope.get("route"), "path", "unmatched")
        requests.labels(request.method, route, str(status)).inc()
        latency.labels(route).observe(elapsed)
        access_log.info(
            "%s %s %s %.1f ms",
            request.method,
            request.url.path,
            status,
            elapsed * 1000,
            extra={
                "method": request.method,
                "route": route,
                "path": request.url.path,
                "status": status,
                "ms": round(elapsed * 1000, 1),
                "key": scope.get("state", {}).get("key_name"),
            },
        )

    app.add_middleware(ObservedMiddleware, record=record)
    return registry


class ObservedMiddleware:
    """Pure ASGI (see `asgi.py`): sets the request id, adds `X-Request-ID` to the response
    head, and records route, status and time to the head once the app has answered."""

    def __init__(self, app: ASGIApp, record: Callable[[Scope, int, float], None]) -> None:
        self.app = app
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _SANE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        t0 = time.perf_counter()
        head: dict[str, float] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-ID", rid)
                head.update(status=message["status"], at=time.perf_counter())
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # answered here so the 500 carries the request id and is counted
            access_log.exception("unhandled error")
            if not head:
                response = error_response(500, "internal", "internal error; the server log has details")
                await response(scope, receive, send_with_id)
        finally:
            self.record(scope, int(head.get("status", 500)), head.get("at", time.perf_counter()) - t0)
            request_id.reset(token)


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
