"""Redis killed and restarted under a running server: requests pass, then everything recovers.

The server uses a private `redis-server` of this test (a free port, no persistence), never the
shared one: the test SIGKILLs it and starts it again on the same port. "Another replica" is a
second Redis event bus of the test on the same Redis. Checked:

- before: bus events cross Redis both ways and reach a PodPlay socket.io client; rate limits
  count in Redis (`X-RateLimit-Remaining` goes down);
- while Redis is away: chat, Crazy Gary's task creation (which announces the task on the bus)
  and health answer, not 500; the rate limiter and the bus each log a warning; events
  published on this server still reach its own socket.io clients;
- once Redis is back (no server restart): counting resumes, and events cross Redis again in
  both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import socketio

from menagerie.app import create_app
from menagerie.core.clock import utcnow
from menagerie.core.events import RedisEventBus, Subscription
from menagerie.core.processes import free_port
from menagerie.core.tools.events import STATUS_TOPIC, ServerStatusChanged
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.databases import IN_CI
from tests.utils.server import serve

TOKEN = "test-master-key-0123456789abcdef"
WAIT_S = 30.0  # a bound on waiting for recovery on a loaded machine, never a measurement


class PrivateRedis:
    """A `redis-server` of this test on a free port; killed and started again on that port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        executable = shutil.which("redis-server")
        assert executable is not None
        self.process = subprocess.Popen(
            [
                *(executable, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            await until(lambda: _answers(client), what="the private redis-server to answer")
        finally:
            await client.aclose()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WAIT_S)
        self.process = None


async def _answers(client: aioredis.Redis) -> bool:
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False


async def until(check: Callable[[], Awaitable[bool]], *, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is required under CI (the Redis restart test runs one)")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.kill()


Env = tuple[str, Platform, PrivateRedis]


@pytest.fixture
async def env(tmp_path: Path, redis_server: PrivateRedis) -> AsyncIterator[Env]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}",
        master_key=TOKEN,
        dev_mode=False,
        redis_url=redis_server.url,
        rate_limits={"podplay.chat": "1000/minute"},
        offline_token_delay_ms=0,
        _env_file=None,
    )
    platform = Platform.build(settings)
    async with serve(create_app(platform=platform)) as url:
        yield url, platform, redis_server


class Client:
    """A PodPlay socket.io client that queues the events it hears."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        @self.sio.on("*", namespace="/podplay")
        async def anything(event: str, data: Any = None) -> None:
            await self.events.put((event, data))

    async def connect(self, url: str) -> Client:
        await self.sio.connect(
            url,
            namespaces=["/podplay"],
            transports=["websocket"],
            auth={"token": TOKEN},
            wait_timeout=WAIT_S,
        )
        return self

    async def next(self, name: str, timeout: float) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                event, data = await self.events.get()
                if event == name:
                    return data

    async def close(self) -> None:
        await self.sio.disconnect()


def status_event(platform: Platform, name: str) -> dict[str, Any]:
    tenant = platform.settings.default_tenant
    return ServerStatusChanged(tenant, "inst_faults", name, "running", utcnow()).to_payload()


async def heard(client: Client, name: str) -> bool:
    """Whether `client` hears an `mcp_server_status` naming `name` (others are skipped)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            while True:
                data = await client.next("mcp_server_status", timeout=1.0)
                if any(s["name"] == name for s in data["servers"]):
                    return True
    return False


async def reaches(peer_subscription: Subscription, name: str) -> bool:
    event = await peer_subscription.get(within=1.0)
    while event is not None:
        if event.payload.get("server_name") == name:
            return True
        event = await peer_subscription.get(within=0.1)
    return False


async def test_redis_restarted_under_a_running_server(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    url, platform, redis_server = env
    caplog.set_level(logging.WARNING)
    peer = RedisEventBus(redis_server.url, reconnect_delay=0.1)  # another replica
    await peer.start()
    peer_hears = await peer.subscribe(STATUS_TOPIC)
    socket = await Client().connect(url)
    http = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"})
    http.timeout = httpx.Timeout(WAIT_S)
    try:
        await socket.next("connected", timeout=WAIT_S)

        async def chat(text: str) -> httpx.Response:
            answer = await http.post(
                "/podplay/api/chat/mama-bear", json={"user_id": "redis_user", "message": text}
            )
            assert answer.status_code == 200, answer.text
            return answer

        # before: counted in Redis, events both ways
        first = await chat("one")
        second = await chat("two")
        remaining = int(second.headers["x-ratelimit-remaining"])
        assert remaining < int(first.headers["x-ratelimit-remaining"])

        async def crosses_before() -> bool:
            await platform.events.publish(STATUS_TOPIC, status_event(platform, "before"))
            return await heard(socket, "before") and await reaches(peer_hears, "before")

        await until(crosses_before, what="events to reach socket.io and the other replica")

        redis_server.kill()

        # while away: requests pass, not 500, and the outage is logged
        during = await chat("three")
        assert "x-ratelimit-remaining" not in during.headers  # not counted: nowhere to count
        task = await http.post(
            "/gary/api/tasks", json={"title": "made while Redis is down", "description": "x"}
        )
        assert task.status_code == 201, task.text
        health = await http.get("/podplay/api/health")
        assert health.status_code in (200, 503), health.text  # it may say Redis is down

        async def heard_during() -> bool:  # this replica's own clients still hear it
            await platform.events.publish(STATUS_TOPIC, status_event(platform, "during"))
            return await heard(socket, "during")

        await until(heard_during, what="events to reach this replica's socket.io clients")
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert any("not rate limited" in w for w in warnings), warnings
        assert any("event bus" in w for w in warnings), warnings

        await redis_server.start()  # back, on the same port: no server restart

        async def counted_again() -> bool:
            return "x-ratelimit-remaining" in (await chat("counted?")).headers

        await until(counted_again, what="rate limits to count in Redis again")

        async def crosses_from_server() -> bool:
            await platform.events.publish(STATUS_TOPIC, status_event(platform, "after"))
            return await reaches(peer_hears, "after")

        await until(crosses_from_server, what="the server's events to reach the other replica")

        async def crosses_to_socket() -> bool:
            await peer.publish(STATUS_TOPIC, status_event(platform, "from-peer"))
            return await heard(socket, "from-peer")

        await until(crosses_to_socket, what="the other replica's events to reach socket.io")
        assert any("answers again" in r.getMessage() for r in caplog.records)
    finally:
        await http.aclose()
        await socket.close()
        await peer.stop()
