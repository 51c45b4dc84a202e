"""PostgreSQL restarted under a running server: the pool recovers without restarting it.

Two ways, neither touching the shared server's other databases:

- a private PostgreSQL of this test (`initdb` + `pg_ctl` in a temporary directory on a free
  port, run as the `postgres` OS user when the tests run as root, since PostgreSQL refuses
  root): stopped with `-m immediate` (what a crash looks like: no goodbye to any client) and
  started again. While it is down a chat answers PodPlay's 503 in its envelope; once it is
  back the same server answers again, and what was written before the crash is still there.
  Skipped where no PostgreSQL binaries are installed.
- the shared PostgreSQL: every connection of the server's own database is killed with
  `pg_terminate_backend`, which is what a restart looks like from the pool's side. The next
  requests must not even notice (pre-ping replaces dead pooled connections).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from menagerie.app import create_app
from menagerie.core.processes import free_port
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

TOKEN = "test-master-key-0123456789abcdef"
USER = "pg_user"
WAIT_S = 60.0  # a bound on waiting on a loaded machine, never a measurement


def _bindir() -> Path | None:
    """Where `initdb`, `pg_ctl` and `postgres` are: Debian's newest, else the PATH's."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    for candidate in reversed(versions):
        if (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster: its own directory, port and socket directory."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        # not under pytest's tmp_path: the `postgres` user could not traverse it
        self.root = Path(tempfile.mkdtemp(prefix="menagerie-pg-"))
        self.data = self.root / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=WAIT_S * 2,
            check=False,
        )
        assert done.returncode == 0, f"{tool} failed: {done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def crash(self) -> None:
        """An immediate shutdown: every client connection dropped, recovery at next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _bindir()
    can_switch = os.geteuid() != 0 or (shutil.which("runuser") and _has_user("postgres"))
    if bindir is None or not can_switch:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) to run a private server with")
    server = PrivatePostgres(bindir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


def _settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        database_connect_timeout=2,
        master_key=TOKEN,
        dev_mode=False,
        rate_limits_enabled=False,
        offline_token_delay_ms=0,
        _env_file=None,
    )


async def chat(client: httpx.AsyncClient, message: str, session_id: str) -> httpx.Response:
    return await client.post(
        "/podplay/api/chat/mama-bear",
        json={"user_id": USER, "message": message, "session_id": session_id},
    )


async def questions(client: httpx.AsyncClient, session_id: str) -> list[str]:
    history = await client.get(
        "/podplay/api/chat/history", params={"user_id": USER, "session_id": session_id}
    )
    assert history.status_code == 200, history.text
    return sorted(m["user_message"] for m in history.json()["messages"])


async def test_a_private_postgresql_crashes_and_restarts_under_the_server(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    platform = Platform.build(_settings(tmp_path, private_postgres.url))
    async with client_for(create_app(platform=platform)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        client.timeout = httpx.Timeout(WAIT_S)
        before = await chat(client, "written before the crash", "pg-restart")
        assert before.status_code == 200, before.text

        await asyncio.to_thread(private_postgres.crash)
        during = await chat(client, "asked while it is down", "pg-restart")
        assert during.status_code == 503, during.text
        body = during.json()
        assert (body["success"], body["error_code"]) == (False, "SERVICE_UNAVAILABLE")
        assert body["details"]["service"] == "database"
        for leak in ("Traceback", "asyncpg", "sqlalchemy"):
            assert leak not in during.text

        await asyncio.to_thread(private_postgres.start)
        # the same process, the same pool: only waiting for the database to accept again
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while (health := await client.get("/podplay/api/health")).status_code != 200:
            assert asyncio.get_running_loop().time() < deadline, health.text
            await asyncio.sleep(0.2)
        after = await chat(client, "written after the restart", "pg-restart")
        assert after.status_code == 200, after.text
        assert await questions(client, "pg-restart") == [
            "written after the restart",
            "written before the crash",
        ]


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh database of this test on the shared server (never skipped under CI)."""
    if not reachable(TEST_DATABASE_URL, 5432):
        if IN_CI:
            pytest.fail("database is required under CI but not reachable")
        pytest.skip("database not configured (set MENAGERIE_TEST_DATABASE_URL)")
    assert TEST_DATABASE_URL is not None
    url = await create_postgres_database(TEST_DATABASE_URL, migrated=True)
    try:
        yield url
    finally:
        await drop_postgres_database(TEST_DATABASE_URL, url)


@pytest.mark.postgres
async def test_connections_killed_by_postgresql_are_replaced_unseen(
    tmp_path: Path, postgres_url: str
) -> None:
    platform = Platform.build(_settings(tmp_path, postgres_url))
    database = postgres_url.rsplit("/", 1)[1]
    async with client_for(create_app(platform=platform)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        client.timeout = httpx.Timeout(WAIT_S)
        # several at once, so that the pool holds several connections to lose
        first = await asyncio.gather(*(chat(client, f"q{n}", f"pg-kill-{n}") for n in range(4)))
        assert [r.status_code for r in first] == [200] * 4

        assert TEST_DATABASE_URL is not None
        admin = await asyncpg.connect(TEST_DATABASE_URL.replace("+asyncpg", ""))
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await admin.close()
        assert killed >= 1  # the server's pooled connections were there, and are gone

        again = await asyncio.gather(*(chat(client, f"r{n}", f"pg-kill-{n}") for n in range(4)))
        assert [r.status_code for r in again] == [200] * 4, [r.text for r in again]
        assert await questions(client, "pg-kill-0") == ["q0", "r0"]
