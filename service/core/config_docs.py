"""docs/configuration.md, generated from `Settings`: every field, its environment variable,
type, default and description.

    python -m service.core.config_docs > docs/configuration.md

`tests/test_docs.py` fails when the committed page differs from what this prints. Sections
follow the `# --- name ---` comments in `config.py`; a field whose type is itself a settings
model (nested settings) gets a section of its own, its variables named with the nested
delimiter (`PAPERLENS_<FIELD>__<NAME>`).
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from service.core.config import Settings

COMMAND = "python -m service.core.config_docs > docs/configuration.md"
ROOT = Path(__file__).resolve().parents[2]  # the source tree: defaults inside it are shown relative
_SECTION = re.compile(r"^\s*#\s*-{3}\s*(?P<name>[^-].*?)\s*-{3,}\s*$")
_FIELD = re.compile(r"^\s{4}(?P<name>[a-z_][a-z0-9_]*)\s*:")

HEADER = f"""# Configuration

<!-- Generated from `Settings` in service/core/config.py: do not edit by hand.
     Regenerate with `{COMMAND}`. -->

Every setting is an environment variable (or a `NAME=value` line in `.env` in the working
directory), read once at start-up by one pydantic-settings object, `Settings` in
[service/core/config.py](../service/core/config.py). Lists are JSON
(`PAPERLENS_CORS_ORIGINS='["https://a.example"]'`). `paperlens config` prints every
setting with its current value (API keys and URL passwords as `****`).

This page is generated from the fields' descriptions: change a description in `config.py`,
then run `{COMMAND}`;
`tests/test_docs.py` fails while the page is stale."""


def _sections(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the `# --- section ---` comment above it in the class's source."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    current = ""
    for line in source.splitlines():
        if m := _SECTION.match(line):
            current = m.group("name")
        elif (m := _FIELD.match(line)) and m.group("name") in model.model_fields:
            out[m.group("name")] = current
    return out


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        inner = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(inner) + (", optional" if type(None) in args else "")
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    if isinstance(annotation, type):
        return "path" if issubclass(annotation, Path) else annotation.__name__
    return str(annotation)


def _bounds(field: FieldInfo) -> str:
    """The field's numeric bounds (`ge=1, le=65535` -> ">= 1, <= 65535")."""
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return ", ".join(
        f"{sign} {getattr(item, attr)}"
        for item in field.metadata
        for attr, sign in signs.items()
        if getattr(item, attr, None) is not None
    )


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, Path):
        if value.is_absolute() and value.is_relative_to(ROOT):
            return f"`{value.relative_to(ROOT).as_posix()}/` in the source tree"
        return f"`{value.as_posix() if value.is_absolute() else './' + value.as_posix()}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped, `<...>` outside code spans kept visible."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;").replace(">", "&gt;") for i, p in enumerate(parts))


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _rows(model: type[BaseModel], prefix: str, delimiter: str) -> Iterator[tuple[str, str, str]]:
    """(section, table row) for each field of `model`; nested models become sections of their own."""
    sections = _sections(model)
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        if _is_model(field.annotation):
            nested: type[BaseModel] = field.annotation  # type: ignore[assignment]
            for section, row, doc in _rows(nested, f"{env}{delimiter}", delimiter):
                yield section or name.replace("_", " "), row, doc or (nested.__doc__ or "")
            continue
        if not field.description:
            raise ValueError(f"Settings field {name!r} has no description; give it one in config.py")
        kind = _type_name(field.annotation)
        if bounds := _bounds(field):
            kind = f"{kind} ({bounds})"
        row = f"| `{env}` | {kind} | {_default(field)} | {_cell(field.description)} |"
        yield sections.get(name, ""), row, ""


def render(model: type[BaseModel] = Settings) -> str:
    """The whole page, as `docs/configuration.md` should hold it."""
    prefix = str(model.model_config.get("env_prefix", "") or "")
    delimiter = str(model.model_config.get("env_nested_delimiter") or "__")
    lines = [HEADER]
    current: str | None = None
    for section, row, doc in _rows(model, prefix, delimiter):
        if section != current:
            current = section
            title = section[:1].upper() + section[1:] if section else "Other"
            lines += ["", f"## {title}", ""]
            if doc:
                lines += [_cell(inspect.cleandoc(doc)), ""]
            lines += ["| variable | type | default | what it does |", "|---|---|---|---|"]
        lines.append(row)
    return "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
