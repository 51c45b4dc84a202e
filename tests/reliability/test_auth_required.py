"""Every operation of every dialect and of the console refuses a caller without credentials,
or with forged ones, except the few the authorization matrix's table declares public (health,
sign-in, OAuth callbacks: `tests/reliability/authz/table.py`)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.reliability.authz.table import PREFIXES as TABLE_PREFIXES
from tests.reliability.authz.table import is_public
from tests.utils.server import client_for

# every dialect and the console, by the prefix their OpenAPI documents are served under
PREFIXES = list(TABLE_PREFIXES.values())
FORGED = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0."  # alg none


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        master_key="auth-sweep-master-key-0123456789",
        rate_limits_enabled=False,
        dev_mode=False,
        _env_file=None,
    )
    async with client_for(create_app(platform=Platform.build(settings))) as http:
        yield http


async def test_every_private_operation_needs_credentials(client: httpx.AsyncClient) -> None:
    checked = 0
    for prefix in PREFIXES:
        spec = (await client.get(f"{prefix}/openapi.json")).json()
        for path, operations in spec.get("paths", {}).items():
            url = prefix + re.sub(r"\{[^}]+\}", "x", path)
            for method in operations:
                if is_public(method, prefix + path):
                    continue
                for headers in ({}, {"Authorization": f"Bearer {FORGED}"}):
                    response = await client.request(method.upper(), url, headers=headers, json={})
                    assert response.status_code == 401, (
                        f"{method.upper()} {prefix}{path} answered {response.status_code} "
                        f"to {'a forged token' if headers else 'no credentials'}"
                    )
                    checked += 1
    assert checked >= 10
