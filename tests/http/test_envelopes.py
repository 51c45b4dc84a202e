"""Every dialect answers errors in its own envelope: validation, bad JSON, unknown routes,
oversized bodies, core errors and unexpected exceptions. Never a bare 500 or a traceback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.probe_routes import PREFIX, probed_dialects
from tests.utils.server import client_for

BASES = {
    "podplay": "/podplay",
    "madace": "/madace",
    "panthers": "/panthers",
    "metamorph": "/metamorph",
    "gary": "/gary",
    "openai": "/v1",
}


@pytest.fixture
def database_url(tmp_path) -> str:  # envelopes do not depend on the engine
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def probe(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings.model_copy(update={"max_body_bytes": 4096})
    platform = Platform.build(settings)
    async with client_for(create_app(platform=platform, dialects=probed_dialects())) as client:
        yield client


def code_of(dialect: str, body: dict) -> str:
    if dialect == "podplay":
        return body["error_code"]
    if dialect == "madace":
        return body["error"]
    if dialect in ("panthers", "openai"):
        return body["error"]["code"]
    return body["code"]


def assert_shape(dialect: str, body: dict, request_id: str) -> None:
    """The exact top-level shape each seed documents."""
    if dialect == "podplay":
        assert body["success"] is False
        # the union of the seed's two error examples (the chat one carries `message_id`)
        assert set(body) == {
            "success",
            "error",
            "error_code",
            "message_id",
            "details",
            "request_id",
            "timestamp",
        }
        assert body["request_id"] == request_id
        assert body["timestamp"].endswith("Z")
    elif dialect == "madace":
        assert {"error", "message", "timestamp"} <= set(body)
        assert isinstance(body["timestamp"], int)  # epoch milliseconds
        assert isinstance(body.get("details", ""), str)
    elif dialect == "panthers":
        assert set(body) == {"error"}
        assert {"code", "message", "details"} <= set(body["error"])
    elif dialect == "metamorph":
        assert isinstance(body["error"], str)
        assert isinstance(body["code"], str)
        assert isinstance(body.get("details", ""), str)
    elif dialect == "gary":
        assert {"error", "code", "details", "timestamp", "request_id"} <= set(body)
        assert body["request_id"] == request_id
    elif dialect == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}


UNKNOWN_ROUTE = {
    "podplay": "RESOURCE_NOT_FOUND",
    "madace": "NOT_FOUND",
    "panthers": "NOT_FOUND",
    "metamorph": "NOT_FOUND",
    # Crazy Gary's nine codes have no "not found" but TASK_NOT_FOUND: the request is at fault
    "gary": "VALIDATION_ERROR",
    "openai": "unknown_url",
}


@pytest.mark.parametrize("dialect", list(BASES))
async def test_unknown_route(probe: httpx.AsyncClient, dialect: str) -> None:
    response = await probe.get(f"{BASES[dialect]}/no/such/thing")
    assert response.status_code == 404
    body = response.json()
    assert code_of(dialect, body) == UNKNOWN_ROUTE[dialect]
    assert_shape(dialect, body, response.headers["x-request-id"])


# (status, code) for a body that is valid JSON but misses a required field
MISSING_FIELD = {
    "podplay": (422, "INVALID_INPUT"),
    "madace": (400, "VALIDATION_ERROR"),
    "panthers": (400, "MISSING_FIELD"),
    "metamorph": (400, "MISSING_COUNT"),
    "gary": (400, "VALIDATION_ERROR"),
    "openai": (400, "missing_required_parameter"),
}


@pytest.mark.parametrize("dialect", list(BASES))
async def test_missing_field_names_the_field(probe: httpx.AsyncClient, dialect: str) -> None:
    response = await probe.post(f"{BASES[dialect]}{PREFIX}/echo", json={"message": "hi"})
    status, code = MISSING_FIELD[dialect]
    assert response.status_code == status
    body = response.json()
    assert code_of(dialect, body) == code
    assert_shape(dialect, body, response.headers["x-request-id"])
    assert "count" in response.text


async def test_podplay_validation_details(probe: httpx.AsyncClient) -> None:
    response = await probe.post(f"/podplay{PREFIX}/echo", json={"message": "", "count": 1})
    body = response.json()
    assert response.status_code == 422
    assert body["error"] == "Validation failed"
    assert body["details"]["field"] == "message"
    assert body["details"]["received"] == ""
    assert body["details"]["expected"]


async def test_gary_validation_lists_every_problem(probe: httpx.AsyncClient) -> None:
    response = await probe.post(f"/gary{PREFIX}/echo", json={"message": "", "count": "many"})
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    problems = body["details"]["validation_errors"]
    assert len(problems) == 2
    assert any(p.startswith("message") for p in problems)
    assert any(p.startswith("count") for p in problems)


MALFORMED = {
    "podplay": (400, "INVALID_INPUT"),
    "madace": (400, "VALIDATION_ERROR"),
    "panthers": (400, "INVALID_REQUEST"),
    "metamorph": (400, "INVALID_BODY"),  # the seed's INVALID_* pattern
    "gary": (400, "VALIDATION_ERROR"),
    "openai": (400, None),  # OpenAI answers a body it cannot parse with `"code": null`
}


@pytest.mark.parametrize("dialect", list(BASES))
async def test_malformed_json(probe: httpx.AsyncClient, dialect: str) -> None:
    response = await probe.post(
        f"{BASES[dialect]}{PREFIX}/echo",
        content=b'{"message": "hi", "count": ',
        headers={"content-type": "application/json"},
    )
    status, code = MALFORMED[dialect]
    assert response.status_code == status
    assert code_of(dialect, response.json()) == code
    assert_shape(dialect, response.json(), response.headers["x-request-id"])


@pytest.mark.parametrize("dialect", list(BASES))
async def test_a_body_that_is_not_json_is_malformed(probe: httpx.AsyncClient, dialect: str) -> None:
    response = await probe.post(
        f"{BASES[dialect]}{PREFIX}/echo",
        content=b'{"message": "hi", "count": 1}',
        headers={"content-type": "text/plain"},
    )
    status, code = MALFORMED[dialect]
    assert response.status_code == status
    assert code_of(dialect, response.json()) == code
    assert_shape(dialect, response.json(), response.headers["x-request-id"])


@pytest.mark.parametrize("dialect", list(BASES))
async def test_oversized_body_is_413_in_envelope(probe: httpx.AsyncClient, dialect: str) -> None:
    big = {"message": "x" * 10_000, "count": 1}
    response = await probe.post(f"{BASES[dialect]}{PREFIX}/echo", json=big)
    assert response.status_code == 413
    assert_shape(dialect, response.json(), response.headers["x-request-id"])


@pytest.mark.parametrize("dialect", list(BASES))
async def test_oversized_streamed_body_without_length(
    probe: httpx.AsyncClient, dialect: str
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"message": "'
        for _ in range(20):
            yield b"y" * 1024
        yield b'", "count": 1}'

    response = await probe.post(
        f"{BASES[dialect]}{PREFIX}/echo",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert_shape(dialect, response.json(), response.headers["x-request-id"])


@pytest.mark.parametrize("dialect", list(BASES))
async def test_unexpected_exception_is_500_without_internals(
    probe: httpx.AsyncClient, dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = await probe.get(f"{BASES[dialect]}{PREFIX}/boom")
    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert code_of(dialect, response.json()) == INTERNAL[dialect]
    rid = response.headers["x-request-id"]
    assert_shape(dialect, response.json(), rid)
    # logged once, with the request id, for the operator
    logged = [r for r in caplog.records if r.name == "menagerie.http"]
    assert logged
    assert getattr(logged[-1], "request_id", None) == rid


# each seed's word for "the server failed": PodPlay and Crazy Gary list no internal error
INTERNAL = {
    "podplay": "SERVICE_UNAVAILABLE",
    "madace": "INTERNAL_ERROR",
    "panthers": "INTERNAL_ERROR",
    "metamorph": "INTERNAL_ERROR",
    "gary": "ENDPOINT_UNAVAILABLE",
    "openai": None,
}

CORE = {
    # name: {dialect: (status, code)}
    "not_found": {"podplay": (404, "RESOURCE_NOT_FOUND"), "gary": (404, "VALIDATION_ERROR")},
    "conflict": {"podplay": (409, "INVALID_INPUT"), "panthers": (409, "CONFLICT")},
    "forbidden": {"gary": (403, "INSUFFICIENT_PERMISSIONS"), "panthers": (403, "FORBIDDEN")},
    "unauthorized": {
        "podplay": (401, "AUTHENTICATION_REQUIRED"),
        "metamorph": (401, "INVALID_TOKEN"),
        "gary": (401, "AUTH_REQUIRED"),
        "panthers": (401, "UNAUTHORIZED"),
        "openai": (401, "invalid_api_key"),
    },
    "expired": {"gary": (401, "TOKEN_EXPIRED"), "panthers": (401, "TOKEN_EXPIRED")},
    "quota": {"podplay": (429, "INSUFFICIENT_QUOTA"), "madace": (429, "INSUFFICIENT_QUOTA")},
    "unavailable": {
        "podplay": (503, "SERVICE_UNAVAILABLE"),
        "panthers": (503, "SERVICE_UNAVAILABLE"),
        "gary": (503, "ENDPOINT_UNAVAILABLE"),
    },
    "agent": {"madace": (404, "AGENT_NOT_FOUND")},
    "too_long": {"madace": (413, "MESSAGE_TOO_LONG")},
    "rate": {
        "podplay": (429, "RATE_LIMITED"),
        "gary": (429, "RATE_LIMIT_EXCEEDED"),
        "panthers": (429, "RATE_LIMITED"),
    },
}


@pytest.mark.parametrize(
    ("name", "dialect"), [(name, dialect) for name, table in CORE.items() for dialect in table]
)
async def test_core_errors_map_to_documented_codes(
    probe: httpx.AsyncClient, name: str, dialect: str
) -> None:
    response = await probe.get(f"{BASES[dialect]}{PREFIX}/raise/{name}")
    status, code = CORE[name][dialect]
    assert response.status_code == status
    assert code_of(dialect, response.json()) == code
    assert_shape(dialect, response.json(), response.headers["x-request-id"])


async def test_rate_limit_bodies(probe: httpx.AsyncClient) -> None:
    podplay = (await probe.get(f"/podplay{PREFIX}/raise/rate")).json()
    assert podplay["details"]["limit"] == 100
    assert podplay["details"]["window"] == "1 hour"
    assert podplay["details"]["reset_at"].endswith("Z")
    gary = await probe.get(f"/gary{PREFIX}/raise/rate")
    assert 1 <= gary.json()["retry_after"] <= 300
    assert gary.headers["retry-after"]


async def test_madace_details_is_a_sentence(probe: httpx.AsyncClient) -> None:
    body = (await probe.post(f"/madace{PREFIX}/echo", json={"count": 1})).json()
    assert body["details"].startswith("message")
