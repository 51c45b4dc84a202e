"""Crazy Gary `/api/endpoints/*` over HTTP, with real model server processes behind it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import EndpointSettings, Settings
from tests.utils.envelopes import assert_error
from tests.utils.http import bearer
from tests.utils.model_server import command, free_port, pid_alive
from tests.utils.server import client_for

STATUS_FIELDS = {"status", "url", "last_activity", "wake_time", "sleep_time", "auto_sleep_in"}
ROUTES = [
    ("GET", "/gary/api/endpoints/status"),
    ("GET", "/gary/api/endpoints/status/120b"),
    ("POST", "/gary/api/endpoints/wake"),
    ("POST", "/gary/api/endpoints/wake/120b"),
    ("POST", "/gary/api/endpoints/sleep"),
    ("POST", "/gary/api/endpoints/sleep/120b"),
]


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


def model_endpoints() -> list[EndpointSettings]:
    return [
        EndpointSettings(
            name=name,
            model=f"gpt-oss-{name}",
            command=command(),
            port=free_port(),
            idle_timeout_s=900,
            wake_timeout_s=10,
        )
        for name in ("120b", "20b")
    ]


@pytest.fixture
async def platform_with_endpoints(settings: Settings) -> Platform:
    settings = settings.model_copy(update={"llm_endpoints": model_endpoints()})
    return Platform.build(settings)


@pytest.fixture
async def gary(platform_with_endpoints: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """A client that presents the admin's token."""
    async with client_for(create_app(platform=platform_with_endpoints)) as client:
        result = platform_with_endpoints.bootstrap_result
        assert result is not None
        assert result.admin_token is not None
        client.headers["Authorization"] = f"Bearer {result.admin_token.token}"
        yield client


async def until(client: httpx.AsyncClient, name: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        body = (await client.get(f"/gary/api/endpoints/status/{name}")).json()
        if body["status"] == state:
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.03)


def pid_of(platform: Platform, name: str) -> int:
    pid = platform.endpoints.backend(name).pid  # type: ignore[attr-defined]
    assert isinstance(pid, int)
    return pid


async def test_status_of_all_endpoints(gary: httpx.AsyncClient) -> None:
    response = await gary.get("/gary/api/endpoints/status")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert set(body["endpoints"]) == {"120b", "20b"}
    for status in body["endpoints"].values():
        assert set(status) == STATUS_FIELDS
        assert status["status"] == "sleeping"
        assert status["url"].startswith("http://127.0.0.1:")
        assert status["last_activity"] is None
        assert status["wake_time"] is None
        assert status["auto_sleep_in"] is None


async def test_wake_and_sleep_one_endpoint(
    gary: httpx.AsyncClient, platform_with_endpoints: Platform
) -> None:
    response = await gary.post("/gary/api/endpoints/wake/120b")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "120B endpoint wake operation initiated"}
    running = await until(gary, "120b", "running")
    assert set(running) == STATUS_FIELDS
    assert isinstance(running["wake_time"], int)
    assert abs(running["wake_time"] - time.time()) < 5
    assert running["sleep_time"] is None
    assert isinstance(running["auto_sleep_in"], int)
    assert 890 < running["auto_sleep_in"] <= 900
    reply = await httpx.AsyncClient().post(
        f"{running['url']}/chat/completions", json={"messages": [{"content": "ping"}]}
    )
    assert reply.json()["choices"][0]["message"]["content"] == "echo: ping"
    assert (await gary.get("/gary/api/endpoints/status/20b")).json()["status"] == "sleeping"

    pid = pid_of(platform_with_endpoints, "120b")
    again = await gary.post("/gary/api/endpoints/wake/120b")  # running already: a no-op
    assert again.status_code == 200
    assert pid_of(platform_with_endpoints, "120b") == pid

    response = await gary.post("/gary/api/endpoints/sleep/120b")
    assert response.json() == {
        "success": True,
        "message": "120B endpoint sleep operation initiated",
    }
    asleep = await until(gary, "120b", "sleeping")
    assert isinstance(asleep["sleep_time"], int)
    assert asleep["wake_time"] is None
    assert asleep["auto_sleep_in"] is None
    assert not pid_alive(pid)


async def test_wake_and_sleep_all(
    gary: httpx.AsyncClient, platform_with_endpoints: Platform
) -> None:
    response = await gary.post("/gary/api/endpoints/wake")
    assert response.json() == {"success": True, "message": "All endpoints wake operation initiated"}
    for name in ("120b", "20b"):
        await until(gary, name, "running")
    pids = [pid_of(platform_with_endpoints, name) for name in ("120b", "20b")]
    statuses = (await gary.get("/gary/api/endpoints/status")).json()["endpoints"]
    assert {s["status"] for s in statuses.values()} == {"running"}

    response = await gary.post("/gary/api/endpoints/sleep")
    assert response.json() == {
        "success": True,
        "message": "All endpoints sleep operation initiated",
    }
    for name in ("120b", "20b"):
        await until(gary, name, "sleeping")
    assert not any(pid_alive(pid) for pid in pids)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/gary/api/endpoints/status/7b"),
        ("POST", "/gary/api/endpoints/wake/7b"),
        ("POST", "/gary/api/endpoints/sleep/7b"),
    ],
)
async def test_unknown_model_type_is_404_in_gary_envelope(
    gary: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await gary.request(method, path)
    # the seed's code for "endpoint not available: try a different model"
    body = assert_error(response, 404, "ENDPOINT_UNAVAILABLE", dialect="gary")
    assert body["details"]["reason"] == "ENDPOINT_NOT_FOUND"
    assert "120b, 20b" in body["error"]
    assert body["details"]["known"] == ["120b", "20b"]


async def test_a_plain_user_reads_the_status_but_wakes_and_sleeps_nothing(
    platform_with_endpoints: Platform,
) -> None:
    """The fault: any self-registered user could wake or sleep every managed model server."""
    async with client_for(create_app(platform=platform_with_endpoints)) as client:
        registered = await client.post(
            "/gary/api/auth/register",
            json={"email": "plain@example.com", "password": "SecurePassword123"},
        )
        user = bearer(registered.json()["token"])
        status = await client.get("/gary/api/endpoints/status", headers=user)
        assert set(status.json()["endpoints"]) == {"120b", "20b"}
        for method, path in ROUTES:
            if method == "POST":
                response = await client.post(path, headers=user)
                body = assert_error(response, 403, "INSUFFICIENT_PERMISSIONS", dialect="gary")
                assert body["details"]["reason"] == "ADMIN_REQUIRED"
    assert {s.status for s in platform_with_endpoints.endpoints.statuses()} == {"sleeping"}
    assert not any(e.busy() for e in platform_with_endpoints.endpoints._endpoints.values())


async def test_another_tenant_sees_and_commands_none_of_them(
    platform_with_endpoints: Platform,
) -> None:
    """The endpoints are the installation's, run for the operator's (default) tenant."""
    async with client_for(create_app(platform=platform_with_endpoints)) as client:
        issued = await platform_with_endpoints.api_tokens.issue_for_tenant("acme", "acme admin")
        acme = bearer(issued.token)
        listed = await client.get("/gary/api/endpoints/status", headers=acme)
        assert listed.json() == {"success": True, "endpoints": {}}
        for method, path in ROUTES:
            if path.endswith("/120b"):
                response = await client.request(method, path, headers=acme)
                assert_error(response, 404, "ENDPOINT_UNAVAILABLE", dialect="gary")
        # "all of them" is all that this tenant sees: none
        assert (await client.post("/gary/api/endpoints/wake", headers=acme)).status_code == 200
    assert {s.status for s in platform_with_endpoints.endpoints.statuses()} == {"sleeping"}
    assert not any(e.busy() for e in platform_with_endpoints.endpoints._endpoints.values())


async def test_every_route_needs_credentials(
    platform_with_endpoints: Platform,
) -> None:
    async with client_for(create_app(platform=platform_with_endpoints)) as client:
        for method, path in ROUTES:
            response = await client.request(method, path)
            assert_error(response, 401, "AUTH_REQUIRED", dialect="gary")
    assert {s.status for s in platform_with_endpoints.endpoints.statuses()} == {"sleeping"}


async def test_dev_mode_needs_no_credentials(settings: Settings) -> None:
    settings = settings.model_copy(update={"dev_mode": True, "llm_endpoints": model_endpoints()})
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        response = await client.get("/gary/api/endpoints/status/20b")
        assert response.status_code == 200
        assert response.json()["status"] == "sleeping"
