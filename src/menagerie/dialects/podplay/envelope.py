"""PodPlay's error envelope: `{success: false, error, error_code, details, request_id, …}`.

Seed 000 lists nine codes ("Common Error Codes"); every core kind maps onto one of them and
the precise reason travels in `details.reason` (docs/contract.md, "PodPlay", says why each).
"""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.core.clock import iso, utcnow
from menagerie.core.llm.errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderRejected,
)
from menagerie.http.errors import ErrorEnvelope


class PodPlayEnvelope(ErrorEnvelope):
    codes = {
        E.Invalid: "INVALID_INPUT",
        E.NotFound: "RESOURCE_NOT_FOUND",
        # a method the path does not take: the request is malformed, not the resource missing
        E.MethodNotAllowed: "INVALID_INPUT",
        E.Unauthorized: "AUTHENTICATION_REQUIRED",
        # 403: the credential is valid but lacks a role; the remedy is another credential
        E.Forbidden: "AUTHENTICATION_REQUIRED",
        # 409 "Resource conflict (e.g., duplicate name)": the request clashes with what exists
        E.Conflict: "INVALID_INPUT",
        E.RateLimited: "RATE_LIMITED",
        E.QuotaExceeded: "INSUFFICIENT_QUOTA",
        # a plan's count limit (MCP installations …): "wait for quota reset or upgrade plan"
        E.LimitReached: "INSUFFICIENT_QUOTA",
        E.TooLarge: "INVALID_INPUT",
        E.Unavailable: "SERVICE_UNAVAILABLE",
        E.Timeout: "SERVICE_UNAVAILABLE",
        E.Internal: "SERVICE_UNAVAILABLE",
        # upstream model providers: listed before the kinds they also are (MRO order)
        ProviderAuthFailed: "CONFIGURATION_ERROR",
        ProviderQuotaExhausted: "INSUFFICIENT_QUOTA",
        ProviderRateLimited: "RATE_LIMITED",
        ProviderRejected: "INVALID_INPUT",
        ProviderError: "SERVICE_UNAVAILABLE",
    }
    reasons = {
        "MCP_SERVER_OFFLINE": "MCP_SERVER_OFFLINE",
        "TOOL_TIMEOUT": "MCP_SERVER_OFFLINE",  # "MCP server not responding"
        "INVALID_CONFIGURATION": "CONFIGURATION_ERROR",
        "INVALID_CONFIGURATION_SCHEMA": "CONFIGURATION_ERROR",
        "URL_NOT_ALLOWED": "CONFIGURATION_ERROR",
        "WORKSPACE_LIMIT_EXCEEDED": "WORKSPACE_LIMIT_EXCEEDED",
        # the tier's sandbox count: PodPlay's workspaces are sandboxes ("Maximum workspaces
        # reached")
        "SANDBOX_LIMIT_REACHED": "WORKSPACE_LIMIT_EXCEEDED",
    }
    # an unexpected failure: the seed's nearest word is "Service temporarily down"
    fallback_code = "SERVICE_UNAVAILABLE"
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
                "window": window_text(error.window_seconds),
                "reset_at": iso(error.reset_at),
            }
        reason = self.reason_of(error, code)
        if reason is not None:
            details["reason"] = reason
        return {
            "success": False,
            "error": message,
            "error_code": code,
            "details": details,
            "request_id": request_id,
            "timestamp": iso(utcnow()),
            # seed 000's chat error example: a failed request stores no message
            "message_id": None,
        }


def window_text(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds} seconds"
