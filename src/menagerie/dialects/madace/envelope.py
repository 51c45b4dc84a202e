"""MADACE's error envelope: `{error: CODE, message, details: string, timestamp: epoch ms}`."""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.core.clock import epoch_ms
from menagerie.core.llm import errors as L
from menagerie.http.errors import ErrorEnvelope


class MadaceEnvelope(ErrorEnvelope):
    codes = {
        E.Invalid: "VALIDATION_ERROR",
        E.NotFound: "NOT_FOUND",
        E.MethodNotAllowed: "METHOD_NOT_ALLOWED",
        E.Unauthorized: "UNAUTHORIZED",
        E.Forbidden: "FORBIDDEN",
        E.Conflict: "CONFLICT",
        E.RateLimited: "RATE_LIMITED",
        E.QuotaExceeded: "INSUFFICIENT_QUOTA",
        E.LimitReached: "LIMIT_REACHED",
        E.TooLarge: "PAYLOAD_TOO_LARGE",
        E.Unavailable: "SERVICE_UNAVAILABLE",
        E.Timeout: "TIMEOUT",
        E.Internal: "INTERNAL_ERROR",
    }
    # provider errors keep their own codes (INVALID_API_KEY, INSUFFICIENT_QUOTA, …, which
    # MADACE's table already lists); an upstream rate limit reaches the caller as one
    statuses = {L.ProviderRateLimited: 429}
    # the chat error table of seed 001
    code_statuses = {
        "SESSION_NOT_FOUND": 404,
        "USER_NOT_FOUND": 404,
        "AGENT_NOT_FOUND": 404,
        "WORKFLOW_NOT_FOUND": 404,
        "CONFIG_NOT_FOUND": 404,
        "MESSAGE_TOO_LONG": 413,
        "CONTEXT_WINDOW_EXCEEDED": 413,
        "MEMORY_QUOTA_EXCEEDED": 413,
        "INVALID_ROLE": 400,
        "INVALID_API_KEY": 401,
        "INSUFFICIENT_QUOTA": 429,
        "STREAM_ERROR": 500,
        "LLM_UNAVAILABLE": 503,
        "MODEL_NOT_READY": 503,
        # POST /api/llm/test: "500 Internal Server Error - Connection failed"
        "CONNECTION_FAILED": 500,
    }

    def headers(self, error: E.MenagerieError) -> dict[str, str]:
        retry_after = error.details.get("retry_after_s")
        if isinstance(error, L.ProviderRateLimited) and isinstance(retry_after, int | float):
            return {"Retry-After": str(max(1, round(retry_after)))}
        return super().headers(error)

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"error": code, "message": error.message}
        details = _details_text(error)
        if details:
            body["details"] = details
        body["timestamp"] = epoch_ms()
        body["request_id"] = request_id
        return body


def _details_text(error: E.MenagerieError) -> str | None:
    """MADACE's `details` is one human-readable string."""
    if isinstance(error, E.Invalid) and error.errors:
        parts = []
        for problem in error.errors:
            expected = problem.get("expected")
            parts.append(
                f"{problem['field']}: {problem.get('message', 'invalid')}"
                + (f" (expected {expected})" if expected and not problem.get("missing") else "")
            )
        return "; ".join(parts)
    if "text" in error.details:
        return str(error.details["text"])
    if error.details:
        return ", ".join(f"{key}: {value}" for key, value in error.details.items())
    return None
