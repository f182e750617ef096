"""Choose the embedder the settings ask for."""

from __future__ import annotations

from service.components.embedding.embedder import Embedder
from service.core.config import Settings


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedding_base_url:
        from service.components.embedding.openai_embedder import OpenAIEmbedder

        return OpenAIEmbedder(
            settings.embedding_base_url,
            settings.embedding_model,
            settings.embedding_api_key,
            settings.embedding_batch_size,
        )
    from service.components.embedding.onnx_embedder import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(
        settings.embedding_batch_size, settings.embedding_threads, settings.embedding_max_tokens
    )
