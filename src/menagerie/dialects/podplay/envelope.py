"""PodPlay's error envelope: `{success: false, error, error_code, details, request_id, …}`."""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.core.clock import iso, utcnow
from menagerie.http.errors import ErrorEnvelope


class PodPlayEnvelope(ErrorEnvelope):
    codes = {
        E.Invalid: "INVALID_INPUT",
        E.NotFound: "RESOURCE_NOT_FOUND",
        E.MethodNotAllowed: "METHOD_NOT_ALLOWED",
        E.Unauthorized: "AUTHENTICATION_REQUIRED",
        E.Forbidden: "FORBIDDEN",
        E.Conflict: "CONFLICT",
        E.RateLimited: "RATE_LIMITED",
        E.QuotaExceeded: "INSUFFICIENT_QUOTA",
        E.LimitReached: "LIMIT_EXCEEDED",
        E.TooLarge: "PAYLOAD_TOO_LARGE",
        E.Unavailable: "SERVICE_UNAVAILABLE",
        E.Timeout: "TIMEOUT",
        E.Internal: "INTERNAL_ERROR",
    }
    # a body that fails its schema is 422 "Validation failed"; unparseable input stays 400
    statuses = {E.MalformedRequest: 400, E.Invalid: 422}

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        details: dict[str, Any] = dict(error.details)
        message = error.message
        if isinstance(error, E.Invalid) and not isinstance(error, E.MalformedRequest):
            message = "Validation failed"
            details.setdefault("message", error.message)
        if isinstance(error, E.RateLimited):
            details = {
                "limit": error.limit,
                "window": _window_text(error.window_seconds),
                "reset_at": iso(error.reset_at),
            }
        return {
            "success": False,
            "error": message,
            "error_code": code,
            "details": details,
            "request_id": request_id,
            "timestamp": iso(utcnow()),
        }


def _window_text(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds} seconds"
