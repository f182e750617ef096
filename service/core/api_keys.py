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
import logging
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from service.core.errors import BadInput, NotFound, PaperlensError

log = logging.getLogger(__name__)

Scope = Literal["read", "write"]
PREFIX = "pl_"


class KeyRecord(BaseModel):
    name: str
    scope: Scope
    sha256: str
    created: str


class KeyFile(BaseModel):
    keys: list[KeyRecord] = []


class KeysFileError(PaperlensError):
    """The keys file cannot be read or is not a keys file: no key can be checked, so every
    route that needs one answers 503 (never 500, never open) until the file is fixed."""

    code = "keys_file_invalid"
    status = 503


def _what_failed(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        return f"{where + ': ' if where else ''}{first['msg']}" + (
            f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
        )
    if isinstance(err, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return f"{err.__class__.__name__}: {err.strerror if isinstance(err, OSError) else err}"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[float, int] | None = None
        self._records: list[KeyRecord] = []
        self._error: KeysFileError | None = None

    def _load(self) -> list[KeyRecord]:
        """The records, re-read when the file's mtime or size changed. A file that cannot be
        read or parsed (truncated, hand-edited, unreadable) raises `KeysFileError`, saying
        which file, what failed and how to fix it, until it changes."""
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._seen, self._records, self._error = None, [], None
                return []
            except OSError as err:
                raise self._broken(err) from None
            stamp = (st.st_mtime, st.st_size)
            if stamp != self._seen:
                self._seen = stamp
                try:
                    self._records = KeyFile.model_validate_json(self.path.read_text() or "{}").keys
                    self._error = None
                except (OSError, UnicodeDecodeError, ValidationError) as err:
                    self._records, self._error = [], self._broken(err)
                    log.error("%s", self._error.message)
            if self._error is not None:
                raise self._error
            return self._records

    def _broken(self, err: Exception) -> KeysFileError:
        return KeysFileError(
            f"the API keys file {self.path} (PAPERLENS_API_KEYS_FILE) is not usable: {_what_failed(err)}. "
            'Fix it (it is JSON: {"keys": [{"name", "scope", "sha256", "created"}, ...]}, written by '
            "`paperlens keys add`), restore it from a backup, or move it away and make new keys with "
            "`paperlens keys add NAME`; until then every request that needs a key is refused"
        )

    def problem(self) -> str | None:
        """Why no key can be checked now (the file is broken), or None. For /readyz, which
        anyone may call: the file is named by its setting, not its path."""
        try:
            self._load()
        except KeysFileError as err:
            return err.message.replace(f" {self.path} ", " ", 1)
        return None

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
        """The record of `key`, or None (compared in constant time). No key is None too, once
        the file is known to be readable (a broken file raises `KeysFileError` either way)."""
        records = self._load()
        if not key:
            return None
        digest = _hash(key)
        return next((r for r in records if hmac.compare_digest(r.sha256, digest)), None)
