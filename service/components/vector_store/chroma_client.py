"""Open Chroma: embedded `PersistentClient` by default, `HttpClient` for a server URL.

Telemetry is always off, so nothing leaves the machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings

from service.core.errors import BadInput
from service.core.redact import redact


def open_chroma(chroma_url: str | None, data_dir: Path) -> Any:
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not chroma_url:
        path = data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    url = urlparse(chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise BadInput(f"PAPERLENS_CHROMA_URL={redact(chroma_url)!r} must look like http://host:8000")
    return chromadb.HttpClient(
        host=url.hostname,
        port=url.port or (443 if url.scheme == "https" else 8000),
        ssl=url.scheme == "https",
        settings=settings,
    )
