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
    `required` lists may grow; other lists must be equal)."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [f"{where}: was an object"]
        out: list[str] = []
        for key, value in old.items():
            if key not in new:
                out.append(f"{where}/{key}: removed")
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


def test_openapi_keeps_everything_it_had(tmp_path: Path) -> None:
    current = create_app(Settings(data_dir=tmp_path, llm="none")).openapi()
    before = json.loads(SNAPSHOT.read_text())
    assert missing_from(before, json.loads(json.dumps(current))) == []


def test_the_check_itself_sees_a_removed_field() -> None:
    old = {"properties": {"answer": {"type": "string"}, "n": {"type": "integer"}}, "required": ["answer"]}
    assert missing_from(old, {"properties": {"answer": {"type": "string"}}, "required": ["answer"]}) == [
        "/properties/n: removed"
    ]
    assert missing_from(old, {**old, "required": []}) == ["/required: answer no longer required"]
    assert missing_from(old, {**old, "extra": 1}) == []
