"""The HTTP contract only grows: every path, parameter, schema and field of the snapshot
taken before the answering layer was restructured (issue 8) is still there, with the
same types; new fields and new bounds are allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.core.config import Settings
from service.server.app import create_app

SNAPSHOT = Path(__file__).parent / "data" / "openapi-before-issue8.json"


def missing_from(old: Any, new: Any, where: str = "") -> list[str]:
    """What `old` has that `new` lacks or changed (dict keys may be added in `new`;
    `required` lists and parameter lists may grow; other lists must be equal)."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [f"{where}: was an object"]
        out: list[str] = []
        for key, value in old.items():
            if key not in new:
                out.append(f"{where}/{key}: removed")
            elif key == "parameters" and isinstance(value, list) and isinstance(new[key], list):
                by_name = {(q["name"], q["in"]): q for q in new[key]}  # optional parameters may be added
                for param in value:
                    found = by_name.get((param["name"], param["in"]))
                    name = param["name"]
                    out += (
                        [f"{where}/parameters: {name} removed"]
                        if found is None
                        else missing_from(param, found, f"{where}/parameters/{name}")
                    )
            elif key == "required" and isinstance(value, list):
                out += [f"{where}/required: {name} no longer required" for name in set(value) - set(new[key])]
            elif key not in ("description", "summary", "title"):
                out += missing_from(value, new[key], f"{where}/{key}")
        return out
    if isinstance(old, list):
        if not isinstance(new, list) or len(old) != len(new):
            return [f"{where}: list changed"]
        return [
            m
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for m in missing_from(a, b, f"{where}[{i}]")
        ]
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


# Corrections, not removals: the snapshot declared FastAPI's default 422 body
# (HTTPValidationError), but the service has always answered 422 in its own error shape.
# Since the schema fuzz (issue 11) the spec says what the service does.
CORRECTED = (
    "/components/schemas/HTTPValidationError:",
    "/components/schemas/ValidationError:",
    "/responses/422/",
)


def test_openapi_keeps_everything_it_had(tmp_path: Path) -> None:
    current = create_app(Settings(data_dir=tmp_path, llm="none")).openapi()
    before = json.loads(SNAPSHOT.read_text())
    missing = missing_from(before, json.loads(json.dumps(current)))
    assert [m for m in missing if not any(c in m for c in CORRECTED)] == []


def test_the_check_itself_sees_a_removed_field() -> None:
    old = {"properties": {"answer": {"type": "string"}, "n": {"type": "integer"}}, "required": ["answer"]}
    assert missing_from(old, {"properties": {"answer": {"type": "string"}}, "required": ["answer"]}) == [
        "/properties/n: removed"
    ]
    assert missing_from(old, {**old, "required": []}) == ["/required: answer no longer required"]
    assert missing_from(old, {**old, "extra": 1}) == []
    q = {"name": "q", "in": "query", "schema": {"type": "string"}}
    h = {"name": "x", "in": "header", "schema": {"type": "string"}}
    assert missing_from({"parameters": [q]}, {"parameters": [h, q]}) == []
    assert missing_from({"parameters": [q, h]}, {"parameters": [q]}) == ["/parameters: x removed"]
