"""Request rate limits over the `limits` library: several limits at once, shared across replicas.

A *policy* is the set of limits one route category applies (PodPlay chat: 1000 an hour and 50
a minute); `RateLimiter.hit` counts one request against every limit of a policy for one key
(a category and a principal) and answers what the `X-RateLimit-*` headers need, or raises
`RateLimited` when any limit is spent.

Counters live in memory by default and in Redis when a URL is given, so that N replicas behind
a load balancer share them.

Strategy: *moving window*. It enforces exactly "N in any window of that length": no burst of
twice the limit across a fixed window's boundary (which would defeat the very point of the
seeds' burst limits and of 5-a-minute auth limits), and the reset it reports is the moment the
oldest counted request leaves the window, which is exactly when the next one will be accepted,
so `Retry-After` never sends a client back too early. Its cost is one stored timestamp per
counted request per key, bounded by the largest limit (2,000) and expiring with the window;
the sliding-window counter would be O(1) but its reset time is an estimate that can be early,
and a fixed window, the cheapest, lets through double the limit around each boundary.

Override format (`Settings.rate_limits`, keyed `<dialect>.<category>`): the `limits` notation,
several limits separated by `;` (or `,`): `"1000/hour;50/minute"`, `"10 per hour"`,
`"100/2 minutes"`. `"unlimited"` (or `"none"`, `"off"`, `""`) lifts every limit of a category.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis.asyncio as aioredis
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, MovingWindowSupport, RedisStorage, Storage
from limits.errors import StorageError

from menagerie.core.clock import iso
from menagerie.core.errors import RateLimited

log = logging.getLogger(__name__)

UNLIMITED = frozenset({"", "unlimited", "none", "off"})
KEY_PREFIX = "menagerie:ratelimit"
# a rate-limit check must never hold a request for long: a slow Redis counts as a failed one
REDIS_TIMEOUT_S = 1.0
# after a storage failure, requests go unmetered for this long before Redis is tried again,
# so an outage costs one slow request per interval rather than a timeout on every request
RETRY_STORAGE_AFTER_S = 5.0
MESSAGE = "Rate limit exceeded"

T = TypeVar("T")


def parse_limits(text: str, *, name: str = "rate limit") -> tuple[RateLimitItem, ...]:
    """`"1000/hour;50/minute"` -> its limits; `"unlimited"` -> none. Raises ValueError."""
    if text.strip().lower() in UNLIMITED:
        return ()
    try:
        items = tuple(parse_many(text))
    except ValueError as exc:
        raise ValueError(
            f"{name}: cannot read {text!r}; expected limits like '1000/hour;50/minute'"
        ) from exc
    for item in items:
        if item.amount < 1:
            raise ValueError(f"{name}: {text!r} allows no request at all; use at least 1")
    return items


def digest(secret: str) -> str:
    """A counter key for a credential or an address: never the raw value in storage."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass(frozen=True)
class RateLimitPolicy:
    """The limits of one route category, e.g. `podplay.chat`."""

    name: str
    items: tuple[RateLimitItem, ...]

    @property
    def unlimited(self) -> bool:
        return not self.items


@dataclass(frozen=True)
class RateLimitStatus:
    """Where a key stands after a counted request: what the `X-RateLimit-*` headers say.

    With several limits it describes the one closest to exhaustion (fewest remaining), as
    the IETF RateLimit-header draft asks for; `reset` is epoch seconds, rounded up.
    """

    limit: int
    remaining: int
    reset: int
    window_seconds: int


@dataclass(frozen=True)
class _Window:
    item: RateLimitItem
    start: float  # the oldest counted request in the window, or now when there is none
    count: int

    @property
    def window_seconds(self) -> int:
        return int(self.item.get_expiry())

    def reset_at(self, now: float) -> float:
        return (self.start if self.count else now) + self.window_seconds


class RateLimiter:
    """Counts requests per key against a policy's limits; memory or Redis storage."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        enabled: bool = True,
        overrides: Mapping[str, str] | None = None,
        key_prefix: str = KEY_PREFIX,
        redis_timeout_s: float = REDIS_TIMEOUT_S,
        retry_storage_after_s: float = RETRY_STORAGE_AFTER_S,
    ) -> None:
        self.enabled = enabled
        self.backend = "redis" if redis_url else "memory"
        self._retry_after_failure = retry_storage_after_s
        self._down_until = 0.0  # while storage is failing: no checks until then
        self._pool: aioredis.ConnectionPool | None = None
        # every override is read now, so a typo stops the server at start, not at a request
        self.overrides = {
            name: parse_limits(text, name=f"rate_limits[{name!r}]")
            for name, text in (overrides or {}).items()
        }
        self._storage: Storage
        if redis_url:
            self._pool = aioredis.ConnectionPool.from_url(
                redis_url,
                socket_connect_timeout=redis_timeout_s,
                socket_timeout=redis_timeout_s,
            )
            self._storage = RedisStorage(
                _limits_uri(redis_url),
                implementation="redispy",
                key_prefix=key_prefix,
                connection_pool=self._pool,
            )
        else:
            self._storage = MemoryStorage()
        assert isinstance(self._storage, MovingWindowSupport)
        self._window_storage: MovingWindowSupport = self._storage
        # what counts as the storage failing (and fails open); memory storage cannot fail
        self._failures: tuple[type[Exception], ...] = ()
        if redis_url:
            base = self._storage.base_exceptions
            self._failures = (
                StorageError,
                OSError,
                TimeoutError,
                *(base if isinstance(base, tuple) else (base,)),
            )

    def policy(self, name: str, default: str) -> RateLimitPolicy:
        """The limits of category `name` (`podplay.chat`): its override, else `default`."""
        if name in self.overrides:
            return RateLimitPolicy(name, self.overrides[name])
        return RateLimitPolicy(name, parse_limits(default, name=name))

    async def hit(self, policy: RateLimitPolicy, key: str) -> RateLimitStatus | None:
        """Count one request by `key` against every limit of `policy`.

        Returns the status for the headers, or None when nothing was counted (limits off, an
        unlimited category, or storage unreachable). Raises `RateLimited` when a limit is
        spent; a refused request is not counted, so a client that keeps retrying too early
        does not push its own reset further away.
        """
        if not self.enabled or policy.unlimited:
            return None
        now = time.time()
        if now < self._down_until:
            return None
        identifiers = [(item, item.key_for(policy.name, key)) for item in policy.items]
        try:
            windows = await self._all(
                [self._window(item, storage_key) for item, storage_key in identifiers]
            )
            full = [window for window in windows if window.count >= window.item.amount]
            if full:
                raise self._refusal(full, now)
            acquired = await self._all(
                [
                    self._window_storage.acquire_entry(
                        storage_key, item.amount, int(item.get_expiry())
                    )
                    for item, storage_key in identifiers
                ]
            )
            if not all(acquired):
                # another request (on this replica or another) took the last slot meanwhile
                lost = [window for window, ok in zip(windows, acquired, strict=True) if not ok]
                refreshed = await self._all(
                    [self._window(w.item, w.item.key_for(policy.name, key)) for w in lost]
                )
                raise self._refusal(refreshed, time.time())
        except RateLimited:
            raise
        except Exception as exc:
            if not isinstance(exc, self._failures):
                raise
            self._storage_failed(exc)
            return None
        self._storage_recovered()
        # describe the limit closest to exhaustion; on a tie, the longer window
        chosen = min(windows, key=lambda w: (w.item.amount - w.count - 1, -w.window_seconds))
        return RateLimitStatus(
            limit=chosen.item.amount,
            remaining=max(0, chosen.item.amount - chosen.count - 1),
            reset=math.ceil(chosen.reset_at(now)),
            window_seconds=chosen.window_seconds,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
        timer = getattr(self._storage, "timer", None)  # MemoryStorage's expiry sweep
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()

    async def _all(self, calls: list[Coroutine[Any, Any, T]]) -> list[T]:
        """Redis round trips run side by side; memory calls never wait, so tasks only cost."""
        if self._pool is None:
            return [await call for call in calls]
        return list(await asyncio.gather(*calls))

    async def _window(self, item: RateLimitItem, storage_key: str) -> _Window:
        start, count = await self._window_storage.get_moving_window(
            storage_key, item.amount, int(item.get_expiry())
        )
        return _Window(item, start, count)

    def _refusal(self, full: Sequence[_Window], now: float) -> RateLimited:
        # the request is accepted again only once every spent limit has room: the latest reset
        blocking = max(full, key=lambda w: w.reset_at(now))
        # whole seconds, rounded up: every rendering of it (epoch, ISO, Retry-After) agrees
        # and none tells a client to come back before it would be let in
        reset_at = datetime.fromtimestamp(math.ceil(blocking.reset_at(now)), UTC)
        error = RateLimited(
            MESSAGE,
            limit=blocking.item.amount,
            window_seconds=blocking.window_seconds,
            reset_at=reset_at,
        )
        error.details.update(
            limit=error.limit, window_seconds=error.window_seconds, reset_at=iso(reset_at)
        )
        return error

    def _storage_failed(self, exc: Exception) -> None:
        # Fail open: the limits protect the server from abusive clients, while an unreachable
        # Redis is our own outage. Refusing every request (or answering 500) would turn that
        # outage into a total one for every client, so requests go through unmetered, loudly.
        if self._down_until == 0.0:
            log.warning(
                "rate-limit storage (%s) unreachable, requests are not rate limited until it "
                "answers again: %s",
                self.backend,
                exc,
            )
        self._down_until = time.time() + self._retry_after_failure

    def _storage_recovered(self) -> None:
        if self._down_until:
            log.warning("rate-limit storage (%s) answers again, limits enforced", self.backend)
            self._down_until = 0.0


def _limits_uri(redis_url: str) -> str:
    """`redis://…` -> `async+redis://…`, the scheme `limits` registers its async storage by."""
    scheme, sep, rest = redis_url.partition("://")
    if scheme == "unix":
        return f"async+redis+unix://{rest}"
    return f"async+{scheme}{sep}{rest}"
