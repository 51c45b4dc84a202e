"""Rate limits in Redis for real: replicas share their counters, and a Redis that goes away
lets requests through (fail open) until it comes back.

Redis is shared by every test run, so each test counts under its own key prefix (or, over
HTTP, its own made-up credential).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

import pytest

from menagerie.app import create_app
from menagerie.core.errors import RateLimited
from menagerie.core.ops.ratelimit import RateLimiter
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import client_for

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix() -> str:
    return f"menagerie:test:ratelimit:{uuid4().hex}"


@pytest.fixture
async def replicas(redis_url: str, prefix: str) -> AsyncIterator[tuple[RateLimiter, RateLimiter]]:
    one = RateLimiter(redis_url, key_prefix=prefix)
    two = RateLimiter(redis_url, key_prefix=prefix)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def test_two_replicas_share_their_counters(
    replicas: tuple[RateLimiter, RateLimiter],
) -> None:
    one, two = replicas
    policy = one.policy("podplay.chat", "1000/hour;4/minute")
    remaining = []
    for limiter in (one, two, one, two):
        status = await limiter.hit(policy, "p:caller")
        assert status is not None
        remaining.append(status.remaining)
    assert remaining == [3, 2, 1, 0]
    for limiter in (one, two):
        with pytest.raises(RateLimited) as refused:
            await limiter.hit(policy, "p:caller")
        assert (refused.value.limit, refused.value.window_seconds) == (4, 60)
    # a different caller is untouched on either replica
    status = await two.hit(policy, "p:someone-else")
    assert status is not None
    assert status.remaining == 3


async def test_replicas_together_never_let_more_through_than_the_limit(
    replicas: tuple[RateLimiter, RateLimiter],
) -> None:
    one, two = replicas
    policy = one.policy("gary.general", "10/hour")

    async def attempt(limiter: RateLimiter) -> bool:
        try:
            await limiter.hit(policy, "p:burst")
        except RateLimited:
            return False
        return True

    results = await asyncio.gather(*(attempt(one if n % 2 else two) for n in range(30)))
    assert sum(results) == 10


async def test_two_servers_share_counters_over_http(data_dir: Path, redis_url: str) -> None:
    def settings(name: str) -> Settings:
        directory = data_dir / name
        directory.mkdir()
        return Settings(
            data_dir=directory,
            database_url=f"sqlite+aiosqlite:///{directory / 'menagerie.db'}",
            master_key="test-master-key-0123456789abcdef",
            redis_url=redis_url,
            rate_limits={"podplay.health": "3/minute"},
            _env_file=None,
        )

    # a credential no other run uses: its counter starts at zero in the shared Redis
    caller = {"Authorization": f"Bearer podplay_api_{uuid4().hex}"}
    path = "/podplay/api/health"
    async with (
        client_for(create_app(platform=Platform.build(settings("a")))) as a,
        client_for(create_app(platform=Platform.build(settings("b")))) as b,
    ):
        seen = [(await server.get(path, headers=caller)) for server in (a, b, a, b)]
    assert [r.headers.get("x-ratelimit-remaining") for r in seen[:3]] == ["2", "1", "0"]
    assert seen[3].status_code == 429
    assert seen[3].json()["error_code"] == "RATE_LIMITED"


class Proxy:
    """A TCP relay to Redis that can be taken away (every connection cut) and brought back."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.db = parts.path or "/0"
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self.db}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            await self.server.wait_closed()
            self.server = None
        self.writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, upstream_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def test_a_redis_that_goes_away_fails_open_and_comes_back(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="menagerie.core.ops.ratelimit")
    proxy = Proxy(redis_url)
    await proxy.start()
    limiter = RateLimiter(
        proxy.url, key_prefix=prefix, redis_timeout_s=0.5, retry_storage_after_s=0.2
    )
    policy = limiter.policy("panthers.auth", "3/minute")
    try:
        for expected in (2, 1):
            status = await limiter.hit(policy, "a:client")
            assert status is not None
            assert status.remaining == expected

        await proxy.stop()  # Redis goes away: requests pass, uncounted, with one warning
        for _ in range(5):  # across several retry intervals: Redis is tried again, and fails
            assert await asyncio.wait_for(limiter.hit(policy, "a:client"), timeout=3) is None
            await asyncio.sleep(0.1)
        outage = [r for r in caplog.records if "not rate limited" in r.getMessage()]
        assert len(outage) == 1

        await proxy.start()  # back on the same port: counting resumes where it was
        await asyncio.sleep(0.25)
        status = await limiter.hit(policy, "a:client")
        assert status is not None
        assert status.remaining == 0
        with pytest.raises(RateLimited):
            await limiter.hit(policy, "a:client")
        assert any("answers again" in r.getMessage() for r in caplog.records)
    finally:
        await limiter.close()
        await proxy.stop()
