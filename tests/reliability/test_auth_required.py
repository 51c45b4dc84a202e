"""Every operation of every dialect refuses a caller without credentials, or with forged
ones, except the few that are public by their seed (health, sign-in, OAuth callbacks)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import client_for

PREFIXES = ["/podplay", "/madace", "/panthers", "/metamorph", "/gary", "/v1"]
# public by design: health and discovery (Gary's tool list has no credentials in its seed), and
# the steps that hand out credentials
PUBLIC = re.compile(
    r"""^(
      /podplay/api/(test-connection|health.*|auth/login)
    | /madace/api/health
    | /panthers/(health|metrics|auth/(challenge|verify|refresh))
    | /panthers/agents/\{[^}]+\}/(health|info|auth/verify)
    | /metamorph/api/vercel/auth/callback
    | /gary/(health.*|api/monitoring/health|api/heavy/tools)
    | /gary/api/auth/(register|login|refresh|validate)
    )$""",
    re.X,
)
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
            if PUBLIC.match(prefix + path):
                continue
            url = prefix + re.sub(r"\{[^}]+\}", "x", path)
            for method in operations:
                for headers in ({}, {"Authorization": f"Bearer {FORGED}"}):
                    response = await client.request(method.upper(), url, headers=headers, json={})
                    assert response.status_code == 401, (
                        f"{method.upper()} {prefix}{path} answered {response.status_code} "
                        f"to {'a forged token' if headers else 'no credentials'}"
                    )
                    checked += 1
    assert checked >= 10
