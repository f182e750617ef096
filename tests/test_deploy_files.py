"""The deployment files stay true to the code they start: docker-compose.yml, the
Dockerfile and .env.example name only settings that exist and commands that parse, with
values the settings accept, and they agree with each other (images, ports, paths).

No Docker engine runs on the machines this project is built on, so `docker compose up` is
not run here; the same topology runs as processes on loopback in tests/test_scale_out.py.
"""

from __future__ import annotations

import re
import shlex
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from service.cli import app as cli
from service.core.config import Settings
from service.core.config_docs import render

ROOT = Path(__file__).resolve().parents[1]
_ENV_NAME = re.compile(r"\bPAPERLENS_[A-Z0-9_]+\b")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _known_settings() -> set[str]:
    """Every environment variable Settings reads, as the generated configuration page lists it."""
    return set(_ENV_NAME.findall(render()))


def _paperlens_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def test_compose_has_the_documented_topology(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"chroma", "redis", "api", "worker", "seed"} <= set(services)
    assert set(_paperlens_services(compose)) == {"api", "worker", "seed"}
    for name in ("api", "worker", "seed"):
        deps = services[name]["depends_on"]
        assert deps["chroma"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
    for name in ("chroma", "redis"):
        assert services[name]["healthcheck"]["test"], f"{name} needs a healthcheck"
    declared = set(compose["volumes"])
    for svc in services.values():
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            assert source in declared, f"volume {source!r} is mounted but not declared"


def test_chroma_image_matches_the_installed_client(compose: dict[str, Any]) -> None:
    image = compose["services"]["chroma"]["image"]
    assert image == f"chromadb/chroma:{version('chromadb')}", (
        f"{image} differs from the chromadb client installed ({version('chromadb')}); "
        "pin the server image to the client's version"
    )


def test_every_paperlens_variable_in_deploy_files_is_a_setting(
    compose: dict[str, Any], dockerfile: str
) -> None:
    known = _known_settings()
    assert "PAPERLENS_CHROMA_URL" in known  # the page lists top-level settings too
    texts = {
        "docker-compose.yml": (ROOT / "docker-compose.yml").read_text(encoding="utf-8"),
        "Dockerfile": dockerfile,
        ".env.example": (ROOT / ".env.example").read_text(encoding="utf-8"),
    }
    for name, text in texts.items():
        unknown = set(_ENV_NAME.findall(text)) - known
        assert not unknown, f"{name} names settings that do not exist: {sorted(unknown)}"


def test_compose_environment_is_accepted_by_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, svc in _paperlens_services(compose).items():
        env = {k: str(v) for k, v in svc["environment"].items()}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.chroma_url == env["PAPERLENS_CHROMA_URL"], name
        assert settings.queue_url == env["PAPERLENS_QUEUE_URL"], name
        for key in env:
            monkeypatch.delenv(key)


def test_example_env_values_are_accepted_by_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    assignments = [
        line.lstrip("# ").split("#")[0].strip()
        for line in lines
        if re.match(r"^#?\s*PAPERLENS_[A-Z0-9_]+=", line)
    ]
    assert len(assignments) >= 10
    for assignment in assignments:
        key, value = assignment.split("=", 1)
        monkeypatch.setenv(key, value)
    Settings()  # raises on any value a setting does not accept


def test_compose_commands_parse_with_the_cli(compose: dict[str, Any], dockerfile: str) -> None:
    commands = [svc["command"] for svc in _paperlens_services(compose).values()]
    cmd = re.search(r'^CMD \["sh", "-c", "(.+)"\]$', dockerfile, re.MULTILINE)
    assert cmd, "the Dockerfile's CMD changed shape; update this test"
    commands += [shlex.split(part) for part in cmd.group(1).split("&&")]
    runner = CliRunner()
    for argv in commands:
        assert argv[0] == "paperlens", argv
        words = argv[1:]
        options = [w for w in words if w.startswith("--")]
        result = runner.invoke(cli, [words[0], "--help"])
        assert result.exit_code == 0, f"`paperlens {words[0]}` is not a command: {result.output}"
        for option in options:
            assert option in result.output, f"`paperlens {words[0]}` has no option {option}"


def test_sample_corpus_path_is_in_the_image(compose: dict[str, Any], dockerfile: str) -> None:
    copy = re.search(r"^COPY data/samples (\S+)$", dockerfile, re.MULTILINE)
    assert copy, "the Dockerfile no longer copies data/samples"
    in_image = "/app/" + copy.group(1).removeprefix("./").rstrip("/")
    seed = compose["services"]["seed"]["command"]
    path = seed[-1]
    assert path.startswith(in_image + "/"), f"{path} is not under {in_image}"
    assert (ROOT / "data/samples" / path.removeprefix(in_image + "/")).is_file()


def test_api_port_matches_the_image(compose: dict[str, Any], dockerfile: str) -> None:
    port = re.search(r"PAPERLENS_PORT=(\d+)", dockerfile)
    assert port and f"EXPOSE {port.group(1)}" in dockerfile
    published = compose["services"]["api"]["ports"]
    assert all(p.endswith(f":{port.group(1)}") for p in published), published
