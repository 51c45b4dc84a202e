"""Metamorph's error envelope: `{"error": message, "code", "details"}`, codes from seed 003.

Seed 003 lists fixed codes (`MISSING_TOKEN`, `INVALID_TOKEN`, `FORBIDDEN`, `NOT_FOUND`,
`INTERNAL_ERROR`), four patterns (`MISSING_*` and `INVALID_*` for a field, `*_LIMIT_REACHED`,
`*_NOT_CONFIGURED`) and, in its endpoint examples, a few codes of their own
(`INVALID_STATE`, `NO_VERCEL_CONNECTION` …). A core reason becomes the code only when it is
one of those and fits the error's kind; any other reason goes into `details`.
"""

from __future__ import annotations

import re
from typing import Any

from menagerie.core import errors as E
from menagerie.http.errors import ErrorEnvelope

# the pattern each kind's reason must match to be used as the code itself
_PATTERNS: tuple[tuple[type[E.MenagerieError], re.Pattern[str]], ...] = (
    (E.Invalid, re.compile(r"(MISSING|INVALID)_[A-Z0-9_]+")),
    (E.RateLimited, re.compile(r"[A-Z0-9_]+_LIMIT_REACHED")),
    (E.QuotaExceeded, re.compile(r"[A-Z0-9_]+_LIMIT_REACHED")),
    (E.LimitReached, re.compile(r"[A-Z0-9_]+_LIMIT_REACHED")),
    (E.Unavailable, re.compile(r"[A-Z0-9_]+_NOT_CONFIGURED")),
)


def _constant(field: str) -> str:
    """`sandboxId` / `config.name` -> `SANDBOX_ID` / `CONFIG_NAME`."""
    spaced = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", field)
    return re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").upper() or "REQUEST"


class MetamorphEnvelope(ErrorEnvelope):
    codes = {
        E.MalformedRequest: "INVALID_BODY",  # the body is the invalid field
        E.NotFound: "NOT_FOUND",
        # no 405 in seed 003: the request's method is the invalid value (status stays 405)
        E.MethodNotAllowed: "INVALID_METHOD",
        # no 409 in seed 003: the request does not fit the resource's state (status 409)
        E.Conflict: "INVALID_REQUEST",
        E.CredentialsMissing: "MISSING_TOKEN",
        E.Unauthorized: "INVALID_TOKEN",
        E.Forbidden: "FORBIDDEN",
        E.RateLimited: "RATE_LIMIT_REACHED",
        E.QuotaExceeded: "QUOTA_LIMIT_REACHED",
        E.LimitReached: "RESOURCE_LIMIT_REACHED",
        E.TooLarge: "INVALID_BODY_SIZE",  # status 413
        # seed 003's only 503 is `*_NOT_CONFIGURED`; a service that is configured but down
        # is a server error (status 503, the service and reason in details)
        E.Unavailable: "INTERNAL_ERROR",
        E.Timeout: "INTERNAL_ERROR",  # status 504
        E.Internal: "INTERNAL_ERROR",
    }
    # codes seed 003 shows in its endpoint examples, and the refusal at Vercel in its pattern
    reasons = {
        "INVALID_STATE": "INVALID_STATE",
        "NO_VERCEL_CONNECTION": "NO_VERCEL_CONNECTION",
        "ALREADY_RUNNING": "ALREADY_RUNNING",
        "CANNOT_RESTART": "CANNOT_RESTART",
        "COMMAND_NOT_ALLOWED": "COMMAND_NOT_ALLOWED",
        "AUTHORIZATION_DENIED": "INVALID_AUTHORIZATION",
    }

    def code_for(self, error: E.MenagerieError) -> str:
        if error.reason in self.reasons:
            return self.reasons[error.reason]
        if error.specific:
            for kind, pattern in _PATTERNS:
                if isinstance(error, kind) and pattern.fullmatch(error.reason):
                    return error.reason
        if isinstance(error, E.Invalid) and not isinstance(error, E.MalformedRequest):
            field = _constant(error.field or "request")
            return f"MISSING_{field}" if error.missing else f"INVALID_{field}"
        return super().code_for(error)

    def reason_of(self, error: E.MenagerieError, code: str) -> str | None:
        if isinstance(error, E.Invalid) and not error.specific:
            return None  # the code already names the field
        return super().reason_of(error, code)

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"error": error.message, "code": code}
        if isinstance(error, E.LimitReached):
            # seed 003's SANDBOX_LIMIT_REACHED: the count and the limit beside the message
            for key in ("currentCount", "limit"):
                if key in error.details:
                    body[key] = error.details[key]
        parts: list[str] = []
        if isinstance(error, E.Invalid) and error.errors:
            parts += [f"{p['field']}: {p.get('message', 'invalid')}" for p in error.errors]
        elif error.details:
            parts += [f"{k}: {v}" for k, v in error.details.items()]
        reason = self.reason_of(error, code)
        if reason is not None:
            parts.append(f"reason: {reason}")
        if parts:
            body["details"] = "; ".join(parts)
        body["request_id"] = request_id
        return body
