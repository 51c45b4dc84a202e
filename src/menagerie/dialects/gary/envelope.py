"""Crazy Gary's error envelope: `{error, code, details, timestamp, request_id}`."""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.core.clock import iso, utcnow
from menagerie.http.errors import ErrorEnvelope, retry_after_s


class GaryEnvelope(ErrorEnvelope):
    codes = {
        E.Invalid: "VALIDATION_ERROR",
        E.NotFound: "NOT_FOUND",
        E.MethodNotAllowed: "METHOD_NOT_ALLOWED",
        E.Conflict: "CONFLICT",
        E.TokenExpired: "TOKEN_EXPIRED",
        E.Unauthorized: "AUTH_REQUIRED",
        E.Forbidden: "INSUFFICIENT_PERMISSIONS",
        E.RateLimited: "RATE_LIMIT_EXCEEDED",
        E.QuotaExceeded: "QUOTA_EXCEEDED",
        E.LimitReached: "LIMIT_REACHED",
        E.TooLarge: "PAYLOAD_TOO_LARGE",
        E.Unavailable: "SERVICE_UNAVAILABLE",
        E.Timeout: "TIMEOUT",
        E.Internal: "INTERNAL_ERROR",
    }

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        details: dict[str, Any] = dict(error.details)
        if isinstance(error, E.Invalid):
            details = {
                "field": error.field,
                "validation_errors": [
                    f"{p['field']}: {p.get('message', 'invalid')}" for p in error.errors
                ]
                or [error.message],
            }
        body: dict[str, Any] = {
            "error": error.message,
            "code": code,
            "details": details,
            "timestamp": iso(utcnow()),
            "request_id": request_id,
        }
        if isinstance(error, E.RateLimited):
            body["retry_after"] = retry_after_s(error)
        return body
