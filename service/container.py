"""Builds the components once and hands them to the HTTP layer and the CLI.

Loading (embedding model, store) can take a moment, so the server starts it in a
background thread: `/healthz` answers at once, `/readyz` says 503 until it is done.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

from service.answering.answer_cache import ResultCache
from service.answering.ask_service import AskService
from service.answering.compare_service import CompareService
from service.answering.matrix_engine import MatrixEngine
from service.answering.matrix_service import MatrixService
from service.answering.results import Answer
from service.answering.summary_service import SummaryService
from service.components.embedding.embedder import Embedder
from service.components.embedding.factory import build_embedder
from service.components.embedding.vector_cache import CachedEmbedder
from service.components.llm.gate import LLMGate
from service.components.llm.llm_handle import LLMHandle, open_llm
from service.components.shared_state import RedisCache, WriteFence, shared_client
from service.components.tokens import install_tiktoken_cache
from service.components.vector_store.chroma_client import open_chroma
from service.components.vector_store.paper_store import PaperStore
from service.core.config import Settings
from service.core.errors import NotReady
from service.core.redact import redact
from service.corpus.parse_pool import ParsePool
from service.evidence.matrix_sentences import SentencePicker
from service.generation.generate import Generator
from service.ingest.ingest_service import IngestService
from service.ingest.jobs import JobQueue
from service.ingest.shared_jobs import SharedJobQueue
from service.retrieval.lexical_index import LexicalIndex
from service.retrieval.request_check import RequestCheck
from service.retrieval.retriever import HybridRetriever

log = logging.getLogger(__name__)
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][\w.~+-]+){2,}[/\\]?")  # kept out of /readyz


@dataclass
class Services:
    settings: Settings
    embedder: Embedder
    store: PaperStore
    lexical: LexicalIndex
    retriever: HybridRetriever
    ingest: IngestService
    llm: LLMHandle
    generator: Generator
    parser: ParsePool
    jobs: JobQueue | SharedJobQueue  # in-process (SQLite), or the shared queue (QUEUE_URL)
    check: RequestCheck
    ask: AskService
    summary: SummaryService
    compare: CompareService
    matrix: MatrixService


def build_services(
    settings: Settings,
    embedder: Embedder | None = None,
    llm: LLMHandle | None = None,
    with_llm: bool = True,
) -> Services:
    """Open everything the settings name. `embedder` and `llm` let tests share loaded models;
    `with_llm=False` skips starting an LLM (ingest and search need none)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    install_tiktoken_cache(settings.data_dir / "tiktoken")
    embedder = embedder or build_embedder(settings)
    client = open_chroma(settings.chroma_url, settings.data_dir)
    store = PaperStore(client, settings.collection_prefix, embedder.name, embedder.dim)
    lexical = LexicalIndex(store)
    answering = CachedEmbedder(embedder, settings.sentence_vector_cache)  # questions and sentences
    retriever = HybridRetriever(
        store,
        answering,
        lexical,
        rrf_k=settings.rrf_k,
        per_paper_cap=settings.max_chunks_per_paper,
        candidate_multiplier=settings.candidate_multiplier,
    )
    llm = llm or (open_llm(settings) if with_llm else LLMHandle(None, "extractive", "off"))
    generator = Generator(
        llm,
        LLMGate(settings.llm_concurrency, settings.llm_queue_size, settings.llm_queue_wait_s),
        settings.verifier_floor_s,
        settings.injection_probe_calls,
        settings.grounding.injection,
    )
    check = RequestCheck(store.papers, settings)
    ingest = IngestService(store, embedder, lexical, settings)
    parser = ParsePool(
        settings.parse_workers, settings.parse_timeout_s, settings.max_text_chars, settings.parse_memory_mb
    )
    picker = SentencePicker(retriever, answering, settings)
    matrix_engine = MatrixEngine(picker, generator, settings)  # /compare's cells and /matrix's
    ask = AskService(retriever, store, generator, check, settings)
    jobs: JobQueue | SharedJobQueue
    if settings.queue_url:  # one queue, answer cache (and rate limits) for every replica
        jobs = SharedJobQueue(settings)
        ingest.fence = WriteFence(jobs.client, settings.collection_prefix)
        if settings.ask_cache_size:
            shared = RedisCache(
                shared_client(settings.queue_url), settings.collection_prefix, settings.queue_cache_ttl_s
            )
            ask.cache = ResultCache(shared, Answer)
    else:
        jobs = JobQueue(ingest, settings.data_dir, parser.parse)
    return Services(
        settings,
        embedder,
        store,
        lexical,
        retriever,
        ingest,
        llm,
        generator,
        parser,
        jobs,
        check,
        ask,
        SummaryService(store, generator, settings, answering, picker),
        CompareService(store, answering, generator, check, settings, matrix_engine),
        MatrixService(store, retriever, matrix_engine, check, settings),
    )


class Container:
    """Holds the services once they are built, and the error if building failed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._services: Services | None = None
        self._error: str | None = None
        self._done = threading.Event()
        self._started = threading.Lock()
        self._stopping = threading.Event()
        self._owned = True  # built here, so closed here at shutdown

    @classmethod
    def of(cls, services: Services) -> Container:
        """A container around services that are already built."""
        container = cls(services.settings)
        container._started.acquire()
        container._owned = False  # the caller built them and closes them
        container._services = services
        container._done.set()
        return container

    def load(self, retry: bool = False) -> None:
        """Build the services (once; later calls wait for the first). With `retry`, a failed
        start (a Chroma or embeddings server that is down) is tried again every
        STARTUP_RETRY_S until it works or the service stops; /readyz says why meanwhile."""
        if not self._started.acquire(blocking=False):
            self._done.wait()
            return
        try:
            while True:
                try:
                    services = build_services(self.settings)
                    services.ingest.repair()  # what a crash mid-write left
                    services.jobs.resume()  # uploads a previous process left unfinished
                    services.matrix.resume()  # and matrices
                    self._services, self._error = services, None
                    return
                except Exception as err:  # reported by /readyz, not raised into the server loop
                    log.exception("paperlens failed to start")
                    self._error = f"{err.__class__.__name__}: {err}"
                    if not retry or self._stopping.wait(self.settings.startup_retry_s):
                        return
                    log.info("retrying start-up")
        finally:
            self._done.set()

    def shutdown(self) -> None:
        """Stop start-up retries and refuse new LLM calls; in-flight ones end with their
        time budget (their worker threads do not keep the process alive)."""
        self._stopping.set()
        if self._services is not None and self._owned:
            self._services.generator.close()

    def load_in_background(self) -> None:
        if not self._started.locked():
            threading.Thread(target=self.load, args=(True,), name="paperlens-load", daemon=True).start()

    @property
    def status(self) -> tuple[bool, str]:
        if self._services is not None:
            return True, "ready"
        if self._error is not None:
            again = "" if self._done.is_set() else f"; retrying every {self.settings.startup_retry_s:g} s"
            return False, f"start-up failed: {_PATH.sub('<path>', redact(self._error))}{again}"
        return False, "loading the store and the embedding model"

    @property
    def services(self) -> Services:
        if self._services is None:
            raise NotReady(f"paperlens is not ready: {self.status[1]}; retry shortly")
        return self._services
