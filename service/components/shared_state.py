"""State every replica shares when PAPERLENS_QUEUE_URL names a Redis server: the /ask
answer cache, the rate-limit buckets, and the fence that keeps a replica's start-up sweep
away from other processes' writes (the ingest queue is `ingest/shared_jobs.py`).

Redis going away must not take the service with it: a cache that cannot be read is a
miss, one that cannot be written keeps nothing, and a bucket that cannot be reached lets
the request through (logged, at most once a minute), so an outage of Redis costs the
shared limits and cache, never an answer.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import redis
from redis.backoff import ExponentialBackoff
from redis.commands.core import Script
from redis.retry import Retry

log = logging.getLogger(__name__)

CLIENT_TIMEOUT_S = 2.0  # a request never waits longer than this on Redis for a limit or the cache
BREAK_S = 5.0  # after a failure, limits and cache skip Redis this long (no request waits on a dead one)


def open_redis(url: str, timeout_s: float | None = CLIENT_TIMEOUT_S, retries: int = 2) -> redis.Redis:
    """A client for `url` (connects on first use); commands give up after `timeout_s` and
    `retries` quick retries (redis-py's default is 10, up to a second apart)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries),
    )


@lru_cache(maxsize=8)
def shared_client(url: str) -> redis.Redis:
    """One client (and connection pool) per URL for the whole process."""
    return open_redis(url)


def namespace(prefix: str) -> str:
    """Keys of one deployment (COLLECTION_PREFIX), so several can share a Redis server."""
    return f"{prefix}:"


class _Breaker:
    """After a Redis failure the limits and the cache go without Redis for BREAK_S, then try
    again; each failure is logged at most once a minute per kind."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._until = 0.0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._until

    def __call__(self, kind: str, err: Exception) -> None:
        now = time.monotonic()
        self._until = now + BREAK_S
        if now - self._last.get(kind, -1e9) >= 60:
            self._last[kind] = now
            log.warning("Redis (PAPERLENS_QUEUE_URL) failed for the %s: %s; going on without it", kind, err)


_complain = _Breaker()


class RedisCache:
    """A `CacheBackend` (see answering/answer_cache.py) in Redis: values expire after `ttl_s`."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: int) -> None:
        self.client = client
        self.prefix = namespace(prefix) + "cache:"
        self.ttl_s = ttl_s

    def get(self, key: str) -> str | None:
        if _complain.open:
            return None
        try:
            raw = self.client.get(self.prefix + key)
        except redis.RedisError as err:
            _complain("answer cache", err)
            return None
        return raw.decode() if isinstance(raw, bytes) else None

    def put(self, key: str, value: str, owner: str) -> None:
        if _complain.open:
            return
        try:
            self.client.set(self.prefix + key, value.encode(), ex=self.ttl_s)
        except redis.RedisError as err:
            _complain("answer cache", err)

    def clear(self) -> None:
        """Forget every cached answer of this deployment (tests)."""
        try:
            keys = list(self.client.scan_iter(match=self.prefix + "*", count=500))
            if keys:
                self.client.delete(*keys)
        except redis.RedisError as err:
            _complain("answer cache", err)


# One bucket: `tokens` refilled at `rate` a second up to `burst`, timed by the Redis server's
# clock (every replica reads the same one). ARGV[3] = 1 takes a token when there is one.
# Returns the seconds until a token is free (0 when there was one), as a string: Lua numbers
# come back from Redis truncated to integers.
_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local take = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(v[1]) or burst
local at = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  if take == 1 then tokens = tokens - 1 end
else
  wait = (1 - tokens) / rate
end
if take == 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
end
return tostring(wait)
"""


class RedisBuckets:
    """Token buckets shared by every replica, one per client; the same interface as the
    in-memory `TokenBuckets` of `server/guards.py`."""

    def __init__(self, client: redis.Redis, prefix: str, name: str, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.prefix = f"{namespace(prefix)}bucket:{name}:"
        self._script: Script = client.register_script(_BUCKET)

    def _call(self, client: str, take: bool) -> float:
        if self.rate <= 0 or _complain.open:
            return 0.0
        try:
            raw = self._script(keys=[self.prefix + client], args=[self.rate, self.burst, 1 if take else 0])
        except redis.RedisError as err:
            _complain("rate limits", err)
            return 0.0
        return float(raw.decode() if isinstance(raw, bytes) else raw)

    def wait(self, client: str) -> float:
        """The seconds until `client` has a token (0: it has one now); takes none."""
        return self._call(client, take=False)

    def take(self, client: str) -> float:
        """0 when a token was taken; otherwise the seconds until one is free."""
        return self._call(client, take=True)


WRITE_LEASE_S = 600  # a writer that died holds the fence this long at most


class WriteFence:
    """Keeps the start-up sweep (chunks no record names: what a crash mid-write left) apart
    from writes in other processes, whose chunks go in before their record and would look
    the same. A writer holds a lease (`<prefix>:writing:<id>`) and waits while a sweep runs
    (`<prefix>:sweeping`); a sweep sets its flag and runs only when no lease is held. Each
    sets its key before looking for the other's, so one of them always sees the other.
    Without Redis a write goes ahead and the sweep waits for the next start."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.ns = namespace(prefix)
        self.sweep_key = self.ns + "sweeping"

    @contextmanager
    def writing(self) -> Iterator[None]:
        key = f"{self.ns}writing:{uuid.uuid4().hex}"
        held = False
        try:
            deadline = time.monotonic() + 300
            while True:
                self.client.set(key, "1", ex=WRITE_LEASE_S)
                held = True
                if not self.client.exists(self.sweep_key) or time.monotonic() > deadline:
                    break
                self.client.delete(key)
                held = False
                time.sleep(0.2)
        except redis.RedisError as err:
            _complain("write fence", err)
        try:
            yield
        finally:
            if held:
                try:
                    self.client.delete(key)
                except redis.RedisError as err:
                    _complain("write fence", err)

    @contextmanager
    def sweeping(self) -> Iterator[bool]:
        """True when this process may sweep now (no write in flight anywhere)."""
        try:
            if not self.client.set(self.sweep_key, "1", nx=True, ex=300):
                yield False  # another replica is sweeping
                return
        except redis.RedisError as err:
            _complain("write fence", err)
            yield False
            return
        try:
            busy = next(iter(self.client.scan_iter(match=self.ns + "writing:*", count=1000)), None)
            yield busy is None
        finally:
            try:
                self.client.delete(self.sweep_key)
            except redis.RedisError as err:
                _complain("write fence", err)


class LocalFence:
    """One process, no other writers to wait for: the per-process write lock is enough."""

    @contextmanager
    def writing(self) -> Iterator[None]:
        yield

    @contextmanager
    def sweeping(self) -> Iterator[bool]:
        yield True
