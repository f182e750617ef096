"""Hostile clients and broken operator files (issue 29), through HTTP and the CLI: a read key
cannot force a regeneration by spelling `refresh` differently, a broken keys file is a 503
that says how to fix it, `paperlens config` and the logs never show a URL's password, key
guessing is rate limited, every response carries security headers, and the docs and
/readyz details follow PAPERLENS_PUBLIC_DOCS and the caller's key."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from typer.testing import CliRunner

from service.cli import app as cli
from service.container import Container, Services
from service.core.api_keys import ApiKeys
from service.core.config import get_settings
from service.server.app import create_app
from service.server.observability import configure_logging

Keys = dict[str, str]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_keys(path: Path) -> Keys:
    keys = ApiKeys(path)
    return {"reader": keys.add("reader", "read"), "writer": keys.add("writer", "write")}


def keyed_client(services: Services, keys_file: Path, **overrides: object) -> TestClient:
    settings = services.settings.model_copy(update={"api_keys_file": keys_file, **overrides})
    return TestClient(create_app(settings, Container.of(services)))


# --- 1. one boolean parsing for `refresh` ---------------------------------------------------------
TRUE_WORDS = ("1", "on", "t", "true", "y", "yes")  # pydantic's lax bool, any case (its docs: Booleans)


def every_case(word: str) -> list[str]:
    return sorted({"".join(c) for c in itertools.product(*((ch.lower(), ch.upper()) for ch in word))})


TRUTHY = [spelling for word in TRUE_WORDS for spelling in every_case(word)]


@pytest.fixture(scope="module")
def refresh_setup(
    sample_services: Services, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TestClient, Keys, str]:
    keys_file = tmp_path_factory.mktemp("refresh") / "keys.json"
    keys = make_keys(keys_file)
    client = keyed_client(sample_services, keys_file)
    paper_id = client.get("/papers", headers=bearer(keys["reader"])).json()["papers"][0]["id"]
    return client, keys, paper_id


def test_the_truthy_list_is_pydantics() -> None:
    # every spelling below is one FastAPI's own `bool` query parsing reads as true
    assert len(TRUTHY) == 33
    assert all(TypeAdapter(bool).validate_python(s) is True for s in TRUTHY)


@pytest.mark.parametrize("spelling", TRUTHY)
def test_a_read_key_cannot_refresh_a_summary_in_any_spelling(
    refresh_setup: tuple[TestClient, Keys, str], spelling: str
) -> None:
    client, keys, paper_id = refresh_setup
    r = client.get(
        f"/papers/{paper_id}/summary", params={"refresh": spelling}, headers=bearer(keys["reader"])
    )
    assert r.status_code == 403, (spelling, r.status_code)
    assert "write" in r.json()["error"]["message"]


def test_refresh_off_invalid_and_repeated(refresh_setup: tuple[TestClient, Keys, str]) -> None:
    client, keys, paper_id = refresh_setup
    url, reader = f"/papers/{paper_id}/summary", bearer(keys["reader"])
    for off in ("0", "off", "F", "false", "N", "No"):
        assert client.get(url, params={"refresh": off}, headers=reader).status_code == 200, off
    assert client.get(url, params={"refresh": "maybe"}, headers=reader).status_code == 422  # the route's
    assert client.get(f"{url}?refresh=0&refresh=on", headers=reader).status_code == 403
    assert client.get(url, params={"refresh": "on"}, headers=bearer(keys["writer"])).status_code == 200


# --- 2. a broken keys file --------------------------------------------------------------------------
def test_a_broken_keys_file_is_a_503_that_says_how_to_fix_it(services: Services, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    keys = make_keys(keys_file)
    good = keys_file.read_text()
    client = keyed_client(services, keys_file)
    assert client.get("/papers", headers=bearer(keys["reader"])).status_code == 200

    keys_file.write_text(good[: len(good) // 2])  # truncated
    for headers in (bearer(keys["reader"]), bearer("pl_wrong"), {}):
        r = client.get("/papers", headers=headers)
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["code"] == "keys_file_invalid" and error["type"] == "service_unavailable_error"
        assert str(keys_file) in error["message"] and "Invalid JSON" in error["message"]
        assert "paperlens keys add" in error["message"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
    reason = ready.json()["error"]["message"]
    assert "PAPERLENS_API_KEYS_FILE" in reason and "Invalid JSON" in reason and str(tmp_path) not in reason
    assert client.get("/healthz").status_code == 200
    assert client.get("/", headers={}).status_code == 200  # the page itself still loads

    keys_file.write_text(
        json.dumps({"keys": [{"name": "x", "scope": "admin", "sha256": "0", "created": ""}]})
    )
    r = client.get("/papers", headers=bearer(keys["reader"]))
    assert r.status_code == 503 and "keys.0.scope" in r.json()["error"]["message"]

    keys_file.write_text(good)  # fixed: back at once, no restart
    assert client.get("/papers", headers=bearer(keys["reader"])).status_code == 200
    assert client.get("/readyz").status_code == 200


def test_the_cli_reports_a_broken_keys_file_in_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys_file = tmp_path / "keys.json"
    keys_file.write_text('{"keys": [{"name": "a"')
    monkeypatch.setenv("PAPERLENS_API_KEYS_FILE", str(keys_file))
    get_settings.cache_clear()
    try:
        for args in (["keys", "list"], ["keys", "add", "bob"]):
            out = CliRunner().invoke(cli, args)
            assert out.exit_code == 2, out.output
            assert str(keys_file) in out.output and "Invalid JSON" in out.output, out.output
    finally:
        get_settings.cache_clear()


# --- 3. passwords in URLs -----------------------------------------------------------------------------
def test_config_masks_passwords_in_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERLENS_LLM_BASE_URL", "http://alice:hunter2@llm.example:8080/v1")
    monkeypatch.setenv("PAPERLENS_CHROMA_URL", "https://admin:p%40ss@w0rd@chroma.example")
    monkeypatch.setenv("PAPERLENS_EMBEDDING_BASE_URL", "https://emb.example/v1?api_key=k3y-s3cret&x=1")
    monkeypatch.setenv("PAPERLENS_EMBEDDING_API_KEY", "sk-emb-secret")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli, ["config"]).stdout
    finally:
        get_settings.cache_clear()
    for secret in ("hunter2", "p%40ss", "w0rd", "k3y-s3cret", "sk-emb-secret"):
        assert secret not in out, secret
    assert "PAPERLENS_LLM_BASE_URL=http://alice:****@llm.example:8080/v1" in out  # still says where
    assert "PAPERLENS_CHROMA_URL=https://admin:****@chroma.example" in out
    assert "PAPERLENS_EMBEDDING_BASE_URL=https://emb.example/v1?api_key=****&x=1" in out
    assert "PAPERLENS_EMBEDDING_API_KEY=****" in out


def test_a_bad_chroma_url_is_reported_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERLENS_CHROMA_URL", "ftp://admin:hunter2@chroma.example")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli, ["papers"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 2 and "hunter2" not in out.output
    assert "ftp://admin:****@chroma.example" in out.output


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_lines_mask_passwords_in_urls(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(fmt)
        log = logging.getLogger("paperlens.test")
        log.error("cannot reach %s", "http://bob:hunter2@llm.example/v1?token=t0ken")
        try:
            raise ConnectionError("refused: https://bob:hunter2@chroma.example")
        except ConnectionError:
            log.exception("start-up failed")
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    err = capsys.readouterr().err
    assert "hunter2" not in err and "t0ken" not in err
    assert "http://bob:****@llm.example/v1?token=****" in err and "https://bob:****@chroma.example" in err


# --- 4. key guessing is rate limited ----------------------------------------------------------------------
def test_failed_keys_are_counted_per_address_and_limited(services: Services, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    keys = make_keys(keys_file)
    settings = services.settings.model_copy(
        update={"api_keys_file": keys_file, "auth_failure_limit_per_min": 6, "auth_failure_burst": 3}
    )
    app = create_app(settings, Container.of(services))
    guesser = TestClient(app, client=("203.0.113.7", 5000))
    other = TestClient(app, client=("198.51.100.2", 5000))
    assert guesser.get("/papers", headers=bearer(keys["reader"])).status_code == 200  # success: not counted
    assert guesser.get("/papers", headers=bearer("pl_guess1")).status_code == 401
    assert guesser.get("/papers").status_code == 401  # no key: a 401 too
    assert guesser.get("/readyz", headers=bearer("pl_guess2")).status_code == 200  # public, but counted
    r = guesser.get("/papers", headers=bearer("pl_guess3"))
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert (
        int(r.headers["Retry-After"]) >= 1
        and "PAPERLENS_AUTH_FAILURE_LIMIT_PER_MIN" in r.json()["error"]["message"]
    )
    # over the limit, a right key is refused the same way: a guess cannot be told right from wrong
    assert guesser.get("/papers", headers=bearer(keys["reader"])).status_code == 429
    assert guesser.get("/readyz", headers=bearer(keys["reader"])).json() == {"status": "ready"}  # not checked
    assert guesser.get("/healthz").status_code == 200
    assert other.get("/papers", headers=bearer(keys["reader"])).status_code == 200  # per address
    assert other.get("/papers", headers=bearer("pl_guess")).status_code == 401

    unlimited = settings.model_copy(update={"auth_failure_limit_per_min": 0})
    c = TestClient(create_app(unlimited, Container.of(services)))
    assert {c.get("/papers", headers=bearer("pl_x")).status_code for _ in range(10)} == {401}


# --- 5. security headers ------------------------------------------------------------------------------
PAGE_PATHS = ("/", "/app/app.js", "/app/app.css", "/static/swagger/swagger-ui.css", "/docs")


def test_pages_carry_security_headers(client: TestClient) -> None:
    for path in PAGE_PATHS:
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "style-src 'self';" in csp and "connect-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert not re.search(r"https?:|\*", csp), csp  # no other host
    docs = client.get("/docs")
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    assert len(inline) == 1  # Swagger UI's start-up script, allowed by its hash alone
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in docs.headers["content-security-policy"]
    assert "sha256-" not in client.get("/").headers["content-security-policy"]


def test_api_responses_carry_nosniff(client: TestClient) -> None:
    for r in (
        client.get("/papers"),
        client.get("/healthz"),
        client.get("/nope"),
        client.get("/openapi.json"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


# --- 8. docs and readiness details when keys are on -------------------------------------------------------
@pytest.fixture
def keyed_files(tmp_path: Path) -> Iterator[tuple[Path, Keys]]:
    keys_file = tmp_path / "keys.json"
    yield keys_file, make_keys(keys_file)


def test_docs_are_public_by_default_and_readyz_details_need_a_key(
    services: Services, keyed_files: tuple[Path, Keys]
) -> None:
    keys_file, keys = keyed_files
    client = keyed_client(services, keys_file)
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "paperlens"
    assert client.get("/readyz").json() == {"status": "ready"}  # no counts, no model
    assert client.get("/readyz", headers=bearer("pl_wrong")).json() == {"status": "ready"}
    detailed = client.get("/readyz", headers=bearer(keys["reader"])).json()
    assert detailed["status"] == "ready" and "papers" in detailed and "llm_model" in detailed


def test_docs_need_a_key_when_public_docs_is_off(services: Services, keyed_files: tuple[Path, Keys]) -> None:
    keys_file, keys = keyed_files
    client = keyed_client(services, keys_file, public_docs=False)
    for path in ("/docs", "/openapi.json"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=bearer(keys["reader"])).status_code == 200, path
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/").status_code == 200 and client.get("/healthz").status_code == 200


def test_without_keys_everything_stays_open(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200 and client.get("/openapi.json").status_code == 200
    assert "papers" in client.get("/readyz").json()
