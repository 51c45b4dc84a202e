"""The data directory's disk full under a running server: a clear 503, nothing corrupted.

The server's data directory and SQLite database live on a small tmpfs of this test, which it
then fills with a file of its own until the kernel answers ENOSPC. A write that needs space
(a memory into SQLite, MADACE's configuration file) answers 503 in the API's envelope with a
sentence saying the disk is full (core's `Unavailable`, reason `STORAGE_FULL`; see
`menagerie.core.errors.storage_full` for why 503 and not 507), and reads still answer. Once
the file is removed, writes work again on the same server, `PRAGMA integrity_check` is `ok`,
and every write that was acknowledged is there.

Mounting a tmpfs needs CAP_SYS_ADMIN (root in a container that allows it); without it that
test is skipped and says so. The mapping itself is also checked without privileges: SQLite
answers the same `SQLITE_FULL` when a database reaches its `max_page_count`, and through the
server's `Database` that becomes the same typed error.

(A memory search counts each memory's accesses, a write: while the disk is full it answers
the same 503, which is why the reads checked here are history and configuration.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, text

from menagerie.app import create_app
from menagerie.core.errors import Unavailable, storage_full
from menagerie.platform import Platform
from menagerie.settings import Settings
from menagerie.storage.database import Database
from tests.utils.server import client_for

TOKEN = "test-master-key-0123456789abcdef"
USER = "disk_user"
DISK_SIZE = "64m"
WRITES_UNTIL_FULL = 400  # a bound: the first write that needs a new page must fail
CONTENT = "x" * 8_000  # a memory near the API's 10,000-character limit: pages, not bytes


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0755", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs CAP_SYS_ADMIN): {mounted.stderr}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], check=False)


Env = tuple[httpx.AsyncClient, Path]


@pytest.fixture
async def env(small_disk: Path) -> AsyncIterator[Env]:
    database = small_disk / "menagerie.db"
    settings = Settings(
        data_dir=small_disk / "data",
        database_url=f"sqlite+aiosqlite:///{database}",
        master_key=TOKEN,
        dev_mode=False,
        rate_limits_enabled=False,
        offline_token_delay_ms=0,
        _env_file=None,
    )
    platform = Platform.build(settings)
    async with client_for(create_app(platform=platform)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        client.timeout = httpx.Timeout(60)
        yield client, database


def fill(disk: Path) -> Path:
    """A file that takes every free block of `disk` (until the kernel says ENOSPC)."""
    filler = disk / "filler"
    block = b"\0" * (1 << 20)
    with filler.open("wb", buffering=0) as handle:
        with pytest.raises(OSError, match="No space left") as full:  # noqa: PT012
            while True:
                handle.write(block)
        assert full.value.errno == errno.ENOSPC, full.value
        # the last partial block, page by page
        page = b"\0" * 4096
        with contextlib.suppress(OSError):
            while True:
                handle.write(page)
    assert os.statvfs(disk).f_bavail == 0
    return filler


def checkpoint(database: Path) -> None:
    """Move the WAL into the database and empty it, so that the next write needs a page."""
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


async def remember(client: httpx.AsyncClient, n: int) -> httpx.Response:
    return await client.post(
        "/podplay/api/chat/store-memory",
        json={"user_id": USER, "content": f"memory {n}: {CONTENT}", "category": "disk"},
    )


def assert_full(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert "STORAGE_FULL" in response.text
    assert "The server's disk is full: nothing was saved." in response.text
    for leak in ("Traceback", "sqlite3", "OperationalError", "Errno"):
        assert leak not in response.text


async def test_a_full_disk_answers_503_and_corrupts_nothing(env: Env) -> None:
    client, database = env
    disk = database.parent
    acknowledged = 0
    for n in range(3):
        stored = await remember(client, n)
        assert stored.status_code == 200, stored.text
        acknowledged += 1
    config = {
        "project_name": "disk",
        "output_folder": "docs",
        "user_name": "Ada",
        "communication_language": "English",
        "modules": {name: {"enabled": True} for name in ("mam", "mab", "cis")},
        "llm": {"provider": "local", "model": "local"},
    }
    saved = await client.post("/madace/api/config", json=config)
    assert saved.status_code == 200, saved.text
    chat = await client.post(
        "/podplay/api/chat/mama-bear", json={"user_id": USER, "message": "before the disk fills"}
    )
    assert chat.status_code == 200, chat.text

    checkpoint(database)
    filler = fill(disk)

    refused: httpx.Response | None = None
    for n in range(3, 3 + WRITES_UNTIL_FULL):
        answer = await remember(client, n)
        if answer.status_code != 200:
            refused = answer
            break
        acknowledged += 1  # it found room in a page already there
    assert refused is not None, "no write was refused on a full disk"
    assert_full(refused)
    assert refused.json()["error_code"] == "SERVICE_UNAVAILABLE"  # PodPlay's listed code
    assert refused.json()["details"] == {"service": "storage", "reason": "STORAGE_FULL"}

    changed = await client.post("/madace/api/config", json={**config, "user_name": "Grace"})
    assert_full(changed)
    assert changed.json()["error"] == "INTERNAL_ERROR"  # MADACE's word for a 503 of ours
    assert changed.json()["details"].startswith("STORAGE_FULL")
    # reads still answer, and the configuration file is the last one saved, whole
    shown = await client.get("/madace/api/config")
    assert shown.status_code == 200, shown.text
    assert shown.json()["user_name"] == "Ada"
    history = await client.get("/podplay/api/chat/history", params={"user_id": USER})
    assert history.status_code == 200, history.text
    assert history.json()["messages"][0]["user_message"] == "before the disk fills"

    filler.unlink()  # the operator frees space: the same server writes again
    stored = await remember(client, 10_000)
    assert stored.status_code == 200, stored.text
    acknowledged += 1
    changed = await client.post("/madace/api/config", json={**config, "user_name": "Grace"})
    assert changed.status_code == 200, changed.text
    assert (await client.get("/madace/api/config")).json()["user_name"] == "Grace"

    listed = await client.get(
        "/podplay/api/chat/memories", params={"user_id": USER, "category": "disk", "limit": 200}
    )
    assert len(listed.json()["memories"]) == acknowledged
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


async def _insert_rows(database: Database, count: int) -> None:
    async with database.session() as session:
        for _ in range(count):
            await session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": "x" * 4000})


async def test_sqlite_full_and_enospc_are_storage_full(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'small.db'}")

    @event.listens_for(database.engine.sync_engine, "connect")
    def small(connection: object, _record: object) -> None:
        connection.execute("PRAGMA max_page_count = 8")  # type: ignore[attr-defined]

    try:
        async with database.session() as session:
            await session.execute(text("CREATE TABLE notes (body TEXT)"))
        with pytest.raises(Unavailable) as full:
            await _insert_rows(database, 20)
        assert (full.value.reason, full.value.service) == ("STORAGE_FULL", "storage")
        assert "disk is full" in full.value.message
        async with database.session() as session:  # rolled back whole, and still readable
            assert (await session.execute(text("SELECT count(*) FROM notes"))).scalar() == 0
    finally:
        await database.dispose()

    for quota in (errno.ENOSPC, errno.EDQUOT):
        wrapped = RuntimeError("while saving")
        wrapped.__cause__ = OSError(quota, os.strerror(quota))
        found = storage_full(wrapped)
        assert found is not None
        assert found.reason == "STORAGE_FULL"
    assert storage_full(OSError(errno.EACCES, "denied")) is None
    assert storage_full(ValueError("database or disk is full")) is None  # only SQLite's own
