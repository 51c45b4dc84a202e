"""Secret Panthers' error envelope: `{"error": {"code", "message", "details"}}`.

`code` holds only the codes seed 002 lists under "Error Codes"; the precise core reason
(NONCE_USED, SESSION_REVOKED, NFT_MISMATCH …) travels in `details.reason`.
"""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.core.llm.errors import ProviderError
from menagerie.http.errors import ErrorEnvelope

# a framework error of a status no core kind covers, by its status
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
MISSING_FIELD = "MISSING_FIELD"


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
        # an upstream model that fails is a service of ours that is down, for this client
        ProviderError: "SERVICE_UNAVAILABLE",
        E.Unavailable: "SERVICE_UNAVAILABLE",
        E.Timeout: "TIMEOUT",
        E.Internal: "INTERNAL_ERROR",
    }
    # the core reasons seed 002 has a code of its own for
    reasons = {"INVALID_SIGNATURE": "INVALID_SIGNATURE", "ALREADY_EXISTS": "ALREADY_EXISTS"}

    def code_for(self, error: E.MenagerieError) -> str:
        if isinstance(error, E.Invalid) and error.missing and not error.specific:
            return MISSING_FIELD
        code = super().code_for(error)
        if code == self.fallback_code and not isinstance(error, E.Internal):
            return _STATUS_CODES.get(self.status_for(error, code), code)
        return code

    def vocabulary(self) -> frozenset[str]:
        return super().vocabulary() | {MISSING_FIELD, *_STATUS_CODES.values()}

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        details: dict[str, Any] = dict(error.details)
        reason = self.reason_of(error, code)
        # a kind's own default reason (INVALID_INPUT for INVALID_FIELD) says nothing more
        if reason is not None and (error.specific or type(error) not in self.codes):
            details.setdefault("reason", reason)
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
