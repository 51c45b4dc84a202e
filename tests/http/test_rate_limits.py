"""Rate limits over real HTTP, per dialect: the headers each seed documents on every response,
the 429 in each dialect's own envelope, counters per caller, the burst and the hourly limit,
the setting that turns them off, and a storage outage that lets requests through."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.core.ops.ratelimit import RateLimiter
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import client_for

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def make_settings(data_dir: Path, **update: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'menagerie.db'}",
        master_key="test-master-key-0123456789abcdef",
        dev_mode=False,
        offline_token_delay_ms=0,
        _env_file=None,
        **update,
    )


def limit_headers(response: httpx.Response) -> dict[str, str]:
    return {
        k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit")
    }


# (dialect, path, category limit, window, whether the seed documents X-RateLimit-Window)
DEFAULTS = [
    ("podplay", "/podplay/api/health", 100, 60, True),
    ("podplay", "/podplay/api/test-connection", 100, 60, True),
    # 1000/hour with a 50/minute burst: the headers describe the burst, closer to exhaustion
    ("podplay", "/podplay/api/chat/history", 50, 60, True),
    ("podplay", "/podplay/api/mcp/installed", 25, 60, True),
    ("podplay", "/podplay/api/workspaces", 10, 60, True),
    ("podplay", "/podplay/api/models", 100, 60, True),
    ("madace", "/madace/api/health", 100, 60, False),
    ("panthers", "/panthers/health", 60, 60, False),
    ("panthers", "/panthers/auth/challenge", 5, 60, False),
    ("panthers", "/panthers/deployments", 10, 60, False),
    ("panthers", "/panthers/agents/7/chat", 30, 60, False),
    ("panthers", "/panthers/no-such-route", 60, 60, False),
    ("metamorph", "/metamorph/api/sandboxes", 1000, 60, False),
    ("gary", "/gary/health/live", 100, 60, True),
    ("gary", "/gary/api/auth/login", 10, 3600, True),
    ("gary", "/gary/api/endpoints/status", 100, 3600, True),
    ("gary", "/gary/api/monitoring/health", 500, 3600, True),
    ("gary", "/gary/api/tasks", 1000, 3600, True),
    ("openai", "/v1/models", 1000, 60, False),
]


@pytest.fixture
async def client(data_dir: Path) -> Any:
    async with client_for(create_app(platform=Platform.build(make_settings(data_dir)))) as http:
        yield http


@pytest.mark.parametrize(("dialect", "path", "limit", "window", "window_header"), DEFAULTS)
async def test_every_response_carries_the_documented_headers(
    client: httpx.AsyncClient, dialect: str, path: str, limit: int, window: int, window_header: bool
) -> None:
    remaining = []
    # the window opens with the first request: each reset is a window after it, however long
    # the three requests take on a loaded machine
    started = time.time()
    for _ in range(3):
        # success or not (404, 401, 422…), every response says where the caller stands
        response = await client.get(path)
        headers = limit_headers(response)
        assert headers["x-ratelimit-limit"] == str(limit)
        reset = int(headers["x-ratelimit-reset"])
        assert started + window - 1 <= reset <= time.time() + window + 1
        if window_header:
            assert headers["x-ratelimit-window"] == str(window)
        else:
            assert "x-ratelimit-window" not in headers
        remaining.append(int(headers["x-ratelimit-remaining"]))
    assert remaining == [limit - 1, limit - 2, limit - 3]


def _podplay(body: dict[str, Any], response: httpx.Response) -> None:
    assert set(body) == {
        "success",
        "error",
        "error_code",
        "message_id",
        "details",
        "request_id",
        "timestamp",
    }
    assert body["success"] is False
    assert body["error"] == "Rate limit exceeded"
    assert body["error_code"] == "RATE_LIMITED"
    assert body["details"]["limit"] == 2
    assert body["details"]["window"] == "1 minute"
    assert ISO_MS.match(body["details"]["reset_at"])
    assert ISO_MS.match(body["timestamp"])
    assert body["request_id"] == response.headers["x-request-id"]


def _madace(body: dict[str, Any], response: httpx.Response) -> None:
    assert body["error"] == "INSUFFICIENT_QUOTA"  # seed 001's only 429 code
    assert body["message"] == "Rate limit exceeded"
    assert isinstance(body["details"], str)
    assert "limit: 2" in body["details"]
    assert isinstance(body["timestamp"], int)
    assert body["timestamp"] > 1_600_000_000_000
    assert body["request_id"] == response.headers["x-request-id"]


def _panthers(body: dict[str, Any], response: httpx.Response) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == "RATE_LIMITED"
    assert error["message"] == "Rate limit exceeded"
    assert error["details"]["limit"] == 2
    assert error["details"]["window_seconds"] == 60
    assert error["details"]["reset_at"] == int(response.headers["x-ratelimit-reset"])
    assert error["details"]["request_id"] == response.headers["x-request-id"]


def _metamorph(body: dict[str, Any], response: httpx.Response) -> None:
    assert body["error"] == "Rate limit exceeded"
    assert body["code"] == "RATE_LIMIT_REACHED"  # seed 003: 429 `*_LIMIT_REACHED`
    assert "limit: 2" in body["details"]
    assert body["request_id"] == response.headers["x-request-id"]


def _gary(body: dict[str, Any], response: httpx.Response) -> None:
    # seed 004: {"error": "Rate limit exceeded", "code": "RATE_LIMIT_EXCEEDED", "retry_after"}
    assert body["error"] == "Rate limit exceeded"
    assert body["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["retry_after"] == int(response.headers["retry-after"])
    assert body["details"]["limit"] == 2
    assert body["details"]["window_seconds"] == 60
    assert ISO_MS.match(body["timestamp"])
    assert body["request_id"] == response.headers["x-request-id"]


def _openai(body: dict[str, Any], response: httpx.Response) -> None:
    assert body == {
        "error": {
            "message": "Rate limit exceeded",
            "type": "requests",  # what OpenAI's API answers for a rate limit
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


ENVELOPES: list[tuple[str, str, str, bool, Callable[[dict[str, Any], httpx.Response], None]]] = [
    ("podplay.health", "/podplay/api/health", "podplay", True, _podplay),
    ("madace.anonymous", "/madace/api/health", "madace", False, _madace),
    ("panthers.other", "/panthers/deployments-not-here", "panthers", False, _panthers),
    ("metamorph.default", "/metamorph/api/sandboxes", "metamorph", False, _metamorph),
    ("gary.health", "/gary/health", "gary", True, _gary),
    ("openai.default", "/v1/models", "openai", False, _openai),
]


@pytest.mark.parametrize(
    ("category", "path", "dialect", "window_header", "check"),
    ENVELOPES,
    ids=[entry[2] for entry in ENVELOPES],
)
async def test_over_the_limit_is_429_in_the_dialects_envelope(
    data_dir: Path,
    category: str,
    path: str,
    dialect: str,
    window_header: bool,
    check: Callable[[dict[str, Any], httpx.Response], None],
) -> None:
    settings = make_settings(data_dir, rate_limits={category: "2/minute"})
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        for _ in range(2):
            assert (await client.get(path)).status_code != 429
        started = time.time()
        response = await client.get(path)
        assert response.status_code == 429
        assert response.headers["content-type"] == "application/json"
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 62
        headers = limit_headers(response)
        assert headers["x-ratelimit-limit"] == "2"
        assert headers["x-ratelimit-remaining"] == "0"
        reset = int(headers["x-ratelimit-reset"])
        assert started < reset <= started + 62
        assert abs(reset - (started + retry_after)) <= 2
        assert ("x-ratelimit-window" in headers) is window_header
        assert response.headers["x-api-version"]  # the rest of the stack still answers
        check(response.json(), response)
        # refusals are not counted: still refused, still 2 in the window
        again = await client.get(path)
        assert again.status_code == 429


async def test_each_credential_has_its_own_counter(data_dir: Path) -> None:
    settings = make_settings(data_dir, rate_limits={"podplay.health": "2/minute"})
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        path = "/podplay/api/health"
        alice = {"Authorization": "Bearer podplay_api_alice-not-real"}
        bob = {"Authorization": "Bearer podplay_api_bob-not-real"}
        cookie = {"Cookie": "session=browser-session-not-real"}
        assert [(await client.get(path, headers=alice)).status_code for _ in range(3)][-1] == 429
        # Bob, a browser session and an anonymous caller each count on their own (the made-up
        # credentials are then refused, 401, but counted apart before that)
        for headers, status in ((bob, 401), (cookie, 401), ({}, 200)):
            first = await client.get(path, headers=headers)
            assert first.status_code == status, headers
            assert first.headers["x-ratelimit-remaining"] == "1"
        assert (await client.get(path, headers=alice)).status_code == 429


async def test_credential_issuing_routes_count_by_address(data_dir: Path) -> None:
    # a made-up credential must not buy a fresh counter for password guessing
    settings = make_settings(
        data_dir, rate_limits={"gary.auth": "2/hour", "panthers.auth": "2/minute"}
    )
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        for path in ("/gary/api/auth/login", "/panthers/auth/verify"):
            statuses = [
                (
                    await client.post(
                        path, json={}, headers={"Authorization": f"Bearer made-up-{n}"}
                    )
                ).status_code
                for n in range(3)
            ]
            assert 429 not in statuses[:2], (path, statuses)
            assert statuses[2] == 429, (path, statuses)


async def test_burst_and_hourly_limits_both_apply(data_dir: Path) -> None:
    # podplay chat is "1000/hour;50/minute"; here 4 an hour with a burst of 2 in 5 seconds
    # (a burst of 2 a second was missed when the loaded CI machine took a second for three
    # requests: the window must outlast them)
    settings = make_settings(data_dir, rate_limits={"podplay.chat": "4/hour;2/5 seconds"})
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        path = "/podplay/api/chat/history"
        first = await client.get(path)
        assert limit_headers(first)["x-ratelimit-window"] == "5"  # the burst is the closer
        await client.get(path)
        burst = await client.get(path)
        assert burst.status_code == 429
        assert burst.json()["details"]["window"] == "5 seconds"
        assert burst.headers["x-ratelimit-window"] == "5"

        await _sleep_past(int(burst.headers["x-ratelimit-reset"]))
        third = await client.get(path)
        assert third.status_code != 429
        # one left this hour, one left in the burst: a tie, told for the longer window
        headers = limit_headers(third)
        assert headers["x-ratelimit-limit"] == "4"
        assert headers["x-ratelimit-remaining"] == "1"
        assert headers["x-ratelimit-window"] == "3600"
        await client.get(path)
        await _sleep_past(int(burst.headers["x-ratelimit-reset"]) + 1)
        hourly = await client.get(path)
        assert hourly.status_code == 429
        assert hourly.json()["details"]["limit"] == 4
        assert hourly.json()["details"]["window"] == "1 hour"
        assert hourly.headers["x-ratelimit-window"] == "3600"
        assert int(hourly.headers["retry-after"]) > 3500


async def _sleep_past(epoch_s: int) -> None:
    await asyncio.sleep(max(0.0, epoch_s - time.time()) + 0.05)


async def test_turned_off_by_setting(data_dir: Path) -> None:
    settings = make_settings(
        data_dir, rate_limits_enabled=False, rate_limits={"podplay.health": "1/hour"}
    )
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        for _ in range(3):
            response = await client.get("/podplay/api/health")
            assert response.status_code == 200
            assert not limit_headers(response)


async def test_a_dialect_mounted_at_the_root_shares_its_counters(data_dir: Path) -> None:
    settings = make_settings(
        data_dir, root_dialect="podplay", rate_limits={"podplay.health": "3/minute"}
    )
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        assert (await client.get("/podplay/api/health")).headers["x-ratelimit-remaining"] == "2"
        assert (await client.get("/api/health")).headers["x-ratelimit-remaining"] == "1"


async def test_an_unreachable_storage_lets_requests_through(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="menagerie.core.ops.ratelimit")
    platform = Platform.build(make_settings(data_dir, rate_limits={"podplay.health": "1/hour"}))
    platform.rate_limiter = RateLimiter(UNREACHABLE_REDIS, overrides={"podplay.health": "1/hour"})
    async with client_for(create_app(platform=platform)) as client:
        for _ in range(3):
            response = await client.get("/podplay/api/health")
            assert response.status_code == 200
            assert not limit_headers(response)  # nothing counted, so no numbers promised
    warnings = [r for r in caplog.records if "not rate limited" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per request


def test_a_bad_override_stops_the_build(data_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"podplay\.chat"):
        Platform.build(make_settings(data_dir, rate_limits={"podplay.chat": "lots/hour"}))


def test_an_unknown_category_is_reported(data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="menagerie.http.ratelimit")
    create_app(
        platform=Platform.build(make_settings(data_dir, rate_limits={"gary.chat": "1/hour"}))
    )
    assert any("gary.chat" in r.getMessage() for r in caplog.records)
