"""Secret Panthers' error envelope: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.http.errors import ErrorEnvelope

# the codes seed 002 documents; a more specific code core raised (NONCE_USED, SESSION_REVOKED…)
# is answered as the documented code of its kind and travels in `details.reason`
DOCUMENTED_CODES = frozenset(
    {
        "UNAUTHORIZED",
        "FORBIDDEN",
        "TOKEN_EXPIRED",
        "INVALID_SIGNATURE",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "CONFLICT",
        "INVALID_REQUEST",
        "MISSING_FIELD",
        "INVALID_FIELD",
        "RATE_LIMITED",
        "QUOTA_EXCEEDED",
        "INTERNAL_ERROR",
        "SERVICE_UNAVAILABLE",
        "TIMEOUT",
    }
)
_STATUS_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    429: "RATE_LIMITED",
    502: "SERVICE_UNAVAILABLE",
    503: "SERVICE_UNAVAILABLE",
    504: "TIMEOUT",
}


class PanthersEnvelope(ErrorEnvelope):
    codes = {
        E.MalformedRequest: "INVALID_REQUEST",
        E.Invalid: "INVALID_FIELD",
        E.NotFound: "NOT_FOUND",
        E.MethodNotAllowed: "INVALID_REQUEST",
        E.Conflict: "CONFLICT",
        E.TokenExpired: "TOKEN_EXPIRED",
        E.Unauthorized: "UNAUTHORIZED",
        E.Forbidden: "FORBIDDEN",
        E.RateLimited: "RATE_LIMITED",
        E.QuotaExceeded: "QUOTA_EXCEEDED",
        E.LimitReached: "QUOTA_EXCEEDED",
        E.TooLarge: "INVALID_REQUEST",
        E.Unavailable: "SERVICE_UNAVAILABLE",
        E.Timeout: "TIMEOUT",
        E.Internal: "INTERNAL_ERROR",
    }

    def code_for(self, error: E.MenagerieError) -> str:
        if isinstance(error, E.Invalid) and error.missing and not error.specific:
            return "MISSING_FIELD"
        code = super().code_for(error)
        if code in DOCUMENTED_CODES:
            return code
        for cls in type(error).__mro__:
            if cls in self.codes:
                return self.codes[cls]
        return _STATUS_CODES.get(self.status_for(error, code), "INTERNAL_ERROR")

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        details: dict[str, Any] = dict(error.details)
        if error.specific and error.reason != code:
            details.setdefault("reason", error.reason)
        if isinstance(error, E.Invalid) and len(error.errors) > 1:
            details["errors"] = error.errors
        if isinstance(error, E.RateLimited):
            details = {
                "limit": error.limit,
                "window_seconds": error.window_seconds,
                "reset_at": int(error.reset_at.timestamp()),
            }
        details["request_id"] = request_id
        return {"error": {"code": code, "message": error.message, "details": details}}
