"""The FastAPI application: routers, middleware, error handlers and background start-up.

Middleware, outermost first: security headers, request id + access log + metrics, Host
check, CORS, API keys (and the 401 limit), rate limits. The API page (/docs) is served from
the bundled Swagger UI files, so it works offline (and under a CSP that names no other host).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from service.container import Container
from service.core.api_keys import ApiKeys
from service.core.config import Settings, get_settings
from service.corpus.parse_pool import ParsePool
from service.server.auth import install_auth
from service.server.body_limit import BodyLimit
from service.server.errors import ERROR_RESPONSES, install_error_handlers
from service.server.guards import install_cors, install_host_check, install_rate_limits
from service.server.headers import SecurityHeaders, inline_script_hashes, page_csp
from service.server.observability import install_observability, metrics_response
from service.server.routes import answers, chat, health, jobs, matrix, papers, search

PAGE_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """`container` may be pre-loaded (tests, CLI); otherwise it loads in the background."""
    settings = settings or get_settings()
    container = container or Container(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ready, _ = container.status
        if not ready:
            container.load_in_background()
        threading.Thread(target=ParsePool.warm, name="paperlens-forkserver", daemon=True).start()
        yield
        container.shutdown()

    app = FastAPI(
        title="paperlens",
        version="0.1.0",
        description="Grounded questions, summaries and comparisons over research papers.",
        lifespan=lifespan,
        docs_url=None,
    )
    app.state.container = container
    app.state.api_keys = ApiKeys(settings.api_keys_file) if settings.api_keys_file is not None else None
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)  # innermost: after keys and rates
    install_rate_limits(app, settings)
    if app.state.api_keys is not None:
        install_auth(app, app.state.api_keys, settings)
    install_cors(app, settings)
    install_host_check(app, settings)
    registry = install_observability(app, container)
    docs_html = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="paperlens API",
        swagger_js_url="/static/swagger/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger/swagger-ui.css",
        swagger_favicon_url="/static/swagger/favicon-32x32.png",
    )
    docs_csp = page_csp(inline_script_hashes(bytes(docs_html.body).decode()))
    app.add_middleware(SecurityHeaders, csp_for={"/docs": docs_csp})
    routers = (
        health.router,
        papers.router,
        jobs.router,
        search.router,
        answers.router,
        matrix.router,
        chat.router,
    )
    for router in routers:
        app.include_router(router, responses=ERROR_RESPONSES)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, **ERROR_RESPONSES},
    )
    def metrics() -> Response:
        return metrics_response(registry)

    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")
    app.mount("/app", StaticFiles(directory=str(PAGE_DIR)), name="page")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The research workspace (plain HTML/JS/CSS in service/server/static)."""
        return FileResponse(PAGE_DIR / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_html.body)  # its one inline script is allowed by hash (headers.py)

    return app
