"""Fresh databases for tests: a SQLite file, or a new PostgreSQL database per test."""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
from urllib.parse import urlsplit
from uuid import uuid4

import asyncpg

TEST_DATABASE_URL = os.environ.get("MENAGERIE_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("MENAGERIE_TEST_REDIS_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable(url: str | None, default_port: int) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


# one migrated template per test process and server, copied by every test that needs a
# database at the newest schema (CREATE DATABASE … TEMPLATE is a file copy)
_templates: dict[str, str] = {}


async def _migrated_template(admin_url: str) -> str:
    if admin_url in _templates:
        return _templates[admin_url]
    from menagerie.storage import migrate
    from menagerie.storage.database import Database

    name = f"menagerie_tpl_{os.getpid()}_{uuid4().hex[:8]}"
    await _execute(admin_url, f'CREATE DATABASE "{name}"')
    database = Database(with_database(admin_url, name))
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()  # a template must have no connections to be copied
    _templates[admin_url] = name
    atexit.register(_drop_template, admin_url, name)
    return name


def _drop_template(admin_url: str, name: str) -> None:
    try:
        asyncio.run(_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception:  # the server may be gone at exit; CI uses a throwaway cluster anyway
        return


async def _execute(admin_url: str, statement: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_postgres_database(admin_url: str, *, migrated: bool = False) -> str:
    """CREATE a uniquely named database, empty or at the newest schema; returns its URL."""
    name = f"menagerie_t_{uuid4().hex[:12]}"
    template = f' TEMPLATE "{await _migrated_template(admin_url)}"' if migrated else ""
    await _execute(admin_url, f'CREATE DATABASE "{name}"{template}')
    return with_database(admin_url, name)


async def drop_postgres_database(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
