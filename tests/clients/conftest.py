"""A live Menagerie on loopback, driven by the official JavaScript clients in `js/`.

`npm ci` installs the pinned clients once per checkout (and again when package-lock.json
changes), under a file lock because xdist workers start together. Each test module gets one
server per database engine; its tests run in the module's event loop, which serves it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from eth_account import Account
from eth_account.signers.local import LocalAccount
from filelock import FileLock

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.clients.node import JS
from tests.utils.databases import (
    IN_CI,
    TEST_DATABASE_URL,
    create_postgres_database,
    drop_postgres_database,
    reachable,
)
from tests.utils.server import serve

LOCKFILE = JS / "package-lock.json"
# npm ci writes this last: it is newer than package-lock.json once an install has finished
INSTALLED = JS / "node_modules" / ".package-lock.json"
MASTER_KEY = "test-master-key-0123456789abcdef"
# NFT token ids whose holders the server's ownership file names (see `live`)
MINE, THEIRS = "77", "78"


def _digest(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]


def _installed() -> bool:
    return INSTALLED.exists() and INSTALLED.stat().st_mtime >= LOCKFILE.stat().st_mtime


def require_node() -> None:
    """Skipped without Node.js and npm, except under CI where they are mandatory (the same
    rule as tests/utils/mcp_servers.require_npm, whose message names the MCP tests)."""
    if shutil.which("node") and shutil.which("npm"):
        return
    if IN_CI:
        pytest.fail("Node.js and npm are required under CI (tests/clients runs the JS clients)")
    pytest.skip("Node.js and npm are not on PATH: the official JavaScript clients cannot run")


@pytest.fixture(scope="session")
def js_clients() -> Path:
    """The `js/` folder with its node_modules installed from the lockfile."""
    require_node()
    # outside the checkout, so that it never shows as an untracked file
    lock = Path(tempfile.gettempdir()) / f"menagerie-js-clients-{_digest(JS)}.lock"
    with FileLock(str(lock), timeout=300):
        if not _installed():
            npm = shutil.which("npm")
            assert npm is not None
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=JS,
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
            assert _installed(), "npm ci finished without writing node_modules/.package-lock.json"
    return JS


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """tests/conftest.py's `database_url`, once per module instead of once per test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'menagerie.db'}"
        return
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


@dataclass
class Live:
    url: str  # http://127.0.0.1:<port>
    platform: Platform
    token: str  # an admin API token of the default tenant, issued as a client would get one
    holders: dict[str, LocalAccount]  # the wallet holding each NFT, by token id

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(
    js_clients: Path, module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Live]:
    home = tmp_path_factory.mktemp("menagerie")
    holders = {MINE: Account.create(), THEIRS: Account.create()}
    owners = home / "owners.json"
    owners.write_text(json.dumps({nft: account.address for nft, account in holders.items()}))
    (home / "data").mkdir()
    settings = Settings(
        data_dir=home / "data",
        database_url=module_database_url,
        master_key=MASTER_KEY,
        dev_mode=False,
        offline_token_delay_ms=0,
        rate_limits_enabled=False,
        nft_owners_file=owners,
        _env_file=None,
    )
    platform = Platform.build(settings)
    async with serve(create_app(platform=platform)) as url:
        issued = await platform.api_tokens.issue_for_tenant(settings.default_tenant, "js clients")
        yield Live(url, platform, issued.token, holders)
