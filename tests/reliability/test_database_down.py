"""PostgreSQL goes away under a running server, then comes back.

The server reaches PostgreSQL through a TCP proxy that the test controls; cutting the proxy
(listener closed, every open connection aborted) is what a database outage looks like from
the server's side. While it is cut, every dialect's health says so with a 503 in its own
shape, and a request that needs the database answers 503 in its dialect's error envelope.
Once the proxy is back, the pool recovers on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.databases import (
    IN_CI,
    TEST_DATABASE_URL,
    create_postgres_database,
    drop_postgres_database,
    reachable,
)
from tests.utils.server import client_for

pytestmark = pytest.mark.postgres

UNKNOWN_TOKEN = "podplay_api_doesnotexist123456"


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream host:port; can be cut and restored."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and kill every open one, as a crashed server would."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        pipes = list(self._pipes)
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        self._writers.update((client_w, upstream_w))
        pipes = [
            asyncio.create_task(self._pipe(client_r, upstream_w)),
            asyncio.create_task(self._pipe(upstream_r, client_w)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            for writer in (client_w, upstream_w):
                self._writers.discard(writer)
                writer.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        # one side finished: close the other so the connection ends as a whole
        writer.transport.abort()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database of its own (the same rule as conftest's: never skipped
    under CI)."""
    if not reachable(TEST_DATABASE_URL, 5432):
        if IN_CI:
            pytest.fail("database is required under CI but not reachable")
        pytest.skip("database not configured (set MENAGERIE_TEST_DATABASE_URL)")
    assert TEST_DATABASE_URL is not None
    url = await create_postgres_database(TEST_DATABASE_URL)
    try:
        yield url
    finally:
        await drop_postgres_database(TEST_DATABASE_URL, url)


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(postgres_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        if proxy.running:
            await proxy.cut()


def _through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host).geturl()


@pytest.fixture
async def app_client(
    tmp_path: Path, postgres_url: str, proxy: TcpProxy
) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=_through(postgres_url, proxy),
        database_connect_timeout=2,
        master_key="test-master-key-0123456789abcdef",
        dev_mode=False,
        _env_file=None,
    )
    platform = Platform.build(settings)
    async with client_for(create_app(platform=platform)) as client:
        yield client, platform


def _no_internals(response: httpx.Response) -> None:
    text = response.text
    for leak in ("Traceback", 'File "', "asyncpg", "ConnectionRefused", "sqlalchemy"):
        assert leak not in text, f"{leak!r} leaked into {response.request.url.path}: {text}"


async def _assert_all_healthy(client: httpx.AsyncClient, admin_token: str) -> None:
    gary = await client.get("/gary/health")
    assert gary.status_code == 200, gary.text
    assert gary.json()["status"] == "healthy"
    ready = await client.get("/gary/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    madace = await client.get("/madace/api/health")
    assert madace.status_code == 200, madace.text
    assert madace.json()["services"]["database"] == "up"
    podplay = await client.get("/podplay/api/health")
    assert podplay.status_code == 200, podplay.text
    assert podplay.json()["services"]["database"]["status"] == "healthy"
    panthers = await client.get("/panthers/health")
    assert (panthers.status_code, panthers.json()["status"]) == (200, "healthy")
    validate = await client.get(
        "/gary/api/auth/validate", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert validate.status_code == 200, validate.text
    assert validate.json()["valid"] is True
    assert "admin" in validate.json()["user"]["roles"]


async def test_every_dialect_reports_a_database_outage_and_recovers(
    app_client: tuple[httpx.AsyncClient, Platform], proxy: TcpProxy
) -> None:
    client, platform = app_client
    assert platform.bootstrap_result is not None
    assert platform.bootstrap_result.admin_token is not None
    admin_token = platform.bootstrap_result.admin_token.token

    await _assert_all_healthy(client, admin_token)
    # an unknown token is a plain "not valid" while the database answers
    unknown = await client.get(
        "/gary/api/auth/validate", headers={"Authorization": f"Bearer {UNKNOWN_TOKEN}"}
    )
    assert (unknown.status_code, unknown.json()) == (401, {"valid": False})

    await proxy.cut()

    madace = await client.get("/madace/api/health")
    assert madace.status_code == 503, madace.text
    body = madace.json()
    assert body["status"] == "unhealthy"
    assert body["services"]["database"] == "down"
    assert body["services"]["api"] == "down"  # no route of the API answers without it
    assert body["services"]["filesystem"] == "healthy"  # only the database is down
    _no_internals(madace)

    podplay = await client.get("/podplay/api/health")
    assert podplay.status_code == 503, podplay.text
    body = podplay.json()
    assert body["status"] == "unhealthy"
    assert body["services"]["database"]["status"] == "unhealthy"
    assert body["services"]["database"]["backend"] == "postgresql"
    assert body["services"]["database"]["error"]  # names what went wrong, briefly
    assert body["services"]["filesystem"]["status"] == "healthy"
    assert {"timestamp", "version", "metrics", "resource_usage"} <= set(body)

    podplay_db = await client.get("/podplay/api/health/database")
    assert podplay_db.status_code == 503, podplay_db.text
    assert podplay_db.json()["service"] == "database"
    assert podplay_db.json()["status"] == "unhealthy"

    panthers = await client.get("/panthers/health")
    assert panthers.status_code == 503, panthers.text
    assert panthers.json()["status"] == "unhealthy"
    assert panthers.json()["checks"]["database"] == "unhealthy"

    gary = await client.get("/gary/health")
    assert gary.status_code == 503, gary.text
    assert gary.json()["status"] == "unhealthy"

    ready = await client.get("/gary/health/ready")
    assert ready.status_code == 503, ready.text
    assert ready.json()["status"] == "not ready"
    assert ready.json()["failed_checks"] == ["database"]
    assert ready.json()["missing_env_vars"] == []

    live = await client.get("/gary/health/live")  # the process itself is fine
    assert (live.status_code, live.json()) == (200, {"status": "alive"})

    # the token lookup needs the database: that is an outage, not a bad token
    for token in (UNKNOWN_TOKEN, admin_token):
        validate = await client.get(
            "/gary/api/auth/validate", headers={"Authorization": f"Bearer {token}"}
        )
        assert validate.status_code == 503, validate.text
        body = validate.json()
        assert body["code"] == "ENDPOINT_UNAVAILABLE"  # Crazy Gary's "wait" code
        assert body["details"] == {"service": "database", "reason": "SERVICE_UNAVAILABLE"}
        assert {"error", "code", "details", "timestamp", "request_id"} <= set(body)
        assert body["request_id"] == validate.headers["x-request-id"]
        _no_internals(validate)
        assert token not in validate.text

    await proxy.start()  # the database is back, on the same address

    # no restart, no retries: pre-ping replaces the dead pooled connections on first use
    await _assert_all_healthy(client, admin_token)
