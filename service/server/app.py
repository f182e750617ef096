"""The FastAPI application: routers, error handlers and background start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.container import Container
from service.core.api_keys import ApiKeys
from service.core.config import Settings, get_settings
from service.server.auth import install_auth
from service.server.errors import install_error_handlers
from service.server.routes import answers, health, jobs, papers, search


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """`container` may be pre-loaded (tests, CLI); otherwise it loads in the background."""
    settings = settings or get_settings()
    container = container or Container(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ready, _ = container.status
        if not ready:
            container.load_in_background()
        yield

    app = FastAPI(
        title="paperlens",
        version="0.1.0",
        description="Grounded questions, summaries and comparisons over research papers.",
        lifespan=lifespan,
    )
    app.state.container = container
    install_error_handlers(app)
    if settings.api_keys_file is not None:
        install_auth(app, ApiKeys(settings.api_keys_file))
    for router in (health.router, papers.router, jobs.router, search.router, answers.router):
        app.include_router(router)
    return app
