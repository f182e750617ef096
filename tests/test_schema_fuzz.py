"""A property-based fuzz of the OpenAPI schema (schemathesis): generated requests, valid
and invalid, against every operation. No 5xx, every status code declared in the spec,
every response (errors too) in its declared shape and content type."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.container import Container, build_services
from service.corpus.paper import Paper
from service.server.app import create_app

from .conftest import make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, embedder: OnnxMiniLMEmbedder, sample_papers: list[Paper]
) -> Iterator[schemathesis.schemas.BaseSchema]:
    data: Path = tmp_path_factory.mktemp("fuzz")
    services = build_services(make_settings(data), embedder=embedder)
    services.ingest.ingest(sample_papers[:8])
    app = create_app(services.settings, Container.of(services))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)


def fuzz(api: schemathesis.schemas.BaseSchema, examples: int = 40) -> list[str]:
    """Every operation tried with `examples` generated requests; the failures, one per operation."""
    failures: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: schemathesis.Case[Any]) -> None:
            # Not checked: that every schema-valid request is accepted. Some limits are settings
            # (question length, papers per request) or need the store (an empty query), and
            # answer a 4xx in the error shape; the spec declares those statuses.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as err:  # every operation is tried; all are reported
            failures.append(f"{operation.label}: {err}"[:2000])
    return failures


def test_api_conforms_to_its_schema(api_schema: schemathesis.schemas.BaseSchema) -> None:
    failures = fuzz(api_schema)
    assert not failures, "\n\n".join(failures)


def test_the_fuzz_finds_a_500_and_an_undeclared_status() -> None:
    broken = FastAPI()

    @broken.get("/boom")
    def boom(n: int = 0) -> dict[str, int]:
        return {"n": 1 // n}  # n=0 (the first example) is a ZeroDivisionError: a 500

    @broken.get("/teapot", responses={200: {"description": "ok"}})
    def teapot() -> JSONResponse:
        return JSONResponse({"tea": True}, status_code=418)

    failures = fuzz(schemathesis.openapi.from_asgi("/openapi.json", broken), examples=10)
    assert any("GET /boom" in f for f in failures) and any("GET /teapot" in f for f in failures)
