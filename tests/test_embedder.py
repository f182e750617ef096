"""The real all-MiniLM-L6-v2 ONNX model, and its pinned files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder
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
