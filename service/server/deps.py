"""FastAPI dependency aliases: routes ask for what they need by type."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header, Request

from service.container import Container, Services
from service.core.config import Settings
from service.generation.generate import busy_fallback


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_services(container: Annotated[Container, Depends(get_container)]) -> Services:
    return container.services  # raises NotReady -> 503


def get_settings_dep(container: Annotated[Container, Depends(get_container)]) -> Settings:
    return container.settings


async def on_busy(
    x_on_busy: Annotated[
        Literal["error", "degraded"],
        Header(
            description="When the model's queue is full: `error` (default) answers 503 with Retry-After; "
            "`degraded` answers from the extractive engine at once, flagged `degraded`."
        ),
    ] = "error",
) -> None:
    """Async, so the choice is set in the request's own context and reaches the worker thread."""
    busy_fallback.set(x_on_busy == "degraded")


ContainerDep = Annotated[Container, Depends(get_container)]
ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
