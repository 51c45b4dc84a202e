"""Shared fixtures: every storage-backed test runs on SQLite and, when configured, PostgreSQL.

Under CI=true, PostgreSQL and Redis are mandatory: a missing or unreachable server fails the
run instead of skipping its tests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.databases import (
    IN_CI,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    create_postgres_database,
    drop_postgres_database,
    reachable,
)
from tests.utils.local_model import start_build
from tests.utils.server import client_for

# The embedded model builds llama.cpp at a server's first start: a test server (in this
# process or a subprocess) does so only when its test asks for it (tests/utils/local_model.py).
os.environ["MENAGERIE_LOCAL_MODEL"] = "off"


def pytest_configure(config: pytest.Config) -> None:
    if not IN_CI:
        return
    problems = []
    if not reachable(TEST_DATABASE_URL, 5432):
        problems.append(f"PostgreSQL (MENAGERIE_TEST_DATABASE_URL={TEST_DATABASE_URL!r})")
    if not reachable(TEST_REDIS_URL, 6379):
        problems.append(f"Redis (MENAGERIE_TEST_REDIS_URL={TEST_REDIS_URL!r})")
    if problems:
        raise pytest.UsageError(
            "CI=true requires reachable test services, none may be skipped: " + ", ".join(problems)
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # the local model's runtime builds while the other tests run, not when its first test does
    if any(item.get_closest_marker("local_model") for item in items):
        start_build()


def _require(url: str | None, what: str, port: int) -> str:
    if reachable(url, port):
        assert url is not None
        return url
    if IN_CI:
        pytest.fail(f"{what} is required under CI but not reachable")
    pytest.skip(f"{what} not configured (set MENAGERIE_TEST_{what.upper()}_URL)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"
        return
    admin_url = _require(TEST_DATABASE_URL, "database", 5432)
    # a copy of a migrated template: migrating each database anew cost a second per test
    migrated = request.node.get_closest_marker("empty_database") is None
    url = await create_postgres_database(admin_url, migrated=migrated)
    try:
        yield url
    finally:
        await drop_postgres_database(admin_url, url)


@pytest.fixture
def redis_url() -> str:
    return _require(TEST_REDIS_URL, "redis", 6379)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        master_key="test-master-key-0123456789abcdef",
        dev_mode=False,
        _env_file=None,
    )


@pytest.fixture
def platform(settings: Settings) -> Platform:
    return Platform.build(settings)


@pytest.fixture
async def started_platform(platform: Platform) -> AsyncIterator[Platform]:
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


@pytest.fixture
async def started(started_platform: Platform) -> Platform:
    """A started platform on the default test settings (modules with other settings
    define their own `started`)."""
    return started_platform


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the full server, running for real on a loopback port."""
    async with client_for(create_app(platform=platform)) as http:
        yield http
