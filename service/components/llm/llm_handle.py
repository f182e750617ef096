"""Which LLM the service talks to, chosen once at start-up from the settings.

`auto` with LLM_BASE_URL: that server. `auto` without: the embedded model, started
in-process and served on loopback. `none`, or an embedded model that cannot start:
no LLM, and the extractive engine answers (responses say `degraded` in the second case).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from service.components.llm.client import LLMClient
from service.components.llm.embedded_server import EmbeddedLLMServer
from service.components.llm.model_weights import embedded_model_path
from service.core.config import Settings

log = logging.getLogger(__name__)


@dataclass
class LLMHandle:
    client: LLMClient | None
    model: str
    status: str  # "remote", "embedded", "off", or "unavailable: <reason>"
    server: EmbeddedLLMServer | None = None

    @property
    def wanted(self) -> bool:
        """An LLM was asked for (so answering without one is a degradation)."""
        return self.status != "off"


def client_for(settings: Settings, base_url: str, model: str, retries: bool = True) -> LLMClient:
    """`retries=False` for the embedded model: a call that timed out there would only
    queue again behind the work that made it slow."""
    return LLMClient(
        base_url,
        settings.llm_api_key,
        model,
        timeout_s=settings.llm_timeout_s,
        retry_total_s=settings.llm_retry_total_s,
        max_attempts=settings.llm_max_attempts if retries else 1,
        temperature=settings.llm_temperature,
        prompt_tokens_per_s=settings.llm_prompt_tokens_per_s,
        output_tokens_per_s=settings.llm_output_tokens_per_s,
    )


def open_llm(settings: Settings) -> LLMHandle:
    if settings.llm == "none":
        return LLMHandle(None, "extractive", "off")
    if settings.llm_base_url:
        return LLMHandle(
            client_for(settings, settings.llm_base_url, settings.llm_model), settings.llm_model, "remote"
        )
    try:
        path = settings.llm_model_path or embedded_model_path(
            settings.llm_embedded_model, settings.effective_models_dir
        )
        server = EmbeddedLLMServer(path, settings.llm_ctx_tokens, settings.llm_threads)
    except Exception as err:  # the service still answers, extractively
        log.error("embedded LLM unavailable: %s", err)
        return LLMHandle(None, "extractive", f"unavailable: {err}")
    return LLMHandle(
        client_for(settings, server.base_url, server.model_name, retries=False),
        server.model_name,
        "embedded",
        server,
    )
