"""JSON (one object, a list, or `{"papers": [...]}`) and JSON Lines records."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from service.core.errors import BadInput
from service.corpus.paper import Paper


def describe_validation_error(err: ValidationError, where: str) -> str:
    """One readable line per problem: `papers[2].title: Field required`."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{where}{'.' + loc if loc else ''}: {msg}")
    return "; ".join(parts)


def papers_from_records(records: list[Any], where: str, source: str | None) -> list[Paper]:
    papers = []
    for i, record in enumerate(records):
        label = f"{where}[{i}]"
        if not isinstance(record, dict):
            raise BadInput(f"{label}: each paper must be a JSON object with at least a 'title'")
        if source and "source" not in record:
            record = {**record, "source": source}
        try:
            papers.append(Paper.model_validate(record))
        except ValidationError as err:
            raise BadInput(describe_validation_error(err, label)) from err
    return papers


def parse_json(text: str, source: str | None = None) -> list[Paper]:
    name = source or "JSON"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg == "Extra data" and text.lstrip().startswith("{"):
            return parse_jsonl(text, source)  # JSON Lines saved as .json
        raise BadInput(f"{name}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from err
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data = data["papers"]
    records = data if isinstance(data, list) else [data]
    if not records:
        raise BadInput(f"{name}: the JSON holds no papers")
    return papers_from_records(records, name, source)


def parse_jsonl(text: str, source: str | None = None) -> list[Paper]:
    name = source or "JSONL"
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise BadInput(f"{name}: invalid JSON on line {lineno}: {err.msg}") from err
    if not records:
        raise BadInput(f"{name}: the file holds no papers")
    return papers_from_records(records, name, source)
