"""Metamorph's error envelope: `{"error": message, "code", "details"}` (`MISSING_NAME` …)."""

from __future__ import annotations

import re
from typing import Any

from menagerie.core import errors as E
from menagerie.http.errors import ErrorEnvelope


def _constant(field: str) -> str:
    """`sandboxId` / `config.name` -> `SANDBOX_ID` / `CONFIG_NAME`."""
    spaced = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", field)
    return re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").upper() or "REQUEST"


class MetamorphEnvelope(ErrorEnvelope):
    codes = {
        E.MalformedRequest: "INVALID_JSON",
        E.NotFound: "NOT_FOUND",
        E.MethodNotAllowed: "METHOD_NOT_ALLOWED",
        E.Conflict: "CONFLICT",
        E.CredentialsMissing: "MISSING_TOKEN",
        E.Unauthorized: "INVALID_TOKEN",
        E.Forbidden: "FORBIDDEN",
        E.RateLimited: "RATE_LIMIT_REACHED",
        E.QuotaExceeded: "QUOTA_LIMIT_REACHED",
        E.LimitReached: "LIMIT_REACHED",
        E.TooLarge: "PAYLOAD_TOO_LARGE",
        E.Unavailable: "SERVICE_UNAVAILABLE",
        E.Timeout: "TIMEOUT",
        E.Internal: "INTERNAL_ERROR",
    }

    def code_for(self, error: E.MenagerieError) -> str:
        if (
            isinstance(error, E.Invalid)
            and not isinstance(error, E.MalformedRequest)
            and not error.specific
        ):
            field = _constant(error.field or "request")
            return f"MISSING_{field}" if error.missing else f"INVALID_{field}"
        return super().code_for(error)

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"error": error.message, "code": code}
        if isinstance(error, E.Invalid) and error.errors:
            body["details"] = "; ".join(
                f"{p['field']}: {p.get('message', 'invalid')}" for p in error.errors
            )
        elif error.details:
            body["details"] = ", ".join(f"{k}: {v}" for k, v in error.details.items())
        body["request_id"] = request_id
        return body
