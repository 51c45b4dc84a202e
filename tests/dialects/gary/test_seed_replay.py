"""Seed 004 replayed against a real server: each request example of the served routes (MCP's
aside, tested beside its routes) is sent as the seed writes it, and each field of the
response example is checked in the answer: present, of the seed's JSON type, and never null
where the seed shows a value unless the contract documents why (tests/contract/specs/gary.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import EndpointSettings, Settings
from tests.contract import seeds
from tests.contract.specs.gary import CONTRACT
from tests.utils.http import bearer
from tests.utils.model_server import command, free_port
from tests.utils.server import client_for

ENDPOINTS = {f"{e.method} {e.route}": e for e in seeds.endpoints("004")}


def example(key: str, label: str | None = None) -> Any:
    """The JSON of an endpoint's example: its request body, or the response (by label)."""
    endpoint = ENDPOINTS[key]
    for shown in endpoint.examples:
        wanted = shown.is_request if label == "request" else shown.is_response
        if wanted and (label in (None, "request") or label in shown.label):
            return shown.value
    raise AssertionError(f"{key}: no {label or 'response'} example")


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return type(value).__name__


def fits(key: str, actual: Any, shown: Any, where: str = "") -> list[str]:
    """How `actual` differs from the seed's `shown` example (empty: it fits)."""
    if shown is None:
        return []
    if actual is None:
        if (key, where) in CONTRACT.nullable:
            return []
        return [f"{where or '<body>'}: null where the seed shows {_type(shown)}"]
    if where in CONTRACT.free_form:
        return []
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{where or '<body>'}: {_type(actual)} where the seed shows an object"]
        problems = []
        for name, value in shown.items():
            path = f"{where}.{name}" if where else name
            if name not in actual:
                problems.append(f"{path}: missing")
            else:
                problems += fits(key, actual[name], value, path)
        return problems
    if isinstance(shown, list):
        if not isinstance(actual, list):
            return [f"{where}: {_type(actual)} where the seed shows an array"]
        if not shown:
            return []
        return [p for item in actual for p in fits(key, item, shown[0], f"{where}[]")]
    expected, got = _type(shown), _type(actual)
    if expected == got or (expected == "number" and got == "integer"):
        return []
    return [f"{where}: {got} where the seed shows {expected}"]


def check(key: str, response: httpx.Response, status: int, label: str | None = None) -> Any:
    assert response.status_code == status, f"{key}: {response.text}"
    body = response.json()
    problems = fits(key, body, example(key, label))
    assert not problems, f"{key}:\n" + "\n".join(problems)
    return body


@pytest.fixture
async def gary(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    endpoints = [
        EndpointSettings(
            name=name,
            model=f"gpt-oss-{name}",
            command=command(),
            port=free_port(),
            wake_timeout_s=10,
        )
        for name in ("120b", "20b")  # the seed's model types
    ]
    update = {
        "rate_limits_enabled": False,
        "offline_token_delay_ms": 0,
        "llm_endpoints": endpoints,
    }
    platform = Platform.build(settings.model_copy(update=update))
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/gary")
        yield client, platform


def admin_headers(platform: Platform) -> dict[str, str]:
    assert platform.bootstrap_result is not None
    assert platform.bootstrap_result.admin_token is not None
    return bearer(platform.bootstrap_result.admin_token.token)


async def test_health(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = gary
    health = check("GET /health", await client.get("/health"), 200)
    assert (health["service"], health["version"]) == ("crazy-gary-api", "1.0.0")
    assert abs(health["timestamp"] - time.time()) < 60
    ready = check("GET /health/ready", await client.get("/health/ready"), 200, "200")
    assert ready["status"] == "ready"
    assert check("GET /health/live", await client.get("/health/live"), 200) == {"status": "alive"}
    monitoring = await client.get("/api/monitoring/health")
    assert check("GET /api/monitoring/health", monitoring, 200)["service"] == "crazy-gary"


async def test_not_ready_says_what_is_missing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUGGINGFACE_API_KEY", raising=False)
    required = settings.model_copy(update={"required_env": ["HUGGINGFACE_API_KEY"]})
    async with client_for(create_app(platform=Platform.build(required))) as client:
        response = await client.get("/gary/health/ready")
        body = check("GET /health/ready", response, 503, "503")
        assert body["missing_env_vars"] == ["HUGGINGFACE_API_KEY"]


async def test_authentication(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = gary
    sent = example("POST /api/auth/register", "request")
    registered = check(
        "POST /api/auth/register", await client.post("/api/auth/register", json=sent), 201
    )
    assert (registered["user"]["email"], registered["user"]["name"]) == (
        sent["email"],
        sent["fullName"],
    )
    assert registered["expires_in"] == 3600

    login = example("POST /api/auth/login", "request")
    signed_in = check("POST /api/auth/login", await client.post("/api/auth/login", json=login), 200)
    assert signed_in["user"]["id"] == registered["user"]["id"]

    refresh = await client.post("/api/auth/refresh", headers=bearer(signed_in["refresh_token"]))
    token = check("POST /api/auth/refresh", refresh, 200)["token"]

    me = check("GET /api/auth/me", await client.get("/api/auth/me", headers=bearer(token)), 200)
    assert me["user"]["email"] == sent["email"]
    rename = example("PUT /api/auth/me", "request")
    renamed = await client.put("/api/auth/me", headers=bearer(token), json=rename)
    assert check("PUT /api/auth/me", renamed, 200)["user"]["name"] == "Jane Doe"

    validated = await client.get("/api/auth/validate", headers=bearer(token))
    assert check("GET /api/auth/validate", validated, 200, "200")["valid"] is True
    refused = await client.get("/api/auth/validate")
    assert check("GET /api/auth/validate", refused, 401, "401") == {"valid": False}


async def test_change_password(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    sent = example("POST /api/auth/change-password", "request")
    signed_in = await platform.accounts.register("old@example.com", sent["current_password"])
    changed = await client.post(
        "/api/auth/change-password", headers=bearer(signed_in.tokens.access_token), json=sent
    )
    assert check("POST /api/auth/change-password", changed, 200) == example(
        "POST /api/auth/change-password"
    )


async def test_user_management(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    admin = admin_headers(platform)
    await platform.accounts.register("john@example.com", "SecurePassword123", "johndoe")
    # the bootstrap admin is among them: its email is a string too
    check("GET /api/users", await client.get("/api/users", headers=admin), 200)

    sent = example("POST /api/users", "request")
    created = check(
        "POST /api/users", await client.post("/api/users", headers=admin, json=sent), 201
    )
    assert (created["username"], created["email"]) == (sent["username"], sent["email"])
    user = f"/api/users/{created['id']}"
    assert check("GET /api/users/{}", await client.get(user, headers=admin), 200) == created

    change = example("PUT /api/users/{}", "request")
    updated = check("PUT /api/users/{}", await client.put(user, headers=admin, json=change), 200)
    assert (updated["username"], updated["email"]) == (change["username"], change["email"])
    assert updated["created_at"] == created["created_at"]

    deleted = await client.delete(user, headers=admin)
    assert (deleted.status_code, deleted.content) == (204, b"")


async def test_chat_and_tasks(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    signed_in = await platform.accounts.register("fan@example.com", "SecurePassword123", "Fan")
    me = bearer(signed_in.tokens.access_token)
    sent = example("POST /api/chat", "request")
    answered = check("POST /api/chat", await client.post("/api/chat", headers=me, json=sent), 200)
    assert sent["message"] in answered["response"]  # the offline model echoes it

    listed = check("GET /api/tasks", await client.get("/api/tasks", headers=me), 200)
    assert [task["id"] for task in listed] == [answered["task_id"]]
    task = await client.get(f"/api/tasks/{answered['task_id']}", headers=me)
    detail = check("GET /api/tasks/{}", task, 200)
    assert (detail["status"], detail["progress"]) == ("completed", 100)
    assert detail["result"]["response"] == answered["response"]


async def _task_ended(client: httpx.AsyncClient, me: dict[str, str], task_id: str) -> Any:
    async with asyncio.timeout(20):
        while True:
            task = (await client.get(f"/api/tasks/{task_id}", headers=me)).json()
            if task["status"] not in ("created", "running"):
                return task
            await asyncio.sleep(0.05)


async def test_task_lifecycle(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    signed_in = await platform.accounts.register("ops@example.com", "SecurePassword123", "Ops")
    me = bearer(signed_in.tokens.access_token)
    sent = example("POST /api/tasks", "request")
    created = check("POST /api/tasks", await client.post("/api/tasks", headers=me, json=sent), 201)
    assert created["status"] == "created"
    task_id = created["task_id"]
    shown = (await client.get(f"/api/tasks/{task_id}", headers=me)).json()
    assert (shown["title"], shown["priority"], shown["model"]) == (
        sent["title"],
        sent["priority"],
        sent["model"],
    )

    started = await client.post(f"/api/tasks/{task_id}/start", headers=me)
    assert check("POST /api/tasks/{}/start", started, 200) == {"status": "started"}
    done = await _task_ended(client, me, task_id)
    assert (done["status"], done["progress"], done["error"]) == ("completed", 100, None)
    # the seed's gpt-oss-120b is the managed endpoint this test runs: it answered
    assert done["model"] == "gpt-oss-120b"
    assert done["result"]["response"]

    again = await client.post(f"/api/tasks/{task_id}/stop", headers=me)
    assert again.status_code == 409
    assert again.json()["details"]["reason"] == "TASK_NOT_RUNNING"

    stats = check("GET /api/stats", await client.get("/api/stats", headers=me), 200)
    assert stats["total_tasks"] == 1
    assert (stats["completed_tasks"], stats["failed_tasks"], stats["active_tasks"]) == (1, 0, 0)
    assert stats["success_rate"] == 1.0
    assert stats["average_completion_time"] > 0


async def _until(client: httpx.AsyncClient, admin: dict[str, str], state: str) -> None:
    deadline = time.monotonic() + 10
    while (await client.get("/api/endpoints/status/120b", headers=admin)).json()["status"] != state:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_endpoint_management(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    admin = admin_headers(platform)
    woken = await client.post("/api/endpoints/wake/120b", headers=admin)
    assert check("POST /api/endpoints/wake/{}", woken, 200) == example(
        "POST /api/endpoints/wake/{}"
    )
    await _until(client, admin, "running")
    # the seed's own picture: 120b running, 20b sleeping
    statuses = check(
        "GET /api/endpoints/status", await client.get("/api/endpoints/status", headers=admin), 200
    )
    running = statuses["endpoints"]["120b"]
    assert running["status"] == "running"
    assert all(isinstance(running[f], int) for f in ("wake_time", "auto_sleep_in"))
    assert statuses["endpoints"]["20b"]["status"] == "sleeping"
    one = await client.get("/api/endpoints/status/120b", headers=admin)
    assert check("GET /api/endpoints/status/{}", one, 200)["url"].startswith("http://127.0.0.1:")

    slept = await client.post("/api/endpoints/sleep/120b", headers=admin)
    assert check("POST /api/endpoints/sleep/{}", slept, 200) == example(
        "POST /api/endpoints/sleep/{}"
    )
    await _until(client, admin, "sleeping")
    for operation in ("wake", "sleep"):
        response = await client.post(f"/api/endpoints/{operation}", headers=admin)
        key = f"POST /api/endpoints/{operation}"
        assert check(key, response, 200) == example(key)


async def test_monitoring(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    admin = admin_headers(platform)
    answered = await client.post("/api/chat", json={"message": "count me"}, headers=admin)
    assert answered.status_code in (200, 201), answered.text
    metrics = check(
        "GET /api/monitoring/metrics",
        await client.get("/api/monitoring/metrics", headers=admin),
        200,
    )
    assert metrics["requests"]["total"] >= 1
    assert (
        metrics["requests"]["successful"] + metrics["requests"]["failed"]
        == (metrics["requests"]["total"])
    )
    assert 0 < metrics["memory"]["used"] <= metrics["memory"]["total"]
    assert 0 < metrics["disk"]["used"] <= metrics["disk"]["total"]
    assert len(metrics["cpu"]["load_average"]) == 3

    detailed = await client.get("/api/monitoring/health/detailed", headers=admin)
    assert detailed.status_code == 200, detailed.text
    body = detailed.json()
    shown = example("GET /api/monitoring/health/detailed")
    assert not fits("GET /api/monitoring/health/detailed", body["overall"], shown["overall"])
    components = body["components"]
    # database and redis by the seed's names; each model provider as the seed's
    # `huggingface_api` entry is shown (this server's providers have their own names)
    for name in ("database", "redis"):
        assert not fits("detailed", components[name], shown["components"][name]), components
    assert components["database"]["status"] == "healthy"
    assert components["database"]["response_time"] >= 0
    assert components["redis"] == {
        "status": "not_configured",
        "last_check": components["redis"]["last_check"],
        "response_time": -1.0,
    }
    providers = {k: v for k, v in components.items() if k not in ("database", "redis")}
    assert providers, components
    for provider in providers.values():
        assert not fits("detailed", provider, shown["components"]["huggingface_api"]), provider
    # the provider that answered the chat above: measured, and healthy
    [answered_by] = [p for p in providers.values() if p["response_time"] >= 0]
    assert (answered_by["status"], answered_by["error_rate"]) == ("healthy", 0.0), providers


async def test_monitoring_logs(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    admin = admin_headers(platform)
    await client.get("/api/users", headers=admin, params={"token": "never-stored-0123"})
    listed = await client.get("/api/monitoring/logs/requests", headers=admin, params={"limit": 5})
    logs = check("GET /api/monitoring/logs/requests", listed, 200)
    assert 1 <= len(logs) <= 5
    users = next(row for row in logs if row["path"] == "/gary/api/users")
    assert (users["method"], users["status_code"], users["ip_address"]) == (
        "GET",
        200,
        "127.0.0.1",
    )
    assert users["user_agent"].startswith("python-httpx")
    assert "never-stored" not in listed.text  # the query string is not kept

    logging.getLogger("menagerie.http").error("a replayed error", exc_info=ValueError("why"))
    errors = check(
        "GET /api/monitoring/logs/errors",
        await client.get("/api/monitoring/logs/errors", headers=admin, params={"level": "error"}),
        200,
    )
    replayed = next(row for row in errors if row["message"] == "a replayed error")
    assert (replayed["level"], replayed["component"]) == ("error", "http")
    assert "ValueError: why" in replayed["stack_trace"]


async def test_incidents(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    admin = admin_headers(platform)
    body = example("POST /api/monitoring/incidents", "request")
    opened = check(
        "POST /api/monitoring/incidents",
        await client.post("/api/monitoring/incidents", json=body, headers=admin),
        201,
    )
    assert opened["status"] == "open"
    listed = check(
        "GET /api/monitoring/incidents",
        await client.get("/api/monitoring/incidents", headers=admin, params={"severity": "high"}),
        200,
    )
    [incident] = listed
    assert (incident["id"], incident["title"], incident["assignee"]) == (
        opened["id"],
        body["title"],
        "",
    )
    wrong = await client.get("/api/monitoring/incidents", headers=admin, params={"status": "x"})
    assert wrong.status_code == 400


async def test_health_dashboard(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    admin = admin_headers(platform)
    opened = (
        await client.post(
            "/api/monitoring/incidents", json={"title": "Slow answers"}, headers=admin
        )
    ).json()
    board = check(
        "GET /api/monitoring/health/dashboard",
        await client.get("/api/monitoring/health/dashboard", headers=admin),
        200,
    )
    assert board["health"]["status"] == "healthy"
    assert board["metrics"]["requests"]["total"] >= 1
    assert [i["id"] for i in board["incidents"]] == [opened["id"]]
    assert board["alerts"] == [
        {k: a[k] for k in ("id", "severity", "message", "timestamp")}
        for a in (await client.get("/api/monitoring/alerts", headers=admin)).json()
    ]


async def test_observability(gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = gary
    admin = admin_headers(platform)
    await client.post("/api/chat", json={"message": "trace me"}, headers=admin)
    figures = check(
        "GET /api/observability/metrics",
        await client.get("/api/observability/metrics", headers=admin),
        200,
    )
    assert figures["traces"]["total"] >= 1
    assert figures["spans"]["external_spans"] >= 1  # the model call of the chat above
    assert figures["spans"]["total"] >= figures["traces"]["total"]
    active = check(
        "GET /api/observability/traces/active",
        await client.get("/api/observability/traces/active", headers=admin),
        200,
    )
    # the request asking is itself in flight
    mine = [s for s in active if s["operation_name"] == "GET /gary/api/observability/traces/active"]
    assert len(mine) == 1
    assert mine[0]["tags"]["http.request.method"] == "GET"
    assert len(mine[0]["trace_id"]) == 32


async def _next_events(lines: Any, count: int) -> list[tuple[int, dict[str, Any]]]:
    """The next `count` events of an SSE stream: (id, decoded data), heartbeats skipped."""
    found: list[tuple[int, dict[str, Any]]] = []
    number = None
    async with asyncio.timeout(10):
        async for line in lines:
            if line.startswith("id: "):
                number = int(line.removeprefix("id: "))
            elif line.startswith("data: "):
                assert number is not None, "every event carries its id"
                found.append((number, json.loads(line.removeprefix("data: "))))
                if len(found) == count:
                    return found
    raise AssertionError(f"the stream ended after {found}")


async def test_event_stream_is_the_tenants_and_resumes(
    gary: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = gary
    admin = admin_headers(platform)
    tenant = platform.settings.default_tenant

    async def publish(topic: str, tenant_id: str, **data: Any) -> None:
        await platform.events.publish(topic, {"tenant_id": tenant_id, **data})

    async with client.stream("GET", "/api/observability/events/stream", headers=admin) as live:
        assert live.status_code == 200
        assert live.headers["content-type"].startswith("text/event-stream")
        lines = live.aiter_lines()
        await asyncio.sleep(0.2)  # the stream is following before the events are published
        await publish("task.created", "acme", task_id="task_theirs")
        await publish("task.created", tenant, task_id="task_123", user_id="1")
        await publish("task.completed", tenant, task_id="task_123", duration=145.2)
        (first, created), (second, completed) = await _next_events(lines, 2)
    assert created == {"event": "task_created", "data": {"task_id": "task_123", "user_id": "1"}}
    assert completed["event"] == "task_completed"
    assert second > first

    # a client that lost the connection resumes after the last id it saw
    resume = {**admin, "Last-Event-ID": str(first)}
    async with client.stream("GET", "/api/observability/events/stream", headers=resume) as again:
        [(number, replayed)] = await _next_events(again.aiter_lines(), 1)
    assert (number, replayed["event"]) == (second, "task_completed")
