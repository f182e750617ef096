"""Baseline: the textbook LangChain RAG pipeline, on the same store and the same model.

Dense top-4 chunks from paperlens's own Chroma collection, stuffed into one prompt
(LangChain `ChatPromptTemplate | ChatOpenAI | StrOutputParser`), pointed at the same
OpenAI-compatible endpoint paperlens uses. No sentence-level evidence, no attribution,
no abstention logic: what a user gets from a tutorial.
"""

from __future__ import annotations

import re
import time
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI
from tqdm import tqdm

from service.container import Services

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer the question using the context below. If you don't know, say you don't know."),
        ("human", "Context:\n{context}\n\nQuestion: {question}"),
    ]
)
# How the baseline says it does not know (it has no structured abstention).
ABSTAINS = re.compile(
    r"don'?t know|do not know|not (mentioned|provided|stated|specified|given|available)|no information|"
    r"cannot (be )?(answer|determine|find)|does not (mention|provide|say|specify)|unknown",
    re.IGNORECASE,
)
TOP_K = 4


def answer(services: Services, llm: ChatOpenAI, question: str) -> dict[str, Any]:
    vector = services.embedder.embed([question])[0]
    hits = services.store.chunks.query(vector, TOP_K)
    chunks = services.store.chunks.get([cid for cid, _ in hits])
    context = "\n\n".join(f"{chunks[cid].title}\n{chunks[cid].text}" for cid, _ in hits if cid in chunks)
    message = (PROMPT | llm).invoke({"context": context, "question": question})
    text = StrOutputParser().invoke(message)
    usage = (message.response_metadata or {}).get("token_usage") or {}
    return {
        "answer": text,
        "abstained": bool(ABSTAINS.search(text)),
        "citations": [],
        "engine": "naive-rag",
        "degraded": False,
        "usage": {
            "llm_calls": 1,
            "prompt_tokens": int(usage.get("prompt_tokens", 0)),
            "completion_tokens": int(usage.get("completion_tokens", 0)),
        },
    }


def run(
    services: Services, items: list[dict[str, Any]], score: Any, summarise: Any, ids: dict[str, str]
) -> dict[str, Any]:
    """Answer `items` like qa_eval does, and score them with the same functions."""
    client = services.llm.client
    if client is None:
        raise RuntimeError("the naive RAG baseline needs an LLM endpoint")
    llm = ChatOpenAI(
        base_url=client.base_url, api_key="none", model=client.model, temperature=0, max_tokens=220
    )
    rows, latencies = [], []
    for item in tqdm(items, desc="qa naive-rag", unit="q"):
        t0 = time.perf_counter()
        response = answer(services, llm, item["question"])
        latencies.append(time.perf_counter() - t0)
        rows.append(score(item, response, ids))
    return {"summary": summarise(rows, latencies), "rows": rows, "latencies": latencies}
