"""The docs stay true: the configuration page is the one `Settings` generates, every
relative link in README.md and docs/ points at a file (and a heading) that exists, and
the layer picture in docs/architecture.md matches the imports of every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from service.core.config_docs import COMMAND, render

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def test_configuration_page_is_generated_from_settings() -> None:
    page = DOCS / "configuration.md"
    assert page.exists(), f"docs/configuration.md is missing; create it with `{COMMAND}`"
    assert page.read_text(encoding="utf-8") == render(), (
        f"docs/configuration.md is stale (Settings changed); regenerate it with `{COMMAND}`"
    )


def _prose(text: str) -> str:
    """The page without its code blocks and code spans, where brackets are not links."""
    return _CODE.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = _CODE.sub(lambda m: m.group(0).strip("`"), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its words
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8")))}


def _relative_links(page: Path) -> list[str]:
    links = _LINK.findall(_prose(page.read_text(encoding="utf-8")))
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_something_that_exists(page: Path) -> None:
    broken = []
    for link in _relative_links(page):
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link}: no file {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{link}: no heading #{anchor} in {path.relative_to(ROOT)}")
    assert not broken, f"broken links in {page.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_the_pages_link_each_other() -> None:
    """Every page under docs/ is reachable from README.md, directly or through docs/guide.md."""
    reachable = {(ROOT / link.partition("#")[0]).resolve() for link in _relative_links(ROOT / "README.md")}
    reachable |= {(DOCS / link.partition("#")[0]).resolve() for link in _relative_links(DOCS / "guide.md")}
    unlinked = [p.name for p in DOCS.glob("*.md") if p.resolve() not in reachable]
    assert not unlinked, f"docs pages no index links to: {unlinked}"


# --- the layer picture ---------------------------------------------------------------------


def _layers() -> list[set[str]]:
    """The picture in docs/architecture.md, top to bottom: the names in its first column."""
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    marker = text.index("<!-- layers")
    block = re.search(r"```\n(.*?)```", text[marker:], re.DOTALL)
    assert block, "docs/architecture.md: no code block after the <!-- layers --> marker"
    rows = []
    for line in block.group(1).splitlines():
        names = set(re.findall(r"([a-z_]+)(?:/|\.py)", line[:25]))
        if names:
            rows.append(names)
    return rows


def _component(module: str) -> str | None:
    """`service.answering.ask_service` -> `answering`; `service.schemas` -> `schemas`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "service" else None


def _imports(path: Path) -> set[str]:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
    return found


def test_the_layer_picture_matches_the_imports() -> None:
    rank = {name: i for i, row in enumerate(_layers()) for name in row}
    problems = []
    for path in sorted((ROOT / "service").rglob("*.py")):
        source = _component(".".join(path.relative_to(ROOT).with_suffix("").parts))
        if source is None or source == "__init__":
            continue
        if source not in rank:
            problems.append(f"{source} (service/{source}) is not in the layer picture")
            continue
        for target in sorted({c for m in _imports(path) if (c := _component(m)) and c != source}):
            if target not in rank:
                problems.append(f"{target} (imported by {path.relative_to(ROOT)}) is not in the picture")
            elif rank[target] <= rank[source]:
                problems.append(f"{path.relative_to(ROOT)} ({source}) imports {target}, not below it")
    assert not problems, "docs/architecture.md's layer picture does not match the code:\n" + "\n".join(
        sorted(set(problems))
    )


def test_services_return_domain_results_not_response_models() -> None:
    """Only `server/` (and the CLI, which prints what the routes return) builds the HTTP
    response models: a service that imported one would shape the API from below."""
    offenders = []
    for path in sorted((ROOT / "service").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[1] in ("server", "cli.py", "schemas.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "service.schemas":
                offenders += [f"{rel}: {a.name}" for a in node.names if a.name.endswith("Out")]
    assert not offenders, "response models imported outside server/:\n" + "\n".join(offenders)
