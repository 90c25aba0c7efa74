"""Per-endpoint outbound rate limits shared by every process through Redis.

Each endpoint gets ``rate_limit_per_minute`` slots in a moving window (the
``limits`` library's Redis storage: a list of hit timestamps trimmed by a Lua
script, so no two processes can both take the last slot). A caller with no slot
WAITS until the oldest hit leaves the window instead of failing; only a wait
longer than ``max_wait`` raises ``RateLimitWaitExceeded``.

Redis being down must not stop every integration: the limiter then lets calls
through (logging a warning at most every 30 s) and retries Redis after a few
seconds.

Settings (all optional):
- ``OUTBOUND_RATE_LIMIT_WINDOW_SECONDS`` (60): the window the per-minute budget
  applies to. Production keeps 60; tests shorten it to exercise the limiter in
  seconds.
- ``OUTBOUND_RATE_LIMIT_PREFIX`` ("testenv:outbound"): Redis key prefix.
- ``OUTBOUND_MAX_QUEUE_WAIT_SECONDS`` (300): default longest wait for a slot.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import redis
from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from testenv.redis import get_redis

if TYPE_CHECKING:
    from integrations.models import IntegrationEndpoint

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "testenv:outbound"
# How long to skip Redis after it failed, and how often to say so in the log.
_REDIS_BACKOFF_SECONDS = 5.0
_WARN_EVERY_SECONDS = 30.0
_RATE_LIMITED_TTL_SECONDS = 86_400


class RateLimitWaitExceeded(Exception):
    """No slot would free up within the caller's longest acceptable wait."""

    def __init__(self, endpoint_name: str, wait_seconds: float, max_wait: float):
        super().__init__(
            f"rate limit of {endpoint_name!r} has no free slot for "
            f"{wait_seconds:.1f} s (waiting at most {max_wait:.1f} s)"
        )
        self.wait_seconds = wait_seconds
        self.max_wait = max_wait


def _prefix() -> str:
    return getattr(settings, "OUTBOUND_RATE_LIMIT_PREFIX", DEFAULT_PREFIX)


def window_seconds() -> int:
    return int(getattr(settings, "OUTBOUND_RATE_LIMIT_WINDOW_SECONDS", 60))


def max_queue_wait() -> float:
    return float(getattr(settings, "OUTBOUND_MAX_QUEUE_WAIT_SECONDS", 300))


@lru_cache(maxsize=8)
def _limiter(redis_url: str, prefix: str) -> MovingWindowRateLimiter:
    # Share testenv's Redis connection pool rather than opening another.
    storage = RedisStorage(
        redis_url,
        connection_pool=get_redis().connection_pool,
        key_prefix=f"{prefix}:limits",
    )
    return MovingWindowRateLimiter(storage)


def limiter() -> MovingWindowRateLimiter:
    return _limiter(settings.REDIS_URL, _prefix())


def _item(endpoint: IntegrationEndpoint) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(
        max(1, endpoint.rate_limit_per_minute), multiples=window_seconds()
    )


def _identifier(endpoint: IntegrationEndpoint) -> str:
    return f"endpoint/{endpoint.pk if endpoint.pk is not None else endpoint.name}"


def _last_key(endpoint: IntegrationEndpoint) -> str:
    return f"{_prefix()}:rate-limited:{_identifier(endpoint)}"


class _RedisHealth:
    """Fail open while Redis is unreachable, without hammering it."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.last_warning = 0.0
        self.lock = threading.Lock()

    def available(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        with self.lock:
            self.down_until = now + _REDIS_BACKOFF_SECONDS
            warn = now - self.last_warning >= _WARN_EVERY_SECONDS
            if warn:
                self.last_warning = now
        if warn:
            logger.warning(
                "outbound rate limits not enforced: Redis unavailable (%s)",
                type(error).__name__,
            )


_health = _RedisHealth()


def acquire(endpoint: IntegrationEndpoint, *, max_wait: float | None = None) -> float:
    """Take one slot of ``endpoint``'s budget, waiting for one if needed.

    Returns the seconds waited. Raises ``RateLimitWaitExceeded`` when the next
    slot frees later than ``max_wait`` seconds from the start of the call.
    """
    if not _health.available():
        return 0.0
    max_wait = max_queue_wait() if max_wait is None else max_wait
    item, ident = _item(endpoint), _identifier(endpoint)
    started = time.monotonic()
    try:
        strategy = limiter()
        while not strategy.hit(item, ident):
            stats = strategy.get_window_stats(item, ident)
            delay = max(stats.reset_time - time.time(), 0.0)
            waited = time.monotonic() - started
            if waited + delay > max_wait:
                raise RateLimitWaitExceeded(endpoint.name, waited + delay, max_wait)
            # Waiters wake when the oldest hit expires; the jitter spreads
            # them so they do not all retry the Lua script at the same instant.
            time.sleep(min(delay, 5.0) + random.uniform(0.001, 0.02))
    except (redis.RedisError, OSError) as error:
        _health.failed(error)
    return time.monotonic() - started


def record_rate_limited(
    endpoint: IntegrationEndpoint, retry_after: float | None
) -> None:
    """Remember that the service answered "rate limited" (for the status API)."""
    if not _health.available():
        return
    mapping = {
        "at": repr(time.time()),
        "retry_after": "" if retry_after is None else repr(float(retry_after)),
    }
    try:
        pipe = get_redis().pipeline()
        pipe.hset(_last_key(endpoint), mapping=mapping)
        pipe.expire(_last_key(endpoint), _RATE_LIMITED_TTL_SECONDS)
        pipe.execute()
    except (redis.RedisError, OSError) as error:
        _health.failed(error)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def rate_limit_status(endpoint: IntegrationEndpoint) -> dict[str, Any]:
    """The endpoint's budget as the status API shows it.

    ``{limit_per_minute, window_seconds, remaining, next_slot_at,
    last_retry_after, last_rate_limited_at}``: ``next_slot_at`` is when a slot
    frees while none is left (null while some are), ``last_retry_after`` the
    wait the service last asked for (seconds) and ``last_rate_limited_at`` when
    it last answered 429. ``remaining`` is null when Redis cannot be reached.
    """
    status: dict[str, Any] = {
        "limit_per_minute": endpoint.rate_limit_per_minute,
        "window_seconds": window_seconds(),
        "remaining": None,
        "next_slot_at": None,
        "last_retry_after": None,
        "last_rate_limited_at": None,
    }
    try:
        stats = limiter().get_window_stats(_item(endpoint), _identifier(endpoint))
        last = get_redis().hgetall(_last_key(endpoint))
    except (redis.RedisError, OSError) as error:
        _health.failed(error)
        return status
    remaining = max(int(stats.remaining), 0)
    status["remaining"] = remaining
    if remaining == 0:
        status["next_slot_at"] = _iso(stats.reset_time)
    if last:
        retry_after = last.get(b"retry_after", b"").decode()
        status["last_retry_after"] = float(retry_after) if retry_after else None
        at = last.get(b"at", b"").decode()
        status["last_rate_limited_at"] = _iso(float(at)) if at else None
    return status


def reset_rate_limit(endpoint: IntegrationEndpoint) -> None:
    """Forget the endpoint's hits and its last 429 (tests, operator reset)."""
    limiter().storage.clear(_item(endpoint).key_for(_identifier(endpoint)))
    get_redis().delete(_last_key(endpoint))
