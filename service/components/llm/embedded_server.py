"""The embedded LLM: a GGUF loaded in-process by xllamacpp, which also serves the
OpenAI-compatible API on a loopback port. The service then talks to it through the
same client as to any remote server, so there is one code path for generation."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from service.core.errors import ModelFileError

log = logging.getLogger(__name__)


class EmbeddedLLMServer:
    def __init__(self, model_path: Path, ctx_tokens: int = 4096, threads: int = 0) -> None:
        import xllamacpp

        if not model_path.is_file():
            raise ModelFileError(f"LLM model file {model_path} does not exist")
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.n_ctx = ctx_tokens
        params.cpuparams.n_threads = threads or (os.cpu_count() or 2)
        params.cpuparams_batch.n_threads = threads or (os.cpu_count() or 2)
        params.n_parallel = 1  # one slot: requests queue, and the prompt cache stays warm
        params.cache_prompt = True
        params.verbosity = -1
        params.warmup = False
        self.model_path = model_path
        self.model_name = model_path.stem
        self._server: Any = xllamacpp.Server(params)
        self.base_url = f"{self._server.listening_address}/v1"
        log.info("embedded LLM %s listening on %s", self.model_name, self.base_url)
