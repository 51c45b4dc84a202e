"""Crazy Gary's error envelope: `{error, code, details, timestamp, request_id}`.

`code` holds only the nine codes of seed 004's "Common Error Codes" table. Kinds the table
has no word for borrow the nearest one (docs/contract.md, "Crazy Gary", lists each choice);
the precise reason always travels in `details.reason`, so nothing is lost.
"""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.core.clock import iso, utcnow
from menagerie.http.errors import ErrorEnvelope, HttpStatusError, retry_after_s

CLIENT = "VALIDATION_ERROR"  # "Request data validation failed: check request format"
SERVER = "ENDPOINT_UNAVAILABLE"  # "not available: try a different model or wait"


class GaryEnvelope(ErrorEnvelope):
    codes = {
        E.Invalid: CLIENT,
        # a path naming nothing the caller can see, or no such route: the request is at fault
        E.NotFound: CLIENT,
        E.MethodNotAllowed: CLIENT,
        E.TooLarge: CLIENT,
        # the seed's 409 is "Resource already exists"; other conflicts are refused requests
        E.Conflict: CLIENT,
        E.TokenExpired: "TOKEN_EXPIRED",
        E.Unauthorized: "AUTH_REQUIRED",
        E.Forbidden: "INSUFFICIENT_PERMISSIONS",
        E.RateLimited: "RATE_LIMIT_EXCEEDED",
        E.QuotaExceeded: "RATE_LIMIT_EXCEEDED",
        E.LimitReached: "RATE_LIMIT_EXCEEDED",
        # every server-side failure: the one code whose advice ("wait") fits them all
        E.Unavailable: SERVER,
        E.Timeout: SERVER,
        E.Internal: SERVER,
    }
    reasons = {
        "INVALID_CREDENTIALS": "INVALID_CREDENTIALS",
        "USER_EXISTS": "USER_EXISTS",
        "TASK_NOT_FOUND": "TASK_NOT_FOUND",
        "ENDPOINT_NOT_FOUND": "ENDPOINT_UNAVAILABLE",
        "ENDPOINT_UNAVAILABLE": "ENDPOINT_UNAVAILABLE",
    }
    fallback_code = SERVER

    def code_for(self, error: E.MenagerieError) -> str:
        if isinstance(error, HttpStatusError):  # a framework status no kind covers (406, 415 …)
            return SERVER if error.status >= 500 else CLIENT
        return super().code_for(error)

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
        reason = self.reason_of(error, code)
        if reason is not None:
            details["reason"] = reason
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
