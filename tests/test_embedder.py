"""The real all-MiniLM-L6-v2 ONNX model, and its pinned files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from service.components.embedding.embedder import Vectors
from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
from service.components.embedding.vector_cache import CachedEmbedder
from service.components.model_files import MINILM_ONNX
from service.core.errors import ModelFileError


def test_paraphrase_scores_closer_than_unrelated(embedder: OnnxMiniLMEmbedder) -> None:
    anchor, paraphrase, unrelated = embedder.embed(
        [
            "The robot learns manipulation skills from videos of people.",
            "Human demonstration videos teach the robot how to handle objects.",
            "Quarterly revenue grew because of strong retail sales.",
        ]
    )
    assert float(anchor @ paraphrase) > float(anchor @ unrelated) + 0.3


def test_vectors_are_normalised_and_batch_order_is_kept(embedder: OnnxMiniLMEmbedder) -> None:
    texts = ["short", "a much longer sentence about reinforcement learning " * 5, "mid text"]
    batch = embedder.embed(texts)
    assert batch.shape == (3, 384)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-4)
    one_by_one = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(batch, one_by_one, atol=1e-4)


def test_model_file_with_wrong_sha256_is_refused() -> None:
    tampered = dataclasses.replace(MINILM_ONNX, sha256="0" * 64)
    with pytest.raises(ModelFileError, match="does not match"):
        tampered.verified_path()


def test_missing_model_package_says_how_to_install() -> None:
    absent = dataclasses.replace(MINILM_ONNX, distribution="no-such-model-package")
    with pytest.raises(ModelFileError, match="make install"):
        absent.locate()


class CountingEmbedder:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, inner: OnnxMiniLMEmbedder) -> None:
        self.inner, self.name, self.dim, self.texts = inner, inner.name, inner.dim, 0

    def embed(self, texts: list[str]) -> Vectors:
        self.texts += len(texts)
        return self.inner.embed(texts)


def test_the_sentence_vector_cache_embeds_each_text_once_within_its_bound(
    embedder: OnnxMiniLMEmbedder,
) -> None:
    counting = CountingEmbedder(embedder)
    cached = CachedEmbedder(counting, size=3)
    texts = ["diffusion policy", "offline RL", "diffusion policy", "humanoid robot"]
    first = cached.embed(texts)
    assert counting.texts == 3  # the repeated text once
    assert np.allclose(first, embedder.embed(texts), atol=1e-4)  # same vectors, same order
    again = cached.embed(["humanoid robot", "offline RL"])
    assert counting.texts == 3 and np.allclose(again, first[[3, 1]])
    cached.embed(["a fourth text"])  # over the bound: the least recently used one goes
    assert len(cached) == 3
    cached.embed(["diffusion policy"])
    assert counting.texts == 5
    assert cached.embed([]).shape == (0, 384)
    off = CachedEmbedder(counting, size=0)
    off.embed(["offline RL"])
    assert len(off) == 0 and counting.texts == 6
