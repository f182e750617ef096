"""API keys: random tokens, kept only as sha256 hashes in a JSON file.

`paperlens keys add NAME --scope read|write` prints a new key once; the file
(`PAPERLENS_API_KEYS_FILE`) holds its name, scope and hash, never the key. A key is 32
random bytes, so a plain sha256 is as good as a slow hash here (nothing to brute-force).
Scope `read` covers searching, asking, summaries, comparisons and metrics; `write`
covers everything. The file is re-read when it changes, so a revoked key stops working
without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from service.core.errors import BadInput, NotFound

Scope = Literal["read", "write"]
PREFIX = "pl_"


class KeyRecord(BaseModel):
    name: str
    scope: Scope
    sha256: str
    created: str


class KeyFile(BaseModel):
    keys: list[KeyRecord] = []


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[float, int] | None = None
        self._records: list[KeyRecord] = []

    def _load(self) -> list[KeyRecord]:
        """The records, re-read when the file's mtime or size changed."""
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._seen, self._records = None, []
                return []
            stamp = (st.st_mtime, st.st_size)
            if stamp != self._seen:
                self._records = KeyFile.model_validate_json(self.path.read_text() or "{}").keys
                self._seen = stamp
            return self._records

    def _save(self, records: list[KeyRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(KeyFile(keys=records).model_dump_json(indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)  # atomic: a reader sees the old file or the new one

    def add(self, name: str, scope: Scope) -> str:
        """A new key for `name` (printed once by the CLI; only its hash is stored)."""
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise BadInput("a key name is letters, digits, '-' and '_'")
        records = self._load()
        if any(r.name == name for r in records):
            raise BadInput(f"a key named {name!r} exists; revoke it first or pick another name")
        key = PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        self._save([*records, KeyRecord(name=name, scope=scope, sha256=_hash(key), created=created)])
        return key

    def list(self) -> list[KeyRecord]:
        return list(self._load())

    def revoke(self, name: str) -> None:
        records = self._load()
        if not any(r.name == name for r in records):
            raise NotFound(f"no key named {name!r}; `paperlens keys list` shows the names")
        self._save([r for r in records if r.name != name])

    def check(self, key: str) -> KeyRecord | None:
        """The record of `key`, or None (compared in constant time)."""
        digest = _hash(key)
        return next((r for r in self._load() if hmac.compare_digest(r.sha256, digest)), None)
