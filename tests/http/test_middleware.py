"""Request ids, API version headers, the root-mounted dialect and the docs page."""

from __future__ import annotations

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import client_for


@pytest.fixture
def database_url(tmp_path) -> str:  # plumbing tests do not depend on the engine
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/gary/health/live", headers={"X-Request-ID": "abc-123.xyz"})
    assert response.headers["x-request-id"] == "abc-123.xyz"


async def test_request_id_is_generated_when_absent_or_unsafe(client: httpx.AsyncClient) -> None:
    generated = await client.get("/gary/health/live")
    assert generated.headers["x-request-id"].startswith("req_")
    unsafe = await client.get("/gary/health/live", headers={"X-Request-ID": "a b\tc<script>"})
    assert unsafe.headers["x-request-id"].startswith("req_")
    too_long = await client.get("/gary/health/live", headers={"X-Request-ID": "x" * 500})
    assert too_long.headers["x-request-id"].startswith("req_")


async def test_request_id_reaches_the_error_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/podplay/api/nowhere", headers={"X-Request-ID": "trace-42"})
    assert response.json()["request_id"] == "trace-42"
    assert response.headers["x-request-id"] == "trace-42"


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("/podplay/api/test-connection", "2.0.0"),
        ("/madace/api/health", "2.0.0-alpha"),
        ("/panthers/health", "v1"),
        ("/gary/health/live", "1.0.0"),
        ("/metamorph/api/nothing", "1.0.0"),
    ],
)
async def test_api_version_header_is_the_dialects(
    client: httpx.AsyncClient, path: str, version: str
) -> None:
    response = await client.get(path)
    assert response.headers["x-api-version"] == version


async def test_root_answers_with_server_version_and_index(client: httpx.AsyncClient) -> None:
    from menagerie import __version__

    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["x-api-version"] == __version__
    assert "/docs" in response.text


async def test_docs_are_served_from_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    for path in ("/podplay/openapi.json", "/madace/openapi.json", "/gary/openapi.json"):
        assert path in page.text
    asset = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000
    spec = (await client.get("/gary/openapi.json")).json()
    assert "/health/ready" in spec["paths"]


async def test_a_dialect_mounted_at_the_root(settings: Settings) -> None:
    settings = settings.model_copy(update={"root_dialect": "gary"})
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        root = await client.get("/health/live")
        assert root.json() == {"status": "alive"}
        prefixed = await client.get("/gary/health/live")
        assert prefixed.json() == {"status": "alive"}
        other = await client.get("/podplay/api/test-connection")
        assert other.json()["service"] == "podplay-sanctuary"
        unknown = await client.get("/nowhere")
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "VALIDATION_ERROR"  # Crazy Gary's envelope
        assert (await client.get("/docs")).status_code == 200


async def test_madace_at_the_root_keeps_its_api_prefix(settings: Settings) -> None:
    settings = settings.model_copy(update={"root_dialect": "madace"})
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        response = await client.get("/api/health")
        assert response.json()["version"] == "2.0.0-alpha"
