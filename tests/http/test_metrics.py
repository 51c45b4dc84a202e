"""Prometheus metrics at `/metrics` and Secret Panthers' `/panthers/metrics`, read with
prometheus-client's own parser: the counters move when the thing they count happens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.http import bearer
from tests.utils.server import client_for

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key


@pytest.fixture
def database_url(tmp_path) -> str:  # what is counted does not depend on the engine
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    async with client_for(create_app(platform=platform)) as client:
        yield client


async def samples(client: httpx.AsyncClient, path: str = "/metrics") -> dict[tuple, float]:
    """Every sample of the exposition: (name, sorted labels) -> value."""
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[tuple, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[tuple, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_http_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    before = await samples(client)
    for _ in range(3):
        assert (await client.get("/podplay/api/health")).status_code == 200
    unknown = await client.get("/podplay/api/chat/history/not-a-route/x")
    assert unknown.status_code == 404
    missing = await client.get("/gary/api/users/12345", headers=bearer(TOKEN))
    assert missing.status_code == 404
    after = await samples(client)

    health = {"dialect": "podplay", "route": "/api/health", "method": "GET", "status": "200"}
    assert (
        value(after, "menagerie_http_requests_total", **health)
        - value(before, "menagerie_http_requests_total", **health)
        == 3
    )
    # a route's template, never the path it was called with (one series per route)
    user = {"dialect": "gary", "route": "/api/users/{user_id}", "method": "GET", "status": "404"}
    assert value(after, "menagerie_http_requests_total", **user) == 1
    assert not any("12345" in str(key) for key in after)
    unmatched = {"dialect": "podplay", "route": "<unmatched>", "method": "GET", "status": "404"}
    assert value(after, "menagerie_http_requests_total", **unmatched) == 1
    latency = {"dialect": "podplay", "route": "/api/health", "method": "GET"}
    count = value(after, "menagerie_http_request_duration_seconds_count", **latency)
    assert count - value(before, "menagerie_http_request_duration_seconds_count", **latency) == 3
    assert value(after, "menagerie_http_request_duration_seconds_sum", **latency) > 0
    # the scrape itself is being answered while it is rendered
    assert value(after, "menagerie_http_requests_in_flight") == 1


async def test_a_chat_turn_counts_the_tokens_the_ledger_recorded(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    answered = await client.post(
        "/v1/chat/completions",
        headers=bearer(TOKEN),
        json={"model": "menagerie-offline", "messages": [{"role": "user", "content": "count me"}]},
    )
    assert answered.status_code == 200, answered.text
    usage = answered.json()["usage"]
    found = await samples(client)
    model = {"provider": "offline", "model": "menagerie-offline"}
    assert value(found, "menagerie_llm_requests_total", outcome="ok", **model) == 1
    assert (
        value(found, "menagerie_llm_tokens_total", direction="input", **model)
        == (usage["prompt_tokens"])
    )
    assert (
        value(found, "menagerie_llm_tokens_total", direction="output", **model)
        == (usage["completion_tokens"])
    )
    assert value(found, "menagerie_llm_request_duration_seconds_count", **model) == 1


async def test_panthers_metrics_and_openmetrics(client: httpx.AsyncClient) -> None:
    await client.get("/panthers/health")
    found = await samples(client, "/panthers/metrics")  # public, as seed 002 documents it
    health = {"dialect": "panthers", "route": "/health", "method": "GET", "status": "200"}
    assert value(found, "menagerie_http_requests_total", **health) == 1

    scraped = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert scraped.headers["content-type"].startswith("application/openmetrics-text")
    assert scraped.text.endswith("# EOF\n")
    names = {family.name for family in openmetrics(scraped.text)}
    assert {"menagerie_http_requests", "menagerie_llm_requests"} <= names
