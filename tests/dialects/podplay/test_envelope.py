"""PodPlay's envelope answers only seed 000's codes; the precise reason rides in details."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from menagerie.core import errors as E
from menagerie.core.llm.errors import (
    ProviderAuthFailed,
    ProviderQuotaExhausted,
    ProviderUnavailable,
)
from menagerie.dialects.podplay.envelope import PodPlayEnvelope
from tests.contract import seeds

SEED_CODES = seeds.error_codes("000", "Common Error Codes")
ENVELOPE = PodPlayEnvelope()

# each core kind, the code docs/contract.md chose for it, its status and its reason
CASES = [
    (E.Invalid("bad", field="message"), "INVALID_INPUT", 422, None),
    (E.MalformedRequest("not json"), "INVALID_INPUT", 400, "MALFORMED_REQUEST"),
    (
        E.NotFound("gone", reason="SESSION_NOT_FOUND"),
        "RESOURCE_NOT_FOUND",
        404,
        "SESSION_NOT_FOUND",
    ),
    (E.RouteNotFound("no route"), "RESOURCE_NOT_FOUND", 404, "ROUTE_NOT_FOUND"),
    (E.MethodNotAllowed("no"), "INVALID_INPUT", 405, "METHOD_NOT_ALLOWED"),
    (E.Unauthorized("who"), "AUTHENTICATION_REQUIRED", 401, "UNAUTHORIZED"),
    (
        E.Forbidden("admin", reason="ADMIN_REQUIRED"),
        "AUTHENTICATION_REQUIRED",
        403,
        "ADMIN_REQUIRED",
    ),
    (E.Conflict("dup", reason="ALREADY_INSTALLED"), "INVALID_INPUT", 409, "ALREADY_INSTALLED"),
    (E.QuotaExceeded("out"), "INSUFFICIENT_QUOTA", 429, "QUOTA_EXCEEDED"),
    (
        E.LimitReached("max", reason="INSTALLATION_LIMIT"),
        "INSUFFICIENT_QUOTA",
        429,
        "INSTALLATION_LIMIT",
    ),
    (E.TooLarge("big", reason="MESSAGE_TOO_LONG"), "INVALID_INPUT", 413, "MESSAGE_TOO_LONG"),
    (E.Unavailable("down", service="db"), "SERVICE_UNAVAILABLE", 503, None),
    (E.Timeout("slow"), "SERVICE_UNAVAILABLE", 504, "TIMEOUT"),
    (E.Internal("oops"), "SERVICE_UNAVAILABLE", 500, "INTERNAL_ERROR"),
    (
        E.Unavailable("offline", service="github-mcp", reason="MCP_SERVER_OFFLINE"),
        "MCP_SERVER_OFFLINE",
        503,
        None,
    ),
    (E.Timeout("no answer", reason="TOOL_TIMEOUT"), "MCP_SERVER_OFFLINE", 504, "TOOL_TIMEOUT"),
    (
        E.Invalid("bad config", reason="INVALID_CONFIGURATION"),
        "CONFIGURATION_ERROR",
        422,
        "INVALID_CONFIGURATION",
    ),
    (ProviderAuthFailed("key", provider="openai"), "CONFIGURATION_ERROR", 502, "INVALID_API_KEY"),
    (ProviderQuotaExhausted("credit", provider="openai"), "INSUFFICIENT_QUOTA", 429, None),
    (
        ProviderUnavailable("5xx", provider="openai"),
        "SERVICE_UNAVAILABLE",
        502,
        "PROVIDER_UNAVAILABLE",
    ),
]


def test_every_code_is_the_seeds() -> None:
    assert ENVELOPE.vocabulary() <= SEED_CODES


@pytest.mark.parametrize(("error", "code", "status", "reason"), CASES)
def test_each_kind_renders_a_listed_code(
    error: E.MenagerieError, code: str, status: int, reason: str | None
) -> None:
    response = ENVELOPE.render(error, "req_test")
    assert response.status_code == status
    body = json.loads(bytes(response.body))
    assert body["error_code"] == code
    assert body["error_code"] in SEED_CODES
    assert body["details"].get("reason") == reason
    assert body["success"] is False
    assert body["request_id"] == "req_test"


def test_rate_limit_example_shape() -> None:
    error = E.RateLimited(
        "slow down", limit=100, window_seconds=3600, reset_at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    body = ENVELOPE.body(error, code="RATE_LIMITED", status=429, request_id="req_x")
    assert body["details"] == {
        "limit": 100,
        "window": "1 hour",
        "reset_at": "2030-01-01T00:00:00.000Z",
    }
