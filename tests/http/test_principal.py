"""One principal dependency behind every dialect: tokens, JWTs, master key, dev mode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.probe_routes import PREFIX, probed_dialects
from tests.utils.server import client_for


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def app_client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(platform=platform, dialects=probed_dialects())) as client:
        yield client


async def test_no_credentials_outside_dev_mode(app_client: httpx.AsyncClient) -> None:
    metamorph = await app_client.get(f"/metamorph{PREFIX}/whoami")
    assert metamorph.status_code == 401
    assert metamorph.json()["code"] == "MISSING_TOKEN"
    podplay = await app_client.get(f"/podplay{PREFIX}/whoami")
    assert podplay.json()["error_code"] == "AUTHENTICATION_REQUIRED"


async def test_admin_token_works_in_every_dialect(
    app_client: httpx.AsyncClient, platform: Platform
) -> None:
    token = platform.bootstrap_result.admin_token.token  # type: ignore[union-attr]
    for base in ("/podplay", "/madace", "/panthers", "/metamorph", "/gary", "/v1"):
        response = await app_client.get(
            f"{base}{PREFIX}/whoami", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, base
        assert response.json()["tenant_id"] == "default"


async def test_bad_credentials_are_refused_in_dialect_terms(app_client: httpx.AsyncClient) -> None:
    headers = {"Authorization": "Bearer podplay_api_not-a-real-token-000000"}
    metamorph = await app_client.get(f"/metamorph{PREFIX}/whoami", headers=headers)
    assert metamorph.json()["code"] == "INVALID_TOKEN"
    basic = await app_client.get(f"/gary{PREFIX}/whoami", headers={"Authorization": "Basic x"})
    assert basic.status_code == 401
    assert basic.json()["code"] == "AUTH_REQUIRED"


async def test_gary_validate(app_client: httpx.AsyncClient, platform: Platform) -> None:
    token = platform.bootstrap_result.admin_token.token  # type: ignore[union-attr]
    ok = await app_client.get(
        "/gary/api/auth/validate", headers={"Authorization": f"Bearer {token}"}
    )
    assert ok.status_code == 200
    assert ok.json()["valid"] is True
    assert "admin" in ok.json()["user"]["roles"]
    bad = await app_client.get(
        "/gary/api/auth/validate", headers={"Authorization": "Bearer nope.nope.nope"}
    )
    assert bad.status_code == 401
    assert bad.json() == {"valid": False}


async def test_dev_mode_gives_a_default_principal(settings: Settings) -> None:
    settings = settings.model_copy(update={"dev_mode": True})
    app = create_app(platform=Platform.build(settings), dialects=probed_dialects())
    async with client_for(app) as client:
        response = await client.get(f"/metamorph{PREFIX}/whoami")
        assert response.json() == {"tenant_id": "default", "user_id": "dev", "via": "dev_mode"}
        # a wrong credential is still wrong in dev mode
        wrong = await client.get(
            f"/metamorph{PREFIX}/whoami", headers={"Authorization": "Bearer a.b.c"}
        )
        assert wrong.status_code == 401


async def test_master_key_header(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get(
        f"/panthers{PREFIX}/whoami",
        headers={"Authorization": "Bearer test-master-key-0123456789abcdef"},
    )
    assert response.json()["via"] == "master_key"
