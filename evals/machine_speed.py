"""The machine's measured prompt speed, printed in reports so runs on different machines compare.

One call with a prompt of about 1,000 tokens and a one-token reply; the prompt opens with a
fresh nonce so the server's prompt cache cannot serve it. tokens/s = the server's count of
prompt tokens / the call's wall time.
"""

from __future__ import annotations

import time
import uuid

from service.components.llm.client import LLMClient

FILLER = "The study measured the response of each sample under the stated conditions. " * 70


def prompt_tokens_per_s(client: LLMClient) -> float:
    messages = [
        {"role": "system", "content": f"{uuid.uuid4()} Reply with one word."},
        {"role": "user", "content": FILLER},
    ]
    t0 = time.perf_counter()
    done = client.complete(messages, 1, 120.0)
    seconds = time.perf_counter() - t0
    return done.prompt_tokens / seconds if seconds > 0 else 0.0
