"""The one settings object. Every knob is an environment variable `PAPERLENS_<NAME>`.

`paperlens config` prints this table with current values; the README's configuration
table is generated from the same field descriptions.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration for every layer: storage, models, limits and retrieval."""

    model_config = SettingsConfigDict(env_prefix="PAPERLENS_", env_file=".env", extra="ignore")

    # --- storage -----------------------------------------------------------------
    data_dir: Path = Field(
        Path("./data"),
        description="Where the embedded Chroma store, assembled models and caches live.",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://chroma:8000). Unset: embedded "
        "Chroma under DATA_DIR/chroma.",
    )
    collection_prefix: str = Field(
        "paperlens",
        description="Prefix of the Chroma collection names, so several deployments can "
        "share one Chroma server.",
    )

    # --- server ------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `paperlens serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `paperlens serve` listens on.")

    # --- limits ------------------------------------------------------------------
    max_upload_bytes: int = Field(
        20 * 1024 * 1024, ge=1, description="Largest file accepted by POST /papers/upload, in bytes."
    )
    max_papers_per_request: int = Field(
        500, ge=1, description="Most papers one POST /papers or upload request may add."
    )
    max_query_chars: int = Field(1000, ge=1, description="Longest search query or question accepted.")
    max_k: int = Field(50, ge=1, description="Largest `k` accepted by /search.")

    # --- chunking ----------------------------------------------------------------
    chunk_tokens: int = Field(
        220,
        ge=32,
        description="Most cl100k tokens in one chunk. Chunks end on sentence boundaries; "
        "most abstracts fit in one or two. 220 keeps a chunk within the embedder's 256 "
        "word pieces, so its vector covers all of it.",
    )
    chunk_overlap_sentences: int = Field(
        1, ge=0, description="Sentences repeated at the start of the next chunk of a paper."
    )

    # --- embeddings --------------------------------------------------------------
    embedding_base_url: str | None = Field(
        None,
        description="OpenAI-compatible /v1 base URL for embeddings. Unset: the bundled "
        "all-MiniLM-L6-v2 int8 ONNX model runs in-process.",
    )
    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="Embedding model name sent to EMBEDDING_BASE_URL."
    )
    embedding_api_key: str = Field("none", description="API key for EMBEDDING_BASE_URL.")
    embedding_batch_size: int = Field(
        8, ge=1, description="Texts embedded per batch (8 is fastest for the ONNX model on a CPU)."
    )
    embedding_max_tokens: int = Field(
        256,
        ge=16,
        le=256,
        description="Word pieces the ONNX embedder reads per text (the model's limit is 256; "
        "128 embeds about twice as fast and ignores the rest of longer chunks).",
    )
    embedding_threads: int = Field(0, description="onnxruntime intra-op threads (0 = one per core).")

    # --- retrieval ---------------------------------------------------------------
    search_default_k: int = Field(5, ge=1, description="Passages /search returns when k is not given.")
    max_chunks_per_paper: int = Field(
        2, ge=1, description="Cap on passages from one paper in a result list (diversity)."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant for dense + BM25.")
    candidate_multiplier: int = Field(
        4, ge=1, description="Each retriever fetches k x this many candidates before fusion."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment (tests build their own `Settings`)."""
    return Settings()
