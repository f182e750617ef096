"""Ingest jobs on a shared queue: with PAPERLENS_QUEUE_URL, any replica accepts an upload,
any `paperlens worker` (any number, on any machine) indexes it, and any replica answers
GET and DELETE /jobs/{id}.

- **The queue** is RQ (https://python-rq.org) over the same Redis: one queue entry per
  *file*, so the files of one upload spread over every worker, and a file is the unit that
  is retried. Workers are RQ's `SimpleWorker` (the job runs in the worker process, which
  loaded the embedder and opened the store once). Entries are JSON (RQ's `JSONSerializer`),
  never pickles, so nothing that can write to Redis can make a worker run code.
- **At least once.** A worker that dies mid-file (SIGKILL, a lost machine) leaves its entry
  in RQ's started registry. A live worker renews its entry every HEARTBEAT_S while the file
  runs (RQ's `SimpleWorker` runs the file in its own thread and sends no heartbeat until it
  ends, so a thread of ours does); a dead one's entry lapses HEARTBEAT_TTL_S after its last
  heartbeat, and the next live worker's maintenance (every MAINTENANCE_S, idle or between
  files) puts it back on the queue (`Retry(max=QUEUE_RETRIES)`): another worker runs the
  file again about half a minute after the kill (a file over QUEUE_FILE_TIMEOUT_S is
  stopped by its own worker, RQ's job timeout, and fails saying so). Writes are
  idempotent: chunk ids carry the paper's content hash, so a file that had landed comes
  back `unchanged`, and chunks a killed write left are overwritten by the same ids. When
  the retries run out the file is marked failed, saying so; it is never left `running`.
- **The uploads** wait in Redis (`<prefix>:blob:<job>:<n>`), or in QUEUE_FILES_DIR when it
  names a folder every replica and worker mounts; each is deleted once its file is done.
- **The job record** is one Redis hash (`<prefix>:job:<id>`): its files' states as JSON
  (each written only by the worker running that file), and a cancelled flag. The job's
  status is derived from its files when read; a finished job's record expires after
  QUEUE_JOB_TTL_S.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import redis
from pydantic import BaseModel
from rq import Callback, Queue, Retry, SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException
from rq.worker import WorkerStatus

from service.components.shared_state import namespace, open_redis
from service.core.config import Settings
from service.core.errors import NotFound, NotReady
from service.ingest.file_ingest import FileResult, Parser, ingest_files
from service.ingest.ingest_service import IngestService
from service.ingest.jobs import FINISHED, IngestJob, file_view, job_view, safe_name

log = logging.getLogger(__name__)

FileStatus = Literal["queued", "running", "done", "failed", "cancelled"]
MAINTENANCE_S = 10  # how often a worker looks for entries of workers that died
HEARTBEAT_S = 5  # how often a worker renews the entry of the file it runs
HEARTBEAT_TTL_S = 20  # an entry not renewed this long is a dead worker's (4 missed heartbeats:
# a Chroma write holds the GIL for at most a few seconds)
MAINTENANCE_LOCK_S = 60  # RQ's lock on a queue's maintenance lasts 899 s, which a worker
# killed while holding it would leave to block every other worker's maintenance
API_TIMEOUT_S = 10.0  # a replica's Redis calls for jobs (a file of MAX_UPLOAD_BYTES included)
RESULT_TTL_S = 600  # RQ keeps a finished entry this long (0, deleting it at once, fails in
# RQ 2.12 for an entry a killed worker had started: its execution record is gone)
JOBS_LISTED = 1000  # jobs /metrics counts by status (the newest)


class SharedFile(BaseModel):
    """One file of a job, as kept in the job's hash."""

    name: str
    blob: str  # the Redis key, or the path under QUEUE_FILES_DIR, holding the upload
    status: FileStatus = "queued"
    paper_ids: list[str] = []
    chunks: int = 0
    error: str | None = None
    attempts: int = 0


def job_status(cancelled: bool, files: Sequence[SharedFile]) -> str:
    if cancelled:
        return "cancelled"
    if all(f.status in FINISHED for f in files):
        return "failed" if files and all(f.status == "failed" for f in files) else "done"
    return "queued" if all(f.status == "queued" for f in files) else "running"


def _unreachable(err: redis.RedisError) -> NotReady:
    return NotReady(
        f"the ingest queue (PAPERLENS_QUEUE_URL) cannot be reached ({err.__class__.__name__}); retry shortly",
        code="queue_unavailable",
    )


class SharedJobStore:
    """Job records in Redis. `counts()` is what /metrics reads (the SQLite store's interface)."""

    def __init__(self, client: redis.Redis, prefix: str, job_ttl_s: int) -> None:
        self.client = client
        self.ns = namespace(prefix)
        self.index = self.ns + "jobs"  # job ids by creation time
        self.job_ttl_s = job_ttl_s

    def key(self, job_id: str) -> str:
        return f"{self.ns}job:{job_id}"

    def create(self, job_id: str, files: Sequence[SharedFile]) -> None:
        now = time.time()
        mapping: dict[Any, str] = {"created": repr(now), "cancelled": "0", "n": str(len(files))}
        mapping |= {f"f:{i}": f.model_dump_json() for i, f in enumerate(files)}
        with self.client.pipeline() as pipe:
            pipe.hset(self.key(job_id), mapping=mapping)
            pipe.zadd(self.index, {job_id: now})
            pipe.zremrangebyscore(self.index, 0, now - self.job_ttl_s)  # ids whose records expired
            pipe.execute()

    def load(self, job_id: str) -> tuple[bool, list[SharedFile]] | None:
        """(cancelled, files), or None for an unknown (or expired) job."""
        raw: dict[bytes, bytes] = self.client.hgetall(self.key(job_id))  # type: ignore[assignment]
        if not raw:
            return None
        n = int(raw.get(b"n", b"0"))
        files = [SharedFile.model_validate_json(raw[f"f:{i}".encode()]) for i in range(n)]
        return raw.get(b"cancelled") == b"1", files

    def file(self, job_id: str, idx: int) -> SharedFile | None:
        raw = self.client.hget(self.key(job_id), f"f:{idx}")
        return SharedFile.model_validate_json(raw) if isinstance(raw, bytes) else None

    def put_file(self, job_id: str, idx: int, file: SharedFile) -> None:
        if self.client.exists(self.key(job_id)):  # an expired job stays gone
            self.client.hset(self.key(job_id), f"f:{idx}", file.model_dump_json())

    def cancel(self, job_id: str) -> bool:
        """Flag an unfinished job cancelled; False when it had finished (checked and set in one
        transaction, so a file finishing meanwhile cannot slip between)."""

        key = self.key(job_id)
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    loaded = self._load_watched(pipe, job_id)
                    if loaded is None or job_status(*loaded) in FINISHED:
                        pipe.unwatch()
                        return False
                    pipe.multi()
                    pipe.hset(key, "cancelled", "1")
                    pipe.execute()
                    return True
                except redis.WatchError:  # a file's state changed meanwhile: look again
                    continue

    def _load_watched(self, pipe: redis.client.Pipeline, job_id: str) -> tuple[bool, list[SharedFile]] | None:
        raw: dict[bytes, bytes] = pipe.hgetall(self.key(job_id))  # type: ignore[assignment]
        if not raw:
            return None
        n = int(raw.get(b"n", b"0"))
        return raw.get(b"cancelled") == b"1", [
            SharedFile.model_validate_json(raw[f"f:{i}".encode()]) for i in range(n)
        ]

    def expire(self, job_id: str) -> None:
        self.client.expire(self.key(job_id), self.job_ttl_s)

    def counts(self) -> dict[str, int]:
        """Jobs by status (the newest JOBS_LISTED), for /metrics."""
        try:
            ids = [i.decode() for i in self.client.zrevrange(self.index, 0, JOBS_LISTED - 1)]  # type: ignore[union-attr]
            out: dict[str, int] = {}
            for job_id in ids:
                loaded = self.load(job_id)
                if loaded is not None:
                    status = job_status(*loaded)
                    out[status] = out.get(status, 0) + 1
            return out
        except redis.RedisError:
            return {}

    def view(self, job_id: str) -> IngestJob:
        loaded = self.load(job_id)
        if loaded is None:
            raise NotFound(f"no ingest job {job_id!r}; POST /papers/upload returns the job id")
        cancelled, files = loaded
        shown = [
            file_view(
                f.name,
                "cancelled" if cancelled and f.status == "queued" else f.status,
                f.paper_ids,
                f.chunks,
                f.error,
            )
            for f in files
        ]
        return job_view(job_id, job_status(cancelled, files), shown)


class Blobs:
    """Where queued uploads wait: Redis, or a folder every replica and worker mounts."""

    def __init__(self, client: redis.Redis, prefix: str, folder: Path | None) -> None:
        self.client = client
        self.ns = namespace(prefix)
        self.folder = folder

    def put(self, job_id: str, idx: int, name: str, source: Path) -> str:
        if self.folder is not None:
            path = self.folder / job_id / f"{idx:04d}-{safe_name(name)}"
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, path)
            return str(path)
        key = f"{self.ns}blob:{job_id}:{idx}"
        self.client.set(key, source.read_bytes())
        return key

    def fetch(self, blob: str, name: str, into: Path) -> Path | None:
        """The upload as a file on this machine (under `into` when it comes from Redis);
        None when it is gone (its job finished or was cancelled meanwhile)."""
        if self.folder is not None:
            path = Path(blob)
            return path if path.is_file() else None
        data = self.client.get(blob)
        if not isinstance(data, bytes):
            return None
        path = into / safe_name(name)
        path.write_bytes(data)
        return path

    def drop(self, blob: str) -> None:
        if self.folder is not None:
            Path(blob).unlink(missing_ok=True)
        else:
            self.client.delete(blob)

    def drop_job(self, job_id: str) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder / job_id, ignore_errors=True)


class IngestQueue(Queue):
    """RQ's queue, with a maintenance lock a killed worker holds for a minute, not 15."""

    def acquire_maintenance_lock(self) -> bool:
        return bool(self.connection.set(self.registry_cleaning_key, 1, nx=True, ex=MAINTENANCE_LOCK_S))


class IngestWorker(SimpleWorker):
    """RQ's in-process worker, with a heartbeat while a file runs. RQ's forking worker renews
    a running entry from its parent process; `SimpleWorker` runs the file in the thread that
    would renew it, so its entry lived `job_timeout` + 60 s and a killed worker's file waited
    that long (ten minutes by default). Here the entry lives HEARTBEAT_TTL_S and a thread
    renews it every HEARTBEAT_S until the file ends; a file over its timeout is stopped by
    RQ's death penalty (SIGALRM) in this thread, as before."""

    def get_heartbeat_ttl(self, job: Job) -> int:
        return HEARTBEAT_TTL_S

    _beating: tuple[threading.Event, threading.Thread] | None = None

    def execute_job(self, job: Job, queue: Queue) -> None:
        self.prepare_execution(job)
        stop = threading.Event()
        thread = threading.Thread(target=self._beat, args=(job, stop), name="rq-heartbeat", daemon=True)
        self._beating = stop, thread
        thread.start()
        try:
            self.perform_job(job, queue)
        finally:
            self._stop_beating()
        self.set_state(WorkerStatus.IDLE)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """The file ended (done, failed or timed out): stop renewing before RQ files it away,
        so no late heartbeat writes to an entry RQ has removed."""
        self._stop_beating()
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def _stop_beating(self) -> None:
        if self._beating is not None:
            stop, thread = self._beating
            stop.set()
            thread.join()
            self._beating = None

    def _beat(self, job: Job, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                self.maintain_heartbeats(job)
            except redis.RedisError as err:  # the next beat tries again; the entry lapses if none lands
                log.warning("heartbeat for %s failed (%s)", job.id, err.__class__.__name__)


def _queue(client: redis.Redis, settings: Settings) -> Queue:
    return IngestQueue(f"{settings.collection_prefix}-ingest", connection=client, serializer=JSONSerializer)


class SharedJobQueue:
    """The API side: accepts uploads as jobs, answers for any job, cancels any job.
    The same methods as the in-process `JobQueue` (jobs.py)."""

    def __init__(self, settings: Settings, client: redis.Redis | None = None) -> None:
        assert settings.queue_url, "SharedJobQueue needs PAPERLENS_QUEUE_URL"
        self.settings = settings
        self.client = client or open_redis(settings.queue_url, timeout_s=API_TIMEOUT_S)
        self.store = SharedJobStore(self.client, settings.collection_prefix, settings.queue_job_ttl_s)
        self.blobs = Blobs(self.client, settings.collection_prefix, settings.queue_files_dir)
        self.queue = _queue(self.client, settings)

    def submit(self, files: Sequence[tuple[str, Path]]) -> IngestJob:
        """Store the files where every worker reads them, record the job, queue one entry per
        file; returns at once."""
        job_id = uuid.uuid4().hex[:16]
        try:
            saved = [
                SharedFile(name=name, blob=self.blobs.put(job_id, i, name, path))
                for i, (name, path) in enumerate(files)
            ]
            self.store.create(job_id, saved)  # files first: a recorded job always has its files
            for i in range(len(saved)):
                self.queue.enqueue(
                    "service.ingest.shared_jobs.run_file",
                    job_id,
                    i,
                    job_id=f"{job_id}-{i}",
                    job_timeout=self.settings.queue_file_timeout_s,
                    retry=Retry(max=self.settings.queue_retries) if self.settings.queue_retries else None,
                    on_failure=Callback("service.ingest.shared_jobs.file_gave_up"),
                    result_ttl=RESULT_TTL_S,
                    failure_ttl=self.settings.queue_job_ttl_s,
                )
            return self.store.view(job_id)
        except redis.RedisError as err:
            raise _unreachable(err) from err

    def resume(self) -> None:
        """Nothing to do: the queue outlives every process."""

    def get(self, job_id: str) -> IngestJob:
        try:
            return self.store.view(job_id)
        except redis.RedisError as err:
            raise _unreachable(err) from err

    def cancel(self, job_id: str) -> IngestJob:
        """Files not yet started are skipped; a file being indexed finishes whole. Cancelling a
        finished job changes nothing."""
        try:
            self.store.view(job_id)  # 404 for an unknown id
            self.store.cancel(job_id)
            return self.store.view(job_id)
        except redis.RedisError as err:
            raise _unreachable(err) from err


class FileRunner:
    """The worker side: runs one file of a job, idempotently."""

    def __init__(
        self, ingest: IngestService, parse: Parser, store: SharedJobStore, blobs: Blobs, timeout_s: int
    ) -> None:
        self.timeout_s = timeout_s
        self.ingest = ingest
        self.parse = parse
        self.store = store
        self.blobs = blobs

    def run(self, job_id: str, idx: int) -> None:
        loaded = self.store.load(job_id)
        if loaded is None:
            log.warning("ingest job %s is gone (expired); skipping its file %d", job_id, idx)
            return
        cancelled, files = loaded
        file = files[idx]
        if file.status in FINISHED:  # a repeat of a file that was recorded: nothing to do
            return
        if cancelled:
            self._record(job_id, idx, file.model_copy(update={"status": "cancelled"}))
            return
        file = file.model_copy(update={"status": "running", "attempts": file.attempts + 1})
        self.store.put_file(job_id, idx, file)
        with tempfile.TemporaryDirectory(prefix="paperlens-job-") as tmp:
            path = self.blobs.fetch(file.blob, file.name, Path(tmp))
            if path is None:
                result = FileResult(file.name, "failed", error="the uploaded file is gone; upload it again")
            else:
                result = ingest_files(self.ingest, [(file.name, path)], parse=self.parse)[0]
                if result.error and JobTimeoutException.__name__ in result.error:
                    result.error = (
                        f"indexing took over PAPERLENS_QUEUE_FILE_TIMEOUT_S ({self.timeout_s} s); "
                        "split the file or raise the setting"
                    )
        self._record(
            job_id,
            idx,
            file.model_copy(
                update={
                    "status": result.status,
                    "paper_ids": result.paper_ids,
                    "chunks": result.chunks,
                    "error": result.error,
                }
            ),
        )
        log.info("ingest job %s: file %d (%s) %s", job_id, idx, file.name, result.status)

    def give_up(self, job_id: str, idx: int, why: str) -> None:
        file = self.store.file(job_id, idx)
        if file is not None and file.status not in FINISHED:
            self._record(job_id, idx, file.model_copy(update={"status": "failed", "error": why}))

    def _record(self, job_id: str, idx: int, file: SharedFile) -> None:
        self.store.put_file(job_id, idx, file)
        self.blobs.drop(file.blob)
        loaded = self.store.load(job_id)
        if loaded is not None and all(f.status in FINISHED for f in loaded[1]):
            self.store.expire(job_id)
            self.blobs.drop_job(job_id)


_runner: FileRunner | None = None  # set by `run_worker` in a worker process


def run_file(job_id: str, idx: int) -> None:
    """The queue entry's function (RQ imports it by name)."""
    if _runner is None:
        raise RuntimeError("run_file runs inside `paperlens worker` only")
    _runner.run(job_id, idx)


def file_gave_up(job: Job, connection: redis.Redis, *exc_info: Any) -> None:
    """RQ's failure callback: a file whose worker died or ran out of time. While retries are
    left RQ queues it again; after the last one it is marked failed (never left running)."""
    if job.retries_left:
        return
    job_id, idx = job.args[0], int(job.args[1])
    why = (
        "the worker indexing this file stopped on every try (killed, or over "
        "PAPERLENS_QUEUE_FILE_TIMEOUT_S); upload it again, or look for the reason in the workers' logs"
    )
    if _runner is not None:
        _runner.give_up(str(job_id), idx, why)
    else:  # the maintenance of a process that runs no files: write the record directly
        prefix = job.origin.removesuffix("-ingest")
        store = SharedJobStore(connection, prefix, 7 * 86400)
        file = store.file(str(job_id), idx)
        if file is not None and file.status not in FINISHED:
            store.put_file(str(job_id), idx, file.model_copy(update={"status": "failed", "error": why}))


def run_worker(
    ingest: IngestService,
    parse: Parser,
    settings: Settings,
    *,
    burst: bool = False,
    name: str | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Take files off the shared queue until stopped (SIGTERM or SIGINT: the file being
    indexed finishes first); with `burst`, until the queue is empty."""
    global _runner
    assert settings.queue_url, "paperlens worker needs PAPERLENS_QUEUE_URL"
    client = open_redis(settings.queue_url, timeout_s=None, retries=10)
    while True:  # wait for Redis like the server waits for Chroma
        try:
            client.ping()
            break
        except redis.RedisError as err:
            log.warning("Redis (PAPERLENS_QUEUE_URL) not reachable (%s); retrying", err.__class__.__name__)
            time.sleep(settings.startup_retry_s)
    store = SharedJobStore(client, settings.collection_prefix, settings.queue_job_ttl_s)
    blobs = Blobs(client, settings.collection_prefix, settings.queue_files_dir)
    _runner = FileRunner(ingest, parse, store, blobs, settings.queue_file_timeout_s)
    worker = IngestWorker(
        [_queue(client, settings)],
        connection=client,
        serializer=JSONSerializer,
        name=name,
        maintenance_interval=MAINTENANCE_S,
        worker_ttl=MAINTENANCE_S + 15,  # an idle worker wakes every MAINTENANCE_S for maintenance
    )
    if on_ready is not None:
        on_ready()
    level = logging.getLevelName(log.getEffectiveLevel())
    worker.work(burst=burst, logging_level=level, with_scheduler=False)
