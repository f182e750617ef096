"""API keys through HTTP and the CLI: none -> 401, a read key on a write route -> 403,
health probes open, keys never printed by `config` or stored in clear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import app as cli
from service.container import Container, Services
from service.core.config import get_settings
from service.server.app import create_app
from service.server.guards import is_loopback


@pytest.fixture
def keyed(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    keys_file = tmp_path / "keys.json"
    monkeypatch.setenv("PAPERLENS_API_KEYS_FILE", str(keys_file))
    get_settings.cache_clear()
    runner = CliRunner()
    made = {}
    for name, scope in (("reader", "read"), ("writer", "write")):
        out = runner.invoke(cli, ["keys", "add", name, "--scope", scope])
        assert out.exit_code == 0, out.output
        made[name] = out.stdout.strip().splitlines()[0]
    settings = services.settings.model_copy(update={"api_keys_file": keys_file})
    client = TestClient(create_app(settings, Container.of(services)))
    yield client, made
    get_settings.cache_clear()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_gate_every_route_but_health(keyed: tuple[TestClient, dict[str, str]], tmp_path: Path) -> None:
    client, keys = keyed
    assert client.get("/healthz").status_code == 200
    r = client.get("/papers")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/papers", headers=bearer("pl_wrong")).status_code == 401
    assert client.get("/papers", headers=bearer(keys["reader"])).status_code == 200
    assert client.get("/search", params={"q": "robots"}, headers=bearer(keys["reader"])).status_code == 200
    paper = {"papers": [{"title": "A paper", "abstract": "Robots learn to grasp objects from videos."}]}
    r = client.post("/papers", json=paper, headers=bearer(keys["reader"]))
    assert r.status_code == 403 and "write" in r.json()["error"]["message"]
    assert client.post("/papers", json=paper, headers=bearer(keys["writer"])).status_code == 201
    # the file holds hashes, never the keys
    stored = (tmp_path / "keys.json").read_text()
    assert keys["reader"] not in stored and keys["writer"] not in stored


def test_a_revoked_key_stops_working_at_once(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    assert client.get("/papers", headers=bearer(keys["reader"])).status_code == 200
    out = CliRunner().invoke(cli, ["keys", "revoke", "reader"])
    assert out.exit_code == 0
    listed = CliRunner().invoke(cli, ["keys", "list"]).stdout
    assert "writer" in listed and "reader" not in listed and keys["writer"] not in listed
    assert client.get("/papers", headers=bearer(keys["reader"])).status_code == 401


def test_config_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERLENS_LLM_API_KEY", "sk-very-secret")
    get_settings.cache_clear()
    out = CliRunner().invoke(cli, ["config"]).stdout
    get_settings.cache_clear()
    assert "sk-very-secret" not in out and "PAPERLENS_LLM_API_KEY=****" in out


def test_serve_refuses_an_open_non_loopback_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERLENS_API_KEYS_FILE", raising=False)
    get_settings.cache_clear()
    out = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    get_settings.cache_clear()
    assert out.exit_code == 2 and "PAPERLENS_API_KEYS_FILE" in out.output
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
