"""The typed errors core raises; each dialect renders them in its own envelope.

Core never speaks HTTP, so an error carries a *kind* (the class) and a stable
machine code. Dialects map kinds to status codes and may replace generic codes
with their own spelling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class MenagerieError(Exception):
    """Base of every error that core raises on purpose."""

    code: str = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}


class Invalid(MenagerieError):
    """Input that fails validation; names the field, what came and what was expected."""

    code = "INVALID_INPUT"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        received: Any = None,
        expected: str | None = None,
        missing: bool = False,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        merged: dict[str, Any] = {}
        if field is not None:
            merged["field"] = field
            merged["received"] = received
            merged["expected"] = expected
        merged.update(details or {})
        super().__init__(message, code=code, details=merged)
        self.field = field
        self.received = received
        self.expected = expected
        self.missing = missing
        # every individual problem, for dialects that list them all
        self.errors: list[dict[str, Any]] = errors or (
            [{"field": field, "message": message, "received": received, "expected": expected}]
            if field is not None
            else []
        )


class MalformedRequest(Invalid):
    """A body that could not be parsed at all (bad JSON, wrong content)."""

    code = "MALFORMED_REQUEST"


class NotFound(MenagerieError):
    code = "NOT_FOUND"


class RouteNotFound(NotFound):
    """No endpoint answers this method and path."""

    code = "ROUTE_NOT_FOUND"


class MethodNotAllowed(MenagerieError):
    code = "METHOD_NOT_ALLOWED"


class Conflict(MenagerieError):
    code = "CONFLICT"


class Unauthorized(MenagerieError):
    code = "UNAUTHORIZED"


class CredentialsMissing(Unauthorized):
    """No credential was presented at all."""

    code = "CREDENTIALS_MISSING"


class TokenExpired(Unauthorized):
    code = "TOKEN_EXPIRED"


class Forbidden(MenagerieError):
    code = "FORBIDDEN"


class RateLimited(MenagerieError):
    code = "RATE_LIMITED"

    def __init__(
        self, message: str, *, limit: int, window_seconds: int, reset_at: datetime
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.window_seconds = window_seconds
        self.reset_at = reset_at


class QuotaExceeded(MenagerieError):
    code = "QUOTA_EXCEEDED"


class LimitReached(MenagerieError):
    """A resource limit (count, size, tier) is reached."""

    code = "LIMIT_REACHED"


class TooLarge(MenagerieError):
    code = "PAYLOAD_TOO_LARGE"


class Unavailable(MenagerieError):
    """A service Menagerie depends on cannot be reached right now."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, *, service: str, **kwargs: Any) -> None:
        details = {"service": service, **kwargs.pop("details", {})}
        super().__init__(message, details=details, **kwargs)
        self.service = service


class Timeout(MenagerieError):
    code = "TIMEOUT"


class Internal(MenagerieError):
    """An unexpected failure; its message is safe to show, the cause is only logged."""

    code = "INTERNAL_ERROR"
