"""FastAPI dependency aliases: routes ask for what they need by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.container import Container, Services
from service.core.config import Settings


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_services(container: Annotated[Container, Depends(get_container)]) -> Services:
    return container.services  # raises NotReady -> 503


def get_settings_dep(container: Annotated[Container, Depends(get_container)]) -> Settings:
    return container.settings


ContainerDep = Annotated[Container, Depends(get_container)]
ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
